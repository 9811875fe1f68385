package global

import (
	"reflect"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/manager/orchestrator"
	kit "github.com/shoal/shoal/manager/orchestrator/internal/testkit"
)

const (
	running  = swarm.TaskStateRunning
	shutdown = swarm.TaskStateShutdown
	failed   = swarm.TaskStateFailed
)

var (
	anyPolicy = kit.Policy(swarm.RestartPolicyConditionAny, 5*time.Second, 0, 0)
	tmpl      = kit.Template("agent:1", anyPolicy)
)

// want is what a case checks: nodes that get a new task, and IDs per list.
type want struct {
	create   []string
	shutdown []string
	remove   []string
	delete   []string
	retryAt  time.Time
}

func summary(p orchestrator.Plan) want {
	w := want{shutdown: p.Shutdown, remove: p.Remove, delete: p.Delete, retryAt: p.RetryAt}
	for _, c := range p.Create {
		w.create = append(w.create, c.NodeID)
	}
	for _, s := range []*[]string{&w.create, &w.shutdown, &w.remove, &w.delete} {
		if len(*s) == 0 {
			*s = nil
		}
	}
	return w
}

func TestReconcile(t *testing.T) {
	svc := kit.Global("agent", tmpl)
	zoned := kit.Global("agent", kit.Template("agent:1", anyPolicy, "node.labels.zone==x"))
	noRestart := kit.Global("agent", kit.Template("agent:1", kit.Policy(swarm.RestartPolicyConditionNone, 0, 0, 0)))
	nodes := []*swarm.Node{
		kit.Node("a", swarm.NodeStateReady, swarm.NodeAvailabilityActive, nil),
		kit.Node("b", swarm.NodeStateReady, swarm.NodeAvailabilityPause, nil),
		kit.Node("c", swarm.NodeStateReady, swarm.NodeAvailabilityDrain, nil),
		kit.Node("d", swarm.NodeStateDown, swarm.NodeAvailabilityActive, nil),
		kit.Node("e", swarm.NodeStateUnknown, swarm.NodeAvailabilityActive, nil),
		kit.Node("f", swarm.NodeStateReady, swarm.NodeAvailabilityActive, map[string]string{"zone": "x"}),
	}
	task := func(id, node string, desired, observed swarm.TaskState, created int) *swarm.Task {
		return kit.Task(id, svc, tmpl, 0, node, desired, observed, created)
	}
	everywhere := []*swarm.Task{
		task("ta", "a", running, running, 0), task("tb", "b", running, running, 0), task("tc", "c", running, running, 0),
		task("td", "d", running, running, 0), task("te", "e", running, running, 0), task("tf", "f", running, running, 0),
	}
	cases := []struct {
		name  string
		svc   *swarm.Service
		tasks []*swarm.Task
		nodes []*swarm.Node
		now   int
		limit int
		want  want
	}{
		{name: "one task per ready, active node, bound to it", svc: svc, want: want{create: []string{"a", "f"}}},
		{name: "constraints choose the nodes", svc: zoned, want: want{create: []string{"f"}}},
		{
			name: "drained and down nodes lose their task; paused and unknown ones keep it",
			svc:  svc, tasks: everywhere,
			want: want{shutdown: []string{"tc", "td"}},
		},
		{
			name: "a node that no longer satisfies the constraints loses its task",
			svc:  zoned, tasks: []*swarm.Task{task("ta", "a", running, running, 0), task("tf", "f", running, running, 0)},
			want: want{shutdown: []string{"ta"}},
		},
		{
			name: "a node that is gone: its tasks are deleted",
			svc:  svc, tasks: []*swarm.Task{task("ta", "a", running, running, 0), task("tf", "f", running, running, 0), task("tz", "z", running, running, 0), task("tz-old", "z", shutdown, failed, -5)},
			want: want{delete: []string{"tz", "tz-old"}},
		},
		{
			name: "a node back from down gets a task at once, whatever the restart policy",
			svc:  noRestart, nodes: kit.Ready("a"), now: 100,
			tasks: []*swarm.Task{kit.Task("ta", noRestart, noRestart.Spec.TaskTemplate, 0, "a", shutdown, running, 0)},
			want:  want{create: []string{"a"}},
		},
		{
			name: "a failed task is restarted on its node after the delay",
			svc:  svc, nodes: kit.Ready("a"), now: 11,
			tasks: []*swarm.Task{task("ta", "a", running, failed, 10)},
			want:  want{shutdown: []string{"ta"}, retryAt: kit.At(15)},
		},
		{
			name: "restart condition none: the node stays without a task",
			svc:  noRestart, nodes: kit.Ready("a"), now: 100,
			tasks: []*swarm.Task{kit.Task("ta", noRestart, noRestart.Spec.TaskTemplate, 0, "a", running, failed, 10)},
			want:  want{shutdown: []string{"ta"}},
		},
		{
			name: "duplicates on a node: one stays",
			svc:  svc, nodes: kit.Ready("a"),
			tasks: []*swarm.Task{task("ta", "a", running, running, 0), task("ta2", "a", running, swarm.TaskStatePending, 5)},
			want:  want{shutdown: []string{"ta2"}},
		},
		{
			name: "history is kept per node up to the limit",
			svc:  svc, nodes: kit.Ready("a", "b"), limit: 2,
			tasks: []*swarm.Task{
				task("a1", "a", shutdown, failed, 0), task("a2", "a", shutdown, failed, 1), task("a3", "a", running, running, 2),
				task("b1", "b", shutdown, failed, 0), task("b2", "b", running, running, 1),
			},
			want: want{delete: []string{"a1"}},
		},
		{
			name: "a drained node keeps its history",
			svc:  svc, nodes: []*swarm.Node{kit.Node("a", swarm.NodeStateReady, swarm.NodeAvailabilityDrain, nil)}, limit: 1,
			tasks: []*swarm.Task{task("a1", "a", shutdown, failed, 0), task("a2", "a", running, running, 1)},
			want:  want{shutdown: []string{"a2"}, delete: []string{"a1"}},
		},
		{
			name: "tasks without a node are removed",
			svc:  svc, nodes: kit.Ready("a"),
			tasks: []*swarm.Task{task("ta", "a", running, running, 0), task("stray", "", running, swarm.TaskStateAssigned, 0)},
			want:  want{remove: []string{"stray"}},
		},
		{
			name: "a removed service: live tasks removed, stopped ones deleted",
			svc:  nil, tasks: []*swarm.Task{task("ta", "a", running, running, 0), task("old", "a", shutdown, failed, -5)},
			want: want{remove: []string{"ta"}, delete: []string{"old"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := tc.nodes
			if ns == nil {
				ns = nodes
			}
			limit := tc.limit
			if limit == 0 {
				limit = orchestrator.DefaultHistoryLimit
			}
			in := orchestrator.Input{Service: tc.svc, Tasks: tc.tasks, Nodes: ns, Now: kit.At(tc.now), HistoryLimit: limit}
			p, err := Reconcile(in)
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			for _, s := range []*[]string{&w.create, &w.shutdown, &w.remove, &w.delete} {
				if len(*s) == 0 {
					*s = nil
				}
			}
			if got := summary(p); !reflect.DeepEqual(got, w) {
				t.Fatalf("plan:\n got  %+v\n want %+v", got, w)
			}
			for _, c := range p.Create {
				if c.Slot != 0 || c.ServiceID != "agent" || c.DesiredState != swarm.TaskStateRunning || c.Status.State != swarm.TaskStateNew {
					t.Fatalf("badly made task %+v", c)
				}
			}
			in.Tasks = p.Apply(in.Tasks, kit.IDs())
			if again, _ := Reconcile(in); !again.Empty() {
				t.Fatalf("second pass not empty: %+v", again)
			}
		})
	}
}

func TestReconcileRefusesOtherModes(t *testing.T) {
	if _, err := Reconcile(orchestrator.Input{Service: kit.Replicated("web", 1, tmpl)}); err == nil {
		t.Fatal("a replicated service was accepted")
	}
}
