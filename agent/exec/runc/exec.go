package runc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	shoalexec "github.com/shoal/shoal/agent/exec"
)

// Files of an exec's scratch directory, made for each exec and removed after it.
const (
	execProcessFile = "process.json"
	execPIDFile     = "exec.pid" // written by runc once the command runs
	execLogFile     = "runc.log"
)

// Exec runs `runc exec --process` in the foreground, so that runc's exit status is the
// command's. runc hands a detached exec's terminal to a --console-socket, but does not
// wait for a detached exec, so its exit status would be lost; in the foreground runc proxies
// the exec's terminal through its own, which must then be a terminal. An exec with Tty thus
// gives runc one end of a pseudo-terminal pair of ours (raw, so it adds nothing) and copies
// the other end to and from the caller; a resize sets our pair's size and tells runc with
// SIGWINCH, which sets the exec's terminal to it. Without Tty runc's stdin, stdout and stderr
// are pipes to the caller's streams.
func (c *controller) Exec(ctx context.Context, cfg shoalexec.ExecConfig, sio shoalexec.ExecIO) (int, error) {
	stdin := newOnceCloser(sio.Stdin)
	defer stdin.Close()
	if err := checkExecConfig(cfg); err != nil {
		return 0, err
	}
	proc, err := c.execProcess(cfg)
	if errors.Is(err, shoalexec.ErrExecStart) {
		return shoalexec.ExitCannotInvoke, err
	}
	if err != nil {
		return 0, err
	}
	scratch, err := writeExecScratch(proc)
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(scratch)

	pidFile := filepath.Join(scratch, execPIDFile)
	cmd := exec.Command(c.e.opts.Runtime, c.e.runc.args(
		"--log", filepath.Join(scratch, execLogFile), "--log-format", "json",
		"exec", "--process", filepath.Join(scratch, execProcessFile), "--pid-file", pidFile, c.id)...)
	// A session of its own: no signal for the daemon's process group reaches runc.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var wiring execWiring
	if cfg.Tty {
		wiring, err = newTTYWiring(cmd, cfg.ConsoleSize, stdin, sio)
	} else {
		wiring, err = newPipeWiring(cmd, stdin, sio)
	}
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		wiring.abort()
		return 0, fmt.Errorf("start runc exec: %w", err)
	}
	wiring.run(cmd.Process, sio.Resize)
	waitErr := c.waitExec(ctx, cmd, pidFile, sio.Started)
	wiring.finish(stdin, c.e.opts.Clock)
	return c.execResult(ctx, cmd, waitErr, pidFile, filepath.Join(scratch, execLogFile), wiring)
}

// writeExecScratch makes an exec's scratch directory with its process.json in it.
func writeExecScratch(proc specs.Process) (string, error) {
	procJSON, err := json.Marshal(proc)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "shoal-exec-")
	if err != nil {
		return "", fmt.Errorf("exec scratch directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, execProcessFile), procJSON, 0o600); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// waitExec waits for runc exec to return, killing the command when ctx ends, and tells
// started the command's pid before it returns if the command ran.
func (c *controller) waitExec(ctx context.Context, cmd *exec.Cmd, pidFile string, started func(int)) error {
	waitDone, startReported := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(startReported)
		c.reportExecStart(pidFile, started, waitDone)
	}()
	stopKill := context.AfterFunc(ctx, func() { killExec(cmd.Process, pidFile) })
	err := cmd.Wait()
	stopKill()
	close(waitDone)
	<-startReported
	return err
}

// execProcess builds the exec's OCI process from the container's, checking that the
// container runs and, for another user, that the user exists in it.
func (c *controller) execProcess(cfg shoalexec.ExecConfig) (specs.Process, error) {
	switch info := c.e.inspect(c.id); info.State {
	case shoalexec.ContainerRunning:
	case shoalexec.ContainerMissing:
		return specs.Process{}, fmt.Errorf("container %s: %w", c.id, shoalexec.ErrNoContainer)
	default:
		return specs.Process{}, &shoalexec.NotRunningError{ID: c.id}
	}
	dir := c.e.dir(c.id)
	base, err := containerProcess(dir)
	if err != nil {
		return specs.Process{}, err
	}
	var user *execUser
	if cfg.User != "" {
		m, err := readMeta(dir)
		if err != nil {
			return specs.Process{}, err
		}
		u, err := resolveUser(filepath.Join(dir, rootfsDir), cfg.User, m.Groups)
		if err != nil {
			return specs.Process{}, &shoalexec.ExecStartError{Reason: err.Error()}
		}
		user = &u
	}
	return execProcess(base, cfg, user), nil
}

// reportExecStart tells started the command's pid once runc has written it, at the latest
// when runc has returned (done); not at all when the command never ran.
func (c *controller) reportExecStart(pidFile string, started func(int), done <-chan struct{}) {
	if started == nil {
		return
	}
	delay := time.Millisecond
	for {
		if pid := readPID(pidFile); pid > 0 {
			started(pid)
			return
		}
		select {
		case <-done:
			if pid := readPID(pidFile); pid > 0 {
				started(pid)
			}
			return
		case <-c.e.opts.Clock.After(delay):
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// killExec kills the exec's command (runc exec does not pass SIGKILL on), then runc in case
// the command had not started.
func killExec(runc *os.Process, pidFile string) {
	if pid := readPID(pidFile); pid > 0 {
		_ = unix.Kill(pid, unix.SIGKILL)
		return
	}
	_ = runc.Kill()
}

// execResult reads how an exec went: the command's exit status once it had run (runc exits
// with it, 128+n for signal n), or why it could not start.
func (c *controller) execResult(ctx context.Context, cmd *exec.Cmd, waitErr error, pidFile, logFile string, wiring execWiring) (int, error) {
	code := cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return code, fmt.Errorf("runc exec: %w", waitErr)
	}
	if ctx.Err() != nil {
		return code, ctx.Err()
	}
	if readPID(pidFile) > 0 {
		return code, nil
	}
	// runc returned before the command ran.
	if info := c.e.inspect(c.id); info.State != shoalexec.ContainerRunning {
		return code, &shoalexec.NotRunningError{ID: c.id}
	}
	reason := lastRuncError(logFile)
	if reason == "" {
		reason = strings.TrimSpace(wiring.runcErrors())
	}
	if reason == "" {
		reason = fmt.Sprintf("runc exec exited with status %d before the command ran", code)
	}
	return shoalexec.ExecStartExitCode(reason), &shoalexec.ExecStartError{Reason: reason, Reported: wiring.reportsRuncErrors()}
}
