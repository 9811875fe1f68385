package orchestrator

import (
	"reflect"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

func TestPlanApply(t *testing.T) {
	tasks := []*swarm.Task{
		{ID: "a", DesiredState: swarm.TaskStateRunning},
		{ID: "b", DesiredState: swarm.TaskStateRunning},
		{ID: "c", DesiredState: swarm.TaskStateRunning},
		{ID: "d", DesiredState: swarm.TaskStateShutdown},
	}
	p := Plan{Create: []swarm.Task{{Slot: 4}}, Shutdown: []string{"a"}, Remove: []string{"b"}, Delete: []string{"d"}}
	got := p.Apply(tasks, func() string { return "new" })
	want := []*swarm.Task{
		{ID: "a", DesiredState: swarm.TaskStateShutdown},
		{ID: "b", DesiredState: swarm.TaskStateRemove},
		{ID: "c", DesiredState: swarm.TaskStateRunning},
		{ID: "new", Slot: 4},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Apply = %+v, want %+v", got, want)
	}
	if tasks[0].DesiredState != swarm.TaskStateRunning {
		t.Fatal("Apply changed its input")
	}
	if p.Empty() || !(Plan{RetryAt: time.Now()}).Empty() {
		t.Fatal("Empty is wrong")
	}
}

func TestPolicyDefaults(t *testing.T) {
	if got, want := policyOf(nil), (restartPolicy{condition: swarm.RestartPolicyConditionAny, delay: 5 * time.Second}); got != want {
		t.Fatalf("policyOf(nil) = %+v, want %+v", got, want)
	}
	d, n, w := time.Second, uint64(3), time.Minute
	got := policyOf(&swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure, Delay: &d, MaxAttempts: &n, Window: &w})
	if want := (restartPolicy{condition: swarm.RestartPolicyConditionOnFailure, delay: d, maxAttempts: n, window: w}); got != want {
		t.Fatalf("policyOf = %+v, want %+v", got, want)
	}
}

func TestLiveAndEnded(t *testing.T) {
	if !Live(&swarm.Task{DesiredState: swarm.TaskStateReady}) || Live(&swarm.Task{DesiredState: swarm.TaskStateShutdown}) {
		t.Fatal("Live is wrong")
	}
	if Ended(&swarm.Task{Status: swarm.TaskStatus{State: swarm.TaskStateRunning}}) || !Ended(&swarm.Task{Status: swarm.TaskStatus{State: swarm.TaskStateRejected}}) {
		t.Fatal("Ended is wrong")
	}
}

func TestHistoryKeepsEnoughForMaxAttempts(t *testing.T) {
	n := uint64(7)
	svc := &swarm.Service{Spec: swarm.ServiceSpec{TaskTemplate: swarm.TaskSpec{RestartPolicy: &swarm.RestartPolicy{MaxAttempts: &n}}}}
	for limit, want := range map[int]int{-1: -1, 0: 8, 5: 8, 10: 10} {
		if got := NewRound(Input{Service: svc, HistoryLimit: limit}).keep; got != want {
			t.Errorf("limit %d with max attempts 7 keeps %d, want %d", limit, got, want)
		}
	}
	if got := NewRound(Input{Service: &swarm.Service{}, HistoryLimit: 0}).keep; got != 1 {
		t.Errorf("limit 0 keeps %d, want 1 (the newest task)", got)
	}
}
