package update

import (
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func service(image string, uc swarm.UpdateConfig) *swarm.Service {
	replicas := uint64(3)
	started := t0
	return &swarm.Service{
		ID: "svc",
		Spec: swarm.ServiceSpec{
			TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: image}},
			Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
			UpdateConfig: &uc,
		},
		UpdateStatus: &swarm.UpdateStatus{State: swarm.UpdateStateUpdating, StartedAt: &started},
	}
}

func task(id string, slot int, image string, desired, state swarm.TaskState, created, at time.Time) *swarm.Task {
	return &swarm.Task{
		ID: id, Slot: slot, ServiceID: "svc", NodeID: "n1",
		Meta:         swarm.Meta{CreatedAt: created},
		Spec:         swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: image}},
		DesiredState: desired,
		Status:       swarm.TaskStatus{State: state, Timestamp: at},
	}
}

func oldTasks() []*swarm.Task {
	before := t0.Add(-time.Hour)
	return []*swarm.Task{
		task("a", 1, "app:1", swarm.TaskStateRunning, swarm.TaskStateRunning, before, before),
		task("b", 2, "app:1", swarm.TaskStateRunning, swarm.TaskStateRunning, before, before),
		task("c", 3, "app:1", swarm.TaskStateRunning, swarm.TaskStateRunning, before, before),
	}
}

func TestStopFirstReplacesOneSlotAtATime(t *testing.T) {
	svc := service("app:2", swarm.UpdateConfig{Parallelism: 1, Monitor: 5 * time.Second, Order: swarm.UpdateOrderStopFirst})
	step := Plan(Input{Service: svc, Tasks: oldTasks(), Now: t0})
	if len(step.Create) != 1 || step.Create[0].Slot != 1 || step.Create[0].DesiredState != swarm.TaskStateReady {
		t.Fatalf("create = %+v, want one READY replacement for slot 1", step.Create)
	}
	if len(step.Shutdown) != 1 || step.Shutdown[0] != "a" {
		t.Fatalf("shutdown = %v, want [a]", step.Shutdown)
	}
	// The replacement waits until the old task stopped, then starts.
	tasks := oldTasks()
	tasks[0].DesiredState = swarm.TaskStateShutdown
	repl := task("a2", 1, "app:2", swarm.TaskStateReady, swarm.TaskStateAssigned, t0, t0)
	tasks = append(tasks, repl)
	if step := Plan(Input{Service: svc, Tasks: tasks, Now: t0.Add(time.Second)}); len(step.Start) != 0 || len(step.Create) != 0 {
		t.Fatalf("while the old task runs: %+v, want nothing started or created", step)
	}
	tasks[0].Status.State = swarm.TaskStateShutdown
	if step := Plan(Input{Service: svc, Tasks: tasks, Now: t0.Add(2 * time.Second)}); len(step.Start) != 1 || step.Start[0] != "a2" {
		t.Fatalf("after the old task stopped: start = %v, want [a2]", step.Start)
	}
}

func TestStartFirstAndMonitor(t *testing.T) {
	svc := service("app:2", swarm.UpdateConfig{Parallelism: 1, Monitor: 5 * time.Second, Order: swarm.UpdateOrderStartFirst})
	step := Plan(Input{Service: svc, Tasks: oldTasks(), Now: t0})
	if len(step.Create) != 1 || step.Create[0].DesiredState != swarm.TaskStateRunning || len(step.Shutdown) != 0 {
		t.Fatalf("start-first step = %+v, want a running replacement and nothing stopped", step)
	}
	tasks := append(oldTasks(), task("a2", 1, "app:2", swarm.TaskStateRunning, swarm.TaskStateRunning, t0, t0.Add(time.Second)))
	step = Plan(Input{Service: svc, Tasks: tasks, Now: t0.Add(2 * time.Second)})
	if len(step.Shutdown) != 1 || step.Shutdown[0] != "a" {
		t.Fatalf("once the replacement runs: shutdown = %v, want [a]", step.Shutdown)
	}
	// The monitor window is watched in the background: the next slot goes now, and the
	// planner looks again when the window ends.
	if len(step.Create) != 1 || step.Create[0].Slot != 2 || !step.NextAt.Equal(t0.Add(6*time.Second)) {
		t.Fatalf("inside the monitor window: create %+v, next %v; want slot 2 and the window's end", step.Create, step.NextAt)
	}
	var last []*swarm.Task
	for i, id := range []string{"a", "b", "c"} {
		last = append(last, task(id, i+1, "app:2", swarm.TaskStateRunning, swarm.TaskStateRunning, t0, t0.Add(10*time.Second)))
	}
	if step := Plan(Input{Service: svc, Tasks: last, Now: t0.Add(12 * time.Second)}); step.Status != nil {
		t.Fatalf("completed inside the last monitor window: %+v", step.Status)
	}
	if step := Plan(Input{Service: svc, Tasks: last, Now: t0.Add(16 * time.Second)}); step.Status == nil || step.Status.State != swarm.UpdateStateCompleted {
		t.Fatalf("after the monitor window: %+v, want completed", step.Status)
	}
}

