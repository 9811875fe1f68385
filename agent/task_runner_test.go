package agent

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/agent/exec/exectest"
	"github.com/shoal/shoal/internal/clock"
)

// runOneTask runs one task on the fake executor and returns a function that lists
// the states reported so far, in order.
func runOneTask(t *testing.T, fx *exectest.Executor, task *swarm.Task) (states func() []swarm.TaskState) {
	t.Helper()
	w := &Worker{
		cfg:     WorkerConfig{NodeID: "n1", Executor: fx, Clock: clock.Real{}, Logger: slog.New(slog.DiscardHandler)},
		runners: map[string]*taskRunner{},
		pending: map[string]swarm.TaskStatus{},
		wake:    make(chan struct{}, 1),
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := newTaskRunner(w, task)
	done := make(chan struct{})
	go func() { defer close(done); r.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	var seen []swarm.TaskState
	return func() []swarm.TaskState {
		w.statusMu.Lock()
		defer w.statusMu.Unlock()
		if st, ok := w.pending[task.ID]; ok && (len(seen) == 0 || seen[len(seen)-1] != st.State) {
			seen = append(seen, st.State)
		}
		return seen
	}
}

func waitForState(t *testing.T, states func() []swarm.TaskState, want swarm.TaskState) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if s := states(); len(s) > 0 && s[len(s)-1] == want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("task never reported %s; reported %v", want, states())
}

func TestTaskWithHealthCheckIsRunningOnlyOnceHealthy(t *testing.T) {
	fx := exectest.New(clock.Real{})
	fx.SetScript("app:1", exectest.Script{Healthcheck: true})
	task := &swarm.Task{ID: "task1", DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: swarm.TaskStateAssigned},
		Spec: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "app:1"}}}
	states := runOneTask(t, fx, task)
	waitForState(t, states, swarm.TaskStateStarting)
	time.Sleep(3 * healthPoll) // health checks still "starting": not RUNNING yet
	if s := states(); s[len(s)-1] != swarm.TaskStateStarting {
		t.Fatalf("reported %v before the health check passed", s)
	}
	if err := fx.SetHealth("task1", container.Healthy); err != nil {
		t.Fatal(err)
	}
	waitForState(t, states, swarm.TaskStateRunning)
}

func TestTaskWithoutHealthCheckIsRunningOnceStarted(t *testing.T) {
	fx := exectest.New(clock.Real{})
	task := &swarm.Task{ID: "task2", DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: swarm.TaskStateAssigned},
		Spec: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "app:1"}}}
	waitForState(t, runOneTask(t, fx, task), swarm.TaskStateRunning)
}

func TestTaskThatTurnsUnhealthyBeforePassingFails(t *testing.T) {
	fx := exectest.New(clock.Real{})
	fx.SetScript("app:1", exectest.Script{Healthcheck: true})
	task := &swarm.Task{ID: "task3", DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: swarm.TaskStateAssigned},
		Spec: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "app:1"}}}
	states := runOneTask(t, fx, task)
	waitForState(t, states, swarm.TaskStateStarting)
	if err := fx.SetHealth("task3", container.Unhealthy); err != nil {
		t.Fatal(err)
	}
	waitForState(t, states, swarm.TaskStateFailed)
	for _, s := range states() {
		if s == swarm.TaskStateRunning {
			t.Fatalf("an unhealthy task was reported running: %v", states())
		}
	}
}
