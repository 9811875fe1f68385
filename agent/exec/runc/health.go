package runc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	shoalexec "github.com/shoal/shoal/agent/exec"
)

// maxHealthOutput is how much of a probe's output is kept (docker keeps 4 KiB).
const maxHealthOutput = 4096

// monitorHealth probes the container at the check's interval until it exits or the
// supervisor stops, and records each result with docker's rules (exec.NextHealth).
func (s *supervisor) monitorHealth() {
	hc := s.meta.Healthcheck
	clk := s.e.opts.Clock
	for {
		s.mu.Lock()
		h, startedAt := s.health, s.startedAt
		s.mu.Unlock()
		select {
		case <-s.ctx.Done():
			return
		case <-s.exited:
			return
		case <-clk.After(shoalexec.NextProbe(h, hc, startedAt, clk.Now())):
		}
		r := s.probe(hc)
		if s.hasExited() || s.ctx.Err() != nil {
			// A probe cut short by the container's end says nothing about its health.
			return
		}
		s.setHealth(shoalexec.NextHealth(h, hc, startedAt, r))
	}
}

// probe runs the health command inside the container's namespaces (`runc exec`, with the
// container's user, environment and working directory), and kills it if it outlives the
// check's timeout (wall-clock).
func (s *supervisor) probe(hc *container.HealthConfig) container.HealthcheckResult {
	ctx, cancel := context.WithTimeout(s.ctx, hc.Timeout)
	defer cancel()
	pidFile := filepath.Join(s.dir, healthPIDFile)
	_ = os.Remove(pidFile)
	defer os.Remove(pidFile)
	args := s.e.runc.args(append([]string{"exec", "--pid-file", pidFile, s.id}, shoalexec.HealthArgs(hc)...)...)
	cmd := exec.CommandContext(ctx, s.e.opts.Runtime, args...)
	out := &cappedBuffer{limit: maxHealthOutput}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Cancel = func() error {
		// runc exec does not pass SIGKILL on; kill the probe inside the container directly.
		if pid := readPID(pidFile); pid > 0 {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		return cmd.Process.Kill()
	}
	cmd.WaitDelay = time.Second
	r := container.HealthcheckResult{Start: s.e.opts.Clock.Now()}
	err := cmd.Run()
	r.End = s.e.opts.Clock.Now()
	r.Output = out.String()
	var exitErr *exec.ExitError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		r.ExitCode = -1
		r.Output = fmt.Sprintf("Health check exceeded timeout (%v)", hc.Timeout)
	case err == nil:
		r.ExitCode = 0
	case errors.As(err, &exitErr):
		r.ExitCode = exitErr.ExitCode()
		if r.ExitCode < 0 {
			r.ExitCode = -1
		}
	default:
		r.ExitCode = -1
		r.Output = err.Error()
	}
	return r
}

// setHealth records a new health; when its status changed, it tells OnHealth and then wakes
// waiters, so that a Wait that returns ErrUnhealthy comes after OnHealth heard it.
func (s *supervisor) setHealth(h container.Health) {
	s.mu.Lock()
	changed := h.Status != s.health.Status
	s.health = h
	s.mu.Unlock()
	if !changed {
		return
	}
	s.e.opts.Logger.Info("container health", "container", s.id, "status", h.Status)
	if s.e.opts.OnHealth != nil {
		s.e.opts.OnHealth(s.meta.TaskID, h)
	}
	s.mu.Lock()
	close(s.healthChanged)
	s.healthChanged = make(chan struct{})
	s.mu.Unlock()
}

func (s *supervisor) healthState() (container.Health, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.health, s.healthChanged
}

// cappedBuffer keeps the first limit bytes written to it and drops the rest.
type cappedBuffer struct {
	limit int
	buf   []byte
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *cappedBuffer) String() string { return string(b.buf) }
