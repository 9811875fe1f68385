package daemon

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/agent/exec"
	"github.com/shoal/shoal/api"
	"github.com/shoal/shoal/internal/apierr"
)

// execResizeWait bounds how long a resize waits for its exec to start (Docker waits 10s):
// a client sends the first resize right after the start request.
const execResizeWait = 10 * time.Second

// ExecCreate sets up a command to run in one of this node's running containers.
func (d *Daemon) ExecCreate(ctx context.Context, ref string, req container.ExecCreateRequest) (string, error) {
	c, err := d.findContainer(ctx, ref)
	if err != nil {
		return "", err
	}
	if c.State != exec.ContainerRunning {
		return "", apierr.Conflictf("container %s is not running", c.ID)
	}
	cfg := exec.ExecConfig{Cmd: req.Cmd, Env: req.Env, User: req.User, WorkingDir: req.WorkingDir, Tty: req.Tty}
	if req.Tty && req.ConsoleSize != nil {
		cfg.ConsoleSize = termSize(uint64(req.ConsoleSize[0]), uint64(req.ConsoleSize[1]))
	}
	x, err := d.execs.add(c.ID, cfg, req)
	if err != nil {
		return "", err
	}
	return x.id, nil
}

// ExecStart runs an exec instance in its container (see api.ContainerBackend). An attached
// exec is killed when its client goes away (its output can no longer be sent) or the
// daemon stops; a detached one when the daemon stops.
func (d *Daemon) ExecStart(ctx context.Context, id string, opts api.ExecStartOptions, attach func() (api.ExecStreams, error)) error {
	x, err := d.execs.get(id)
	if err != nil {
		return err
	}
	ctrl, err := d.execController(ctx, x)
	if err != nil {
		return err
	}
	detached := false // a detached exec's goroutine closes ctrl when the exec ends
	defer func() {
		if !detached {
			_ = ctrl.Close()
		}
	}()
	if err := x.claim(); err != nil {
		return err
	}
	if err := d.execs.begin(); err != nil {
		x.end(exec.ExitCannotInvoke, d.cfg.Clock.Now())
		return err
	}
	defer d.execs.end() // a detached exec is counted again by runDetached
	streams, err := attach()
	if err != nil {
		x.end(exec.ExitCannotInvoke, d.cfg.Clock.Now())
		return err
	}
	cfg := x.cfg
	if opts.ConsoleSize != nil && cfg.Tty {
		cfg.ConsoleSize = termSize(uint64(opts.ConsoleSize[0]), uint64(opts.ConsoleSize[1]))
	}
	if opts.Detach {
		detached = true
		return d.startDetached(ctrl, x, cfg)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopOnDaemonEnd := context.AfterFunc(d.lifetime(), cancel)
	defer stopOnDaemonEnd()
	return d.runExec(runCtx, ctrl, x, cfg, execIO(x, streams, cancel))
}

// execController is the controller of the exec's container, which must still run.
func (d *Daemon) execController(ctx context.Context, x *execInstance) (exec.Controller, error) {
	if d.executor == nil {
		return nil, apierr.NotFoundf("No such container: %s", x.containerID)
	}
	ctrl, err := d.executor.Controller(&swarm.Task{ID: x.containerID})
	if err != nil {
		return nil, err
	}
	info, err := ctrl.Inspect(ctx)
	switch {
	case err != nil:
		return nil, err
	case info.State == exec.ContainerMissing:
		return nil, apierr.NotFoundf("No such container: %s", x.containerID)
	case info.State != exec.ContainerRunning:
		return nil, apierr.Conflictf("container %s is not running", x.containerID)
	}
	return ctrl, nil
}

// execIO connects the exec to the streams the client attached, as it asked at create. A
// client that can no longer take output has gone: cancel ends the exec then.
func execIO(x *execInstance, streams api.ExecStreams, cancel context.CancelFunc) exec.ExecIO {
	sio := exec.ExecIO{Resize: x.resize, Started: x.markRunning}
	if x.req.AttachStdin && streams.Stdin != nil {
		sio.Stdin = streams.Stdin
	} else if streams.Stdin != nil {
		_ = streams.Stdin.Close()
	}
	if x.req.AttachStdout && streams.Stdout != nil {
		sio.Stdout = cancelOnWriteError{streams.Stdout, cancel}
	}
	if x.req.AttachStderr && streams.Stderr != nil {
		sio.Stderr = cancelOnWriteError{streams.Stderr, cancel}
	}
	return sio
}

// runExec runs the command to its end and records its exit code. An error the runtime has
// already written to the client's stderr is not returned again for the API to repeat.
func (d *Daemon) runExec(ctx context.Context, ctrl exec.Controller, x *execInstance, cfg exec.ExecConfig, sio exec.ExecIO) error {
	code, err := ctrl.Exec(ctx, cfg, sio)
	var startErr *exec.ExecStartError
	switch {
	case err == nil, ctx.Err() != nil:
		x.end(code, d.cfg.Clock.Now())
		return nil
	case errors.As(err, &startErr):
		x.end(code, d.cfg.Clock.Now())
		if startErr.Reported {
			return nil
		}
		return apierr.Invalidf("%s", err)
	case errors.Is(err, exec.ErrNotRunning):
		x.end(exec.ExitCannotInvoke, d.cfg.Clock.Now())
		return apierr.Conflictf("%s", err)
	case errors.Is(err, exec.ErrNoContainer):
		x.end(exec.ExitCannotInvoke, d.cfg.Clock.Now())
		return apierr.NotFoundf("No such container: %s", x.containerID)
	}
	x.end(exec.ExitCannotInvoke, d.cfg.Clock.Now())
	return err
}

// startDetached runs the exec in the background for the daemon's lifetime and returns once
// the command runs, or with the reason it did not start. It takes ctrl over.
func (d *Daemon) startDetached(ctrl exec.Controller, x *execInstance, cfg exec.ExecConfig) error {
	errc := make(chan error, 1)
	err := d.execs.runDetached(d.lifetime(), func(ctx context.Context) {
		defer ctrl.Close()
		errc <- d.runExec(ctx, ctrl, x, cfg, exec.ExecIO{Resize: x.resize, Started: x.markRunning})
	})
	if err != nil {
		_ = ctrl.Close()
		x.end(exec.ExitCannotInvoke, d.cfg.Clock.Now())
		return err
	}
	<-x.started
	x.mu.Lock()
	ran := x.pid > 0
	x.mu.Unlock()
	if ran {
		return nil
	}
	return <-errc
}

// ExecResize sets a running exec's terminal size, waiting a little for it to start.
func (d *Daemon) ExecResize(ctx context.Context, id string, height, width uint32) error {
	x, err := d.execs.get(id)
	if err != nil {
		return err
	}
	if !x.cfg.Tty {
		return apierr.Invalidf("exec %s has no terminal to resize: create it with Tty", id)
	}
	select {
	case <-x.started:
	case <-ctx.Done():
		return ctx.Err()
	case <-d.cfg.Clock.After(execResizeWait):
		return apierr.Conflictf("exec %s has not started: start it before resizing its terminal", id)
	}
	select {
	case x.resize <- *termSize(uint64(height), uint64(width)):
		return nil
	case <-x.done:
		return apierr.Conflictf("exec %s is not running", id)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ExecInspect describes an exec instance.
func (d *Daemon) ExecInspect(ctx context.Context, id string) (container.ExecInspectResponse, error) {
	x, err := d.execs.get(id)
	if err != nil {
		return container.ExecInspectResponse{}, err
	}
	return x.inspect(), nil
}

// lifetime is the daemon's context: background until Run has set it.
func (d *Daemon) lifetime() context.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx == nil {
		return context.Background()
	}
	return d.ctx
}

// termSize clamps a client's terminal size to what a terminal can have.
func termSize(height, width uint64) *exec.TermSize {
	clamp := func(n uint64) uint16 { return uint16(min(n, 1<<16-1)) }
	return &exec.TermSize{Height: clamp(height), Width: clamp(width)}
}

// cancelOnWriteError is a client stream that ends the exec once it cannot be written.
type cancelOnWriteError struct {
	w      io.Writer
	cancel context.CancelFunc
}

func (c cancelOnWriteError) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil {
		c.cancel()
	}
	return n, err
}
