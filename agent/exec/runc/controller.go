package runc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"golang.org/x/sys/unix"

	shoalexec "github.com/shoal/shoal/agent/exec"
)

// killWait is how long Terminate waits for runc's SIGKILL to end a container before it kills
// the container's whole process group (wrapper, runc and init) itself.
const killWait = 5 * time.Second

// controller drives one task's container; the executor's supervisor for the container holds
// the state, so several controllers of one task agree.
type controller struct {
	e    *Executor
	task *swarm.Task
	id   string
	opts ControllerOptions
}

var _ shoalexec.Controller = (*controller)(nil)

func (c *controller) Prepare(ctx context.Context) error {
	if c.e.opts.Images == nil {
		return errors.New("executor has no image store")
	}
	unlock := c.e.lockOp(c.id)
	defer unlock()
	switch info := c.e.inspect(c.id); info.State {
	case shoalexec.ContainerMissing:
	case shoalexec.ContainerBroken:
		// Remains of an interrupted Prepare: clear them and start over.
		if err := c.e.cleanup(ctx, c.id, nil); err != nil {
			return fmt.Errorf("clear remains of container %s: %w", c.id, err)
		}
	default:
		return shoalexec.ErrTaskPrepared
	}
	return c.prepare(ctx)
}

func (c *controller) Start(ctx context.Context) error {
	unlock := c.e.lockOp(c.id)
	defer unlock()
	s, err := c.e.attach(c.id)
	if errors.Is(err, shoalexec.ErrNoContainer) {
		return shoalexec.ErrTaskNotPrepared
	}
	if err != nil {
		return err
	}
	if s.isStarted() || readPID(filepath.Join(s.dir, wrapperPIDFile)) > 0 {
		return shoalexec.ErrTaskStarted
	}
	pid, err := c.e.startWrapper(s.dir, c.id)
	if err != nil {
		return err
	}
	s.watch(pid, true)
	if err := c.waitForStart(ctx, s); err != nil {
		return err
	}
	s.startHealth(c.e.opts.Clock.Now())
	return nil
}

func (c *controller) Wait(ctx context.Context) (shoalexec.ExitStatus, error) {
	s, err := c.e.attach(c.id)
	if err != nil {
		return shoalexec.ExitStatus{}, err
	}
	for {
		if s.hasExited() {
			return s.exitStatus(), nil
		}
		h, changed := s.healthState()
		if h.Status == container.Unhealthy {
			return shoalexec.ExitStatus{}, shoalexec.ErrUnhealthy
		}
		select {
		case <-s.exited:
		case <-changed:
		case <-s.stopped:
			return shoalexec.ExitStatus{}, fmt.Errorf("container %s: %w", c.id, shoalexec.ErrNoContainer)
		case <-ctx.Done():
			return shoalexec.ExitStatus{}, ctx.Err()
		}
	}
}

func (c *controller) Shutdown(ctx context.Context, sig syscall.Signal, grace time.Duration) error {
	s, err := c.e.attach(c.id)
	if errors.Is(err, shoalexec.ErrNoContainer) {
		return nil
	}
	if err != nil {
		return err
	}
	if !s.isStarted() || s.hasExited() {
		return nil
	}
	if sig == 0 {
		sig = syscall.Signal(s.meta.StopSignal)
	}
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	if err := c.e.runc.kill(ctx, c.id, sig); err != nil && !errors.Is(err, errRuncNotRunning) && !errors.Is(err, errRuncNotExist) {
		c.e.opts.Logger.Warn("stop signal", "container", c.id, "signal", sig, "err", err)
	}
	select {
	case <-s.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.e.opts.Clock.After(grace):
	}
	return c.terminate(ctx, s)
}

func (c *controller) Terminate(ctx context.Context) error {
	s, err := c.e.attach(c.id)
	if errors.Is(err, shoalexec.ErrNoContainer) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.terminate(ctx, s)
}

// terminate kills the container and waits for its end. Should runc fail to, it kills the
// wrapper's process group, which holds runc and the container's init.
func (c *controller) terminate(ctx context.Context, s *supervisor) error {
	if !s.isStarted() || s.hasExited() {
		return nil
	}
	if err := c.e.runc.kill(ctx, c.id, syscall.SIGKILL); err != nil && !errors.Is(err, errRuncNotRunning) && !errors.Is(err, errRuncNotExist) {
		c.e.opts.Logger.Warn("kill container", "container", c.id, "err", err)
	}
	select {
	case <-s.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.e.opts.Clock.After(killWait):
	}
	s.mu.Lock()
	s.groupKilled = true
	pgid := s.wrapperPID
	s.mu.Unlock()
	if init := readPID(filepath.Join(s.dir, initPIDFile)); init > 0 && wrapperAlive(pgid, s.dir) {
		_ = unix.Kill(init, unix.SIGKILL)
	}
	if err := unix.Kill(-pgid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill container %s: %w", c.id, err)
	}
	select {
	case <-s.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *controller) Remove(ctx context.Context) error {
	unlock := c.e.lockOp(c.id)
	defer unlock()
	info := c.e.inspect(c.id)
	if info.State == shoalexec.ContainerMissing {
		return nil
	}
	if info.State == shoalexec.ContainerRunning || info.State == shoalexec.ContainerExited {
		s, err := c.e.attach(c.id)
		if err != nil {
			return err
		}
		if err := c.terminate(ctx, s); err != nil {
			return err
		}
	}
	c.e.detach(c.id)
	if err := c.e.cleanup(ctx, c.id, nil); err != nil {
		return fmt.Errorf("remove container %s: %w", c.id, err)
	}
	return nil
}

func (c *controller) Inspect(ctx context.Context) (shoalexec.ContainerInfo, error) {
	return c.e.inspect(c.id), nil
}

func (c *controller) Health() container.Health {
	c.e.mu.Lock()
	s := c.e.supervised[c.id]
	c.e.mu.Unlock()
	if s == nil {
		m, err := readMeta(c.e.dir(c.id))
		if err != nil {
			return container.Health{Status: container.NoHealthcheck}
		}
		return shoalexec.NewHealth(m.Healthcheck)
	}
	h, _ := s.healthState()
	return h
}

func (c *controller) Logs(ctx context.Context, opts shoalexec.LogsOptions, fn func(shoalexec.LogMessage) error) error {
	dir := c.e.dir(c.id)
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("container %s: %w", c.id, shoalexec.ErrNoContainer)
	}
	done := func() bool { return true }
	if opts.Follow {
		s, err := c.e.attach(c.id)
		if err != nil {
			return err
		}
		done = func() bool {
			select {
			case <-s.logsDone:
				return true
			case <-s.stopped:
				return true
			default:
				return false
			}
		}
	}
	return readLogs(ctx, filepath.Join(dir, logFile), c.e.opts.LogMaxFiles, opts, done, c.e.opts.Clock.After, fn)
}

func (c *controller) Close() error { return nil }
