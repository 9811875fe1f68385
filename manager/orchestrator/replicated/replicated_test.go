package replicated

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/manager/orchestrator"
	kit "github.com/shoal/shoal/manager/orchestrator/internal/testkit"
)

const (
	running  = swarm.TaskStateRunning
	shutdown = swarm.TaskStateShutdown
	remove   = swarm.TaskStateRemove
	failed   = swarm.TaskStateFailed
	complete = swarm.TaskStateComplete
	pending  = swarm.TaskStatePending
	starting = swarm.TaskStateStarting
)

var (
	anyPolicy = kit.Policy(swarm.RestartPolicyConditionAny, 5*time.Second, 0, 0)
	tmpl      = kit.Template("sleepy:2", anyPolicy)
	oldTmpl   = kit.Template("sleepy:1", anyPolicy)
)

// want is the part of a plan a case checks: created slots, and IDs per list.
type want struct {
	create   []int
	shutdown []string
	remove   []string
	delete   []string
	retryAt  time.Time
}

func check(t *testing.T, p orchestrator.Plan, w want) {
	t.Helper()
	var slots []int
	for _, c := range p.Create {
		slots = append(slots, c.Slot)
	}
	got := want{create: slots, shutdown: p.Shutdown, remove: p.Remove, delete: p.Delete, retryAt: p.RetryAt}
	norm := func(w *want) {
		for _, s := range []*[]string{&w.shutdown, &w.remove, &w.delete} {
			if len(*s) == 0 {
				*s = nil
			}
		}
		if len(w.create) == 0 {
			w.create = nil
		}
	}
	norm(&got)
	norm(&w)
	if !reflect.DeepEqual(got, w) {
		t.Fatalf("plan:\n got  %+v\n want %+v", got, w)
	}
}