func TestFailureActions(t *testing.T) {
	failed := func() []*swarm.Task {
		tasks := oldTasks()
		tasks[0].DesiredState = swarm.TaskStateShutdown
		tasks[0].Status.State = swarm.TaskStateShutdown
		return append(tasks, task("a2", 1, "app:2", swarm.TaskStateShutdown, swarm.TaskStateFailed, t0, t0.Add(time.Second)))
	}
	pause := Plan(Input{Service: service("app:2", swarm.UpdateConfig{Parallelism: 1, FailureAction: swarm.UpdateFailureActionPause}), Tasks: failed(), Now: t0.Add(2 * time.Second)})
	if pause.Status == nil || pause.Status.State != swarm.UpdateStatePaused || len(pause.Create) != 0 {
		t.Fatalf("pause: %+v", pause)
	}
	rb := Plan(Input{Service: service("app:2", swarm.UpdateConfig{Parallelism: 1, FailureAction: swarm.UpdateFailureActionRollback}), Tasks: failed(), Now: t0.Add(2 * time.Second)})
	if !rb.Rollback || rb.Status == nil || rb.Status.State != swarm.UpdateStateRollbackStarted {
		t.Fatalf("rollback: %+v", rb)
	}
	cont := Plan(Input{Service: service("app:2", swarm.UpdateConfig{Parallelism: 1, FailureAction: swarm.UpdateFailureActionContinue}), Tasks: failed(), Now: t0.Add(2 * time.Second)})
	if cont.Status != nil && cont.Status.State == swarm.UpdateStatePaused {
		t.Fatalf("continue paused the update: %+v", cont)
	}
	ratio := Plan(Input{Service: service("app:2", swarm.UpdateConfig{Parallelism: 1, MaxFailureRatio: 0.5}), Tasks: failed(), Now: t0.Add(2 * time.Second)})
	if ratio.Status != nil && ratio.Status.State == swarm.UpdateStatePaused {
		t.Fatalf("1 failure of 3 paused an update allowing a ratio of 0.5: %+v", ratio)
	}
}

func TestCompletionAndDelay(t *testing.T) {
	svc := service("app:2", swarm.UpdateConfig{Parallelism: 1, Delay: 10 * time.Second, Monitor: time.Second})
	var tasks []*swarm.Task
	for i, id := range []string{"a", "b", "c"} {
		tasks = append(tasks, task(id, i+1, "app:2", swarm.TaskStateRunning, swarm.TaskStateRunning, t0, t0.Add(time.Second)))
	}
	done := Plan(Input{Service: svc, Tasks: tasks, Now: t0.Add(time.Minute)})
	if done.Status == nil || done.Status.State != swarm.UpdateStateCompleted {
		t.Fatalf("all current: %+v, want completed", done)
	}
	// Slot 3 still old; slot 2's replacement became running 2s ago: the delay holds.
	tasks[2] = task("c", 3, "app:1", swarm.TaskStateRunning, swarm.TaskStateRunning, t0.Add(-time.Hour), t0.Add(-time.Hour))
	tasks[1].Status.Timestamp = t0.Add(20 * time.Second)
	step := Plan(Input{Service: svc, Tasks: tasks, Now: t0.Add(22 * time.Second)})
	if len(step.Create) != 0 || !step.NextAt.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("during the delay: %+v, want nothing until %v", step, t0.Add(30*time.Second))
	}
	step = Plan(Input{Service: svc, Tasks: tasks, Now: t0.Add(31 * time.Second)})
	if len(step.Create) != 1 || step.Create[0].Slot != 3 {
		t.Fatalf("after the delay: %+v, want slot 3 replaced", step)
	}
}

func TestStopFirstDoesNotWaitForALostNode(t *testing.T) {
	svc := service("app:2", swarm.UpdateConfig{Parallelism: 1, Order: swarm.UpdateOrderStopFirst})
	tasks := oldTasks()
	tasks[0].DesiredState = swarm.TaskStateShutdown // on n1, which is down: it never reports
	tasks = append(tasks, task("a2", 1, "app:2", swarm.TaskStateReady, swarm.TaskStateAssigned, t0, t0))
	tasks[3].NodeID = "n2"
	nodes := []*swarm.Node{{ID: "n1", Status: swarm.NodeStatus{State: swarm.NodeStateDown}}, {ID: "n2", Status: swarm.NodeStatus{State: swarm.NodeStateReady}}}
	if step := Plan(Input{Service: svc, Tasks: tasks, Nodes: nodes, Now: t0}); len(step.Start) != 1 {
		t.Fatalf("start = %v, want the replacement started", step.Start)
	}
}
