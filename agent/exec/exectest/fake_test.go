package exectest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/agent/exec"
	"github.com/shoal/shoal/internal/clock"
)

func task(id, image string) *swarm.Task {
	return &swarm.Task{ID: id, Spec: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: image}}}
}

func start(t *testing.T, e *Executor, tk *swarm.Task) exec.Controller {
	t.Helper()
	c, err := e.Controller(tk)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitAsync runs Wait in the background and hands its result over a channel.
func waitAsync(c exec.Controller) <-chan error {
	ch := make(chan error, 1)
	go func() {
		st, err := c.Wait(context.Background())
		if err == nil {
			err = st.Err()
		}
		ch <- err
	}()
	return ch
}

// parked waits until the fake clock has a timer more than before, i.e. the goroutine under
// test is waiting on it.
func parked(t *testing.T, clk *clock.Fake, n int) {
	t.Helper()
	for i := 0; clk.Waiters() < n; i++ {
		if i > 5000 {
			t.Fatal("nothing waits on the clock")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestScriptedExitOnTheClock(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	e := New(clk)
	e.SetScript("job", Script{RunFor: 10 * time.Second, ExitCode: 3, Output: []string{"hello"}})
	c := start(t, e, task("t1", "job"))
	done := waitAsync(c)
	parked(t, clk, 1)
	clk.Advance(9 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("ended early: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	clk.Advance(time.Second)
	err := <-done
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.Status.Code != 3 {
		t.Fatalf("wait: %v", err)
	}
	var lines []string
	c.Logs(context.Background(), exec.LogsOptions{}, func(m exec.LogMessage) error {
		lines = append(lines, string(m.Line))
		return nil
	})
	if !slices.Equal(lines, []string{"hello\n"}) {
		t.Errorf("logs %q", lines)
	}
}

func TestIdempotentOperations(t *testing.T) {
	e := New(clock.NewFake(time.Unix(0, 0)))
	tk := task("t1", "web")
	c := start(t, e, tk)
	// A second controller of the same task (an agent after a restart) sees the same task.
	c2, _ := e.Controller(tk)
	if err := c2.Prepare(context.Background()); !errors.Is(err, exec.ErrTaskPrepared) {
		t.Errorf("prepare again: %v", err)
	}
	if err := c2.Start(context.Background()); !errors.Is(err, exec.ErrTaskStarted) {
		t.Errorf("start again: %v", err)
	}
	if got := e.Running(); !slices.Equal(got, []string{"t1"}) {
		t.Errorf("running %v", got)
	}
	if err := e.Exit("t1", 0); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Wait(context.Background()); err != nil || st.Code != 0 {
		t.Errorf("wait: %+v %v", st, err)
	}
	if err := c.Remove(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(context.Background()); err != nil {
		t.Errorf("remove again: %v", err)
	}
	if list, _ := e.List(context.Background()); len(list) != 0 {
		t.Errorf("listed after remove: %+v", list)
	}
	ops := []string{}
	for _, call := range e.Calls() {
		ops = append(ops, call.Op)
	}
	if !slices.Equal(ops, []string{"prepare", "start", "prepare", "start", "remove", "remove"}) {
		t.Errorf("calls %v", ops)
	}
}

func TestShutdownGraceOnTheClock(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	e := New(clk)
	e.SetScript("stubborn", Script{IgnoreStop: true})
	c := start(t, e, task("t1", "stubborn"))
	done := make(chan error, 1)
	go func() { done <- c.Shutdown(context.Background(), 0, 10*time.Second) }()
	parked(t, clk, 1)
	clk.Advance(10 * time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st, _ := c.Wait(context.Background()); st.Code != 137 {
		t.Errorf("exit %+v, want killed", st)
	}

	polite := start(t, e, task("t2", "web"))
	if err := polite.Shutdown(context.Background(), 0, time.Hour); err != nil {
		t.Fatal(err)
	}
	if st, _ := polite.Wait(context.Background()); st.Code != 143 {
		t.Errorf("exit %+v, want 143 (SIGTERM)", st)
	}
}

func TestFailuresAndHealth(t *testing.T) {
	e := New(clock.NewFake(time.Unix(0, 0)))
	e.SetScript("missing", Script{PrepareErr: errors.New("No such image: missing")})
	e.SetScript("checked", Script{Healthcheck: true})
	c, _ := e.Controller(task("t1", "missing"))
	if err := c.Prepare(context.Background()); err == nil || err.Error() != "No such image: missing" {
		t.Errorf("prepare: %v", err)
	}
	hc := start(t, e, task("t2", "checked"))
	if h := hc.Health(); h.Status != container.Starting {
		t.Errorf("health %+v", h)
	}
	done := waitAsync(hc)
	e.SetHealth("t2", container.Healthy)
	e.SetHealth("t2", container.Unhealthy)
	if err := <-done; !errors.Is(err, exec.ErrUnhealthy) {
		t.Errorf("wait: %v", err)
	}
	e.KillAll()
	if len(e.Running()) != 0 {
		t.Errorf("running after KillAll: %v", e.Running())
	}
}