func reconcile(t *testing.T, in orchestrator.Input) orchestrator.Plan {
	t.Helper()
	if in.HistoryLimit == 0 {
		in.HistoryLimit = orchestrator.DefaultHistoryLimit
	}
	p, err := Reconcile(in)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReconcile(t *testing.T) {
	svc3 := kit.Replicated("web", 3, tmpl)
	nodes := kit.Ready("a", "b", "c")
	task := func(id string, slot int, node string, desired, observed swarm.TaskState, created int) *swarm.Task {
		return kit.Task(id, svc3, tmpl, slot, node, desired, observed, created)
	}
	healthy := []*swarm.Task{
		task("t1", 1, "a", running, running, 0),
		task("t2", 2, "b", running, running, 0),
		task("t3", 3, "c", running, running, 0),
	}
	cases := []struct {
		name  string
		svc   *swarm.Service
		nodes []*swarm.Node
		tasks []*swarm.Task
		now   int
		limit int
		want  want
	}{
		{name: "new service fills every slot", svc: svc3, nodes: nodes, want: want{create: []int{1, 2, 3}}},
		{name: "healthy service: nothing to do", svc: svc3, nodes: nodes, tasks: healthy},
		{
			name: "pending and starting tasks count as there",
			svc:  svc3, nodes: nodes,
			tasks: []*swarm.Task{task("t1", 1, "", running, pending, 0), task("t2", 2, "b", running, starting, 0), task("t3", 3, "c", swarm.TaskStateReady, swarm.TaskStateAssigned, 0)},
		},
		{name: "scale up adds the next slots", svc: kit.Replicated("web", 5, tmpl), nodes: nodes, tasks: healthy, want: want{create: []int{4, 5}}},
		{
			name: "scale down removes the slots past the count, tasks not yet running first",
			svc:  kit.Replicated("web", 1, tmpl), nodes: nodes,
			tasks: []*swarm.Task{
				task("t1", 1, "a", running, running, 0),
				task("t2", 2, "b", running, starting, 0),
				task("t3", 3, "c", running, running, 0),
				task("t3-old", 3, "c", shutdown, failed, -10),
				task("t4-stopping", 4, "c", shutdown, running, -10),
			},
			want: want{remove: []string{"t2", "t3"}, delete: []string{"t3-old"}},
		},
		{
			name: "scale to zero",
			svc:  kit.Replicated("web", 0, tmpl), nodes: nodes, tasks: healthy,
			want: want{remove: []string{"t3", "t2", "t1"}},
		},
		{
			name:  "drain moves the node's tasks: shut down, replaced in the same slot, no delay",
			svc:   svc3,
			nodes: []*swarm.Node{kit.Node("a", swarm.NodeStateReady, swarm.NodeAvailabilityDrain, nil), nodes[1], nodes[2]},
			tasks: healthy,
			want:  want{create: []int{1}, shutdown: []string{"t1"}},
		},
		{
			name:  "a task that failed on a drained node is replaced whatever the restart policy",
			svc:   kit.Replicated("web", 1, kit.Template("sleepy:2", kit.Policy(swarm.RestartPolicyConditionNone, time.Minute, 0, 0))),
			nodes: []*swarm.Node{kit.Node("a", swarm.NodeStateReady, swarm.NodeAvailabilityDrain, nil), nodes[1]},
			tasks: []*swarm.Task{kit.Task("t1", svc3, kit.Template("sleepy:2", kit.Policy(swarm.RestartPolicyConditionNone, time.Minute, 0, 0)), 1, "a", running, failed, 0)},
			want:  want{create: []int{1}, shutdown: []string{"t1"}},
		},
		{
			name:  "a down node's tasks are replaced",
			svc:   svc3,
			nodes: []*swarm.Node{nodes[0], kit.Node("b", swarm.NodeStateDown, swarm.NodeAvailabilityActive, nil), nodes[2]},
			tasks: healthy,
			want:  want{create: []int{2}, shutdown: []string{"t2"}},
		},
		{
			name:  "a gone node's tasks are replaced",
			svc:   svc3,
			nodes: nodes[1:],
			tasks: healthy,
			want:  want{create: []int{1}, shutdown: []string{"t1"}},
		},
		{
			name:  "a paused node keeps its tasks",
			svc:   svc3,
			nodes: []*swarm.Node{kit.Node("a", swarm.NodeStateReady, swarm.NodeAvailabilityPause, nil), nodes[1], kit.Node("c", swarm.NodeStateUnknown, swarm.NodeAvailabilityActive, nil)},
			tasks: healthy,
		},
		{
			name: "a failed task waits out the restart delay",
			svc:  svc3, nodes: nodes, now: 12,
			tasks: []*swarm.Task{task("t1", 1, "a", running, failed, 10), healthy[1], healthy[2]},
			want:  want{shutdown: []string{"t1"}, retryAt: kit.At(15)},
		},
		{
			name: "after the delay the slot gets a new task",
			svc:  svc3, nodes: nodes, now: 15,
			tasks: []*swarm.Task{task("t1", 1, "a", shutdown, failed, 10), healthy[1], healthy[2]},
			want:  want{create: []int{1}},
		},
		{
			name: "a task stopped by the cluster is replaced at once",
			svc:  svc3, nodes: nodes, now: 11,
			tasks: []*swarm.Task{task("t1", 1, "a", shutdown, shutdown, 10), healthy[1], healthy[2]},
			want:  want{create: []int{1}},
		},
		{
			name: "restart condition none leaves the slot empty",
			svc:  kit.Replicated("web", 1, kit.Template("sleepy:2", kit.Policy(swarm.RestartPolicyConditionNone, 0, 0, 0))), nodes: nodes, now: 100,
			tasks: []*swarm.Task{kit.Task("t1", svc3, kit.Template("sleepy:2", kit.Policy(swarm.RestartPolicyConditionNone, 0, 0, 0)), 1, "a", running, complete, 10)},
			want:  want{shutdown: []string{"t1"}},
		},
		{
			name: "a slot given up on starts over when the template changes",
			svc:  kit.Replicated("web", 1, kit.Template("sleepy:3", kit.Policy(swarm.RestartPolicyConditionNone, 0, 0, 0))), nodes: nodes, now: 100,
			tasks: []*swarm.Task{kit.Task("t1", svc3, kit.Template("sleepy:2", kit.Policy(swarm.RestartPolicyConditionNone, 0, 0, 0)), 1, "a", shutdown, failed, 10)},
			want:  want{create: []int{1}},
		},
		{
			name: "on-failure does not restart a task that completed",
			svc:  onFailure(1), nodes: nodes, now: 100,
			tasks: []*swarm.Task{kit.Task("t1", svc3, onFailure(1).Spec.TaskTemplate, 1, "a", running, complete, 10)},
			want:  want{shutdown: []string{"t1"}},
		},
		{
			name: "on-failure restarts a task that failed",
			svc:  onFailure(1), nodes: nodes, now: 100,
			tasks: []*swarm.Task{kit.Task("t1", svc3, onFailure(1).Spec.TaskTemplate, 1, "a", running, failed, 10)},
			want:  want{shutdown: []string{"t1"}, create: []int{1}},
		},
		{
			name: "max attempts: two restarts done, the third failure is final",
			svc:  maxAttempts(2, 0), nodes: nodes, now: 100,
			tasks: []*swarm.Task{
				kit.Task("t1", svc3, maxAttempts(2, 0).Spec.TaskTemplate, 1, "a", shutdown, failed, 10),
				kit.Task("t2", svc3, maxAttempts(2, 0).Spec.TaskTemplate, 1, "a", shutdown, failed, 20),
				kit.Task("t3", svc3, maxAttempts(2, 0).Spec.TaskTemplate, 1, "a", running, failed, 30),
			},
			want: want{shutdown: []string{"t3"}},
		},
		{
			name: "max attempts count only restarts of the current template",
			svc:  maxAttempts(2, 0), nodes: nodes, now: 100,
			tasks: []*swarm.Task{
				kit.Task("t1", svc3, oldTmpl, 1, "a", shutdown, failed, 10),
				kit.Task("t2", svc3, maxAttempts(2, 0).Spec.TaskTemplate, 1, "a", shutdown, failed, 20),
				kit.Task("t3", svc3, maxAttempts(2, 0).Spec.TaskTemplate, 1, "a", running, failed, 30),
			},
			want: want{shutdown: []string{"t3"}, create: []int{1}},
		},
		{
			name: "max attempts within a window: older restarts do not count",
			svc:  maxAttempts(1, 15*time.Second), nodes: nodes, now: 100,
			tasks: []*swarm.Task{
				kit.Task("t1", svc3, maxAttempts(1, 15*time.Second).Spec.TaskTemplate, 1, "a", shutdown, failed, 10),
				endedAt(kit.Task("t2", svc3, maxAttempts(1, 15*time.Second).Spec.TaskTemplate, 1, "a", running, failed, 12), 40),
			},
			want: want{shutdown: []string{"t2"}, create: []int{1}},
		},
		{
			name: "duplicates in a slot: the running one stays",
			svc:  svc3, nodes: nodes,
			tasks: []*swarm.Task{healthy[0], healthy[1], healthy[2], task("t1b", 1, "b", running, starting, -5)},
			want:  want{shutdown: []string{"t1b"}},
		},
		{
			name: "a start-first update's pair is left to the updater",
			svc:  svc3, nodes: nodes,
			tasks: []*swarm.Task{kit.Task("t1", svc3, oldTmpl, 1, "a", running, running, 0), task("t1-new", 1, "b", running, starting, 5), healthy[1], healthy[2]},
		},
		{
			name: "once the new task of the pair runs, the old one goes",
			svc:  svc3, nodes: nodes,
			tasks: []*swarm.Task{kit.Task("t1", svc3, oldTmpl, 1, "a", running, running, 0), task("t1-new", 1, "b", running, running, 5), healthy[1], healthy[2]},
			want:  want{shutdown: []string{"t1"}},
		},
		{
			name: "out-of-date tasks are the updater's business",
			svc:  svc3, nodes: nodes,
			tasks: []*swarm.Task{kit.Task("t1", svc3, oldTmpl, 1, "a", running, running, 0), healthy[1], healthy[2]},
		},
		{
			name: "history is trimmed to the limit per slot, oldest first",
			svc:  kit.Replicated("web", 1, tmpl), nodes: nodes, limit: 3,
			tasks: []*swarm.Task{
				task("h1", 1, "a", shutdown, failed, -50), task("h2", 1, "a", shutdown, shutdown, -40),
				task("h3", 1, "a", shutdown, running, -30), // still stopping: kept
				task("h4", 1, "a", shutdown, failed, -20), task("h5", 1, "a", shutdown, complete, -10),
				task("t1", 1, "a", running, running, 0),
			},
			want: want{delete: []string{"h1", "h2"}},
		},
		{
			name: "a negative limit keeps all history",
			svc:  kit.Replicated("web", 1, tmpl), nodes: nodes, limit: -1,
			tasks: []*swarm.Task{task("h1", 1, "a", shutdown, failed, -50), task("h2", 1, "a", shutdown, failed, -40), task("t1", 1, "a", running, running, 0)},
		},
		{
			name: "removed tasks are deleted once stopped",
			svc:  svc3, nodes: nodes,
			tasks: append(slices.Clone(healthy), task("r1", 2, "a", remove, shutdown, -5), task("r2", 5, "a", remove, running, -5)),
			want:  want{delete: []string{"r1"}},
		},
		{
			name: "tasks without a slot are removed",
			svc:  svc3, nodes: nodes,
			tasks: append(slices.Clone(healthy), task("stray", 0, "a", running, running, -5)),
			want:  want{remove: []string{"stray"}},
		},
		{
			name: "a removed service: live tasks removed, stopped ones deleted",
			svc:  nil, nodes: nodes,
			tasks: []*swarm.Task{healthy[0], task("h", 1, "a", shutdown, failed, -10), task("p", 2, "", running, pending, -10)},
			want:  want{remove: []string{"t1"}, delete: []string{"h", "p"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := orchestrator.Input{Service: tc.svc, Tasks: tc.tasks, Nodes: tc.nodes, Now: kit.At(tc.now), HistoryLimit: tc.limit}
			p := reconcile(t, in)
			check(t, p, tc.want)
			// Carried out, the plan leaves nothing to do at the same time.
			in.Tasks = p.Apply(in.Tasks, kit.IDs())
			if again := reconcile(t, in); !again.Empty() {
				t.Fatalf("second pass not empty: %+v", again)
			}
		})
	}
}

// endedAt sets when a task's status last changed.
func endedAt(t *swarm.Task, s int) *swarm.Task {
	t.Status.Timestamp = kit.At(s)
	return t
}

func onFailure(replicas uint64) *swarm.Service {
	return kit.Replicated("web", replicas, kit.Template("sleepy:2", kit.Policy(swarm.RestartPolicyConditionOnFailure, 0, 0, 0)))
}

func maxAttempts(n uint64, window time.Duration) *swarm.Service {
	return kit.Replicated("web", 1, kit.Template("sleepy:2", kit.Policy(swarm.RestartPolicyConditionAny, 0, n, window)))
}

func TestCreatedTasksCopyTheService(t *testing.T) {
	svc := kit.Replicated("web", 2, tmpl)
	svc.Version.Index = 42
	p := reconcile(t, orchestrator.Input{Service: svc, Nodes: kit.Ready("a"), Now: kit.At(3)})
	if len(p.Create) != 2 {
		t.Fatalf("created %d tasks, want 2", len(p.Create))
	}
	for i, c := range p.Create {
		if c.ID != "" || c.ServiceID != "web" || c.Slot != i+1 || c.NodeID != "" ||
			c.DesiredState != swarm.TaskStateRunning || c.Status.State != swarm.TaskStateNew ||
			!c.Status.Timestamp.Equal(kit.At(3)) || !c.CreatedAt.Equal(kit.At(3)) ||
			c.Labels[orchestrator.SpecVersionLabel] != "42" {
			t.Errorf("created task %d = %+v", i, c)
		}
		a, _ := json.Marshal(c.Spec)
		b, _ := json.Marshal(svc.Spec.TaskTemplate)
		if string(a) != string(b) {
			t.Errorf("spec %s, want the template %s", a, b)
		}
		if c.Spec.ContainerSpec == svc.Spec.TaskTemplate.ContainerSpec {
			t.Errorf("task shares its container spec with the service")
		}
	}
}

func TestRestartCycle(t *testing.T) {
	// A task that keeps failing is restarted after each delay until max attempts.
	svc := kit.Replicated("web", 1, kit.Template("sleepy:2", kit.Policy(swarm.RestartPolicyConditionAny, 5*time.Second, 2, 0)))
	in := orchestrator.Input{Service: svc, Nodes: kit.Ready("a"), Now: kit.At(0), HistoryLimit: 1}
	ids := kit.IDs()
	var created []time.Time
	for step := 0; step < 20; step++ {
		p := reconcile(t, in)
		for range p.Create {
			created = append(created, in.Now)
		}
		in.Tasks = p.Apply(in.Tasks, ids)
		// The new task runs for 2 s, then fails.
		for _, tk := range in.Tasks {
			if tk.DesiredState == swarm.TaskStateRunning && tk.Status.State == swarm.TaskStateNew {
				tk.Status = swarm.TaskStatus{State: swarm.TaskStateFailed, Timestamp: in.Now.Add(2 * time.Second)}
			}
		}
		switch {
		case !p.RetryAt.IsZero():
			in.Now = p.RetryAt
		default:
			in.Now = in.Now.Add(3 * time.Second)
		}
	}
	want := []time.Time{kit.At(0), kit.At(7), kit.At(14)} // created, +2 s failure +5 s delay, twice
	if !reflect.DeepEqual(created, want) {
		t.Fatalf("tasks created at %v, want %v", created, want)
	}
	// Max attempts raises the history kept so the attempts can still be counted.
	if len(in.Tasks) != 3 {
		t.Fatalf("%d tasks kept, want 3 (max attempts + 1)", len(in.Tasks))
	}
}

func TestReconcileRefusesOtherModes(t *testing.T) {
	svc := kit.Global("g", tmpl)
	if _, err := Reconcile(orchestrator.Input{Service: svc}); err == nil {
		t.Fatal("a global service was accepted")
	}
}
