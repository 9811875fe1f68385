package global

import (
	"encoding/json"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"pgregory.net/rapid"

	"github.com/shoal/shoal/manager/orchestrator"
	kit "github.com/shoal/shoal/manager/orchestrator/internal/testkit"
	"github.com/shoal/shoal/manager/scheduler"
)

func current(svc *swarm.Service, t *swarm.Task) bool {
	a, _ := json.Marshal(svc.Spec.TaskTemplate)
	b, _ := json.Marshal(t.Spec)
	return string(a) == string(b)
}

// pairOrOne accepts one live task, or a start-first update's pair: an old task and a
// current one not yet running.
func pairOrOne(svc *swarm.Service, live []*swarm.Task) bool {
	if len(live) == 1 {
		return true
	}
	if len(live) != 2 || current(svc, live[0]) == current(svc, live[1]) {
		return false
	}
	c := live[0]
	if current(svc, live[1]) {
		c = live[1]
	}
	return c.Status.State != swarm.TaskStateRunning
}

func TestPropertyOnePerEligibleNode(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nodes := kit.DrawNodes(t, 6)
		policy := kit.DrawPolicy(t)
		var constraints []string
		if rapid.Bool().Draw(t, "constrained") {
			constraints = []string{"node.labels.zone==a"}
		}
		svc := kit.Global("agent", kit.Template("agent:2", policy, constraints...))
		tasks := kit.DrawTasks(t, svc, kit.Template("agent:1", policy, constraints...), nodes, 0, 14)
		in := orchestrator.Input{Service: svc, Tasks: tasks, Nodes: nodes, Now: kit.At(rapid.IntRange(0, 100).Draw(t, "now")), HistoryLimit: rapid.IntRange(-1, 6).Draw(t, "limit")}
		restartsAlways := policy == nil || (policy.Condition == swarm.RestartPolicyConditionAny && *policy.MaxAttempts == 0)
		parsed, err := scheduler.ParseConstraints(constraints)
		if err != nil {
			t.Fatal(err)
		}
		eligible := map[string]bool{} // gets a task
		mayKeep := map[string]bool{}  // keeps one it has
		for _, n := range nodes {
			fits := scheduler.MatchAll(parsed, n)
			eligible[n.ID] = fits && n.Status.State == swarm.NodeStateReady && n.Spec.Availability == swarm.NodeAvailabilityActive
			mayKeep[n.ID] = fits && n.Status.State != swarm.NodeStateDown && n.Spec.Availability != swarm.NodeAvailabilityDrain
		}

		p, err := Reconcile(in)
		if err != nil {
			t.Fatal(err)
		}
		made := map[string]bool{}
		for _, c := range p.Create {
			if !eligible[c.NodeID] || made[c.NodeID] || c.Slot != 0 || !current(svc, &c) {
				t.Fatalf("created %+v (eligible %v, made before %v)", c, eligible[c.NodeID], made[c.NodeID])
			}
			made[c.NodeID] = true
		}
		after := p.Apply(tasks, kit.IDs())
		if again, _ := Reconcile(orchestrator.Input{Service: svc, Tasks: after, Nodes: nodes, Now: in.Now, HistoryLimit: in.HistoryLimit}); !again.Empty() {
			t.Fatalf("second pass not empty: %+v", again)
		}

		final, _, err := kit.Converge(Reconcile, in, 50)
		if err != nil {
			t.Fatal(err)
		}
		live := map[string][]*swarm.Task{}
		for _, tk := range final {
			if orchestrator.Live(tk) {
				live[tk.NodeID] = append(live[tk.NodeID], tk)
			}
		}
		for node, ts := range live {
			if !mayKeep[node] {
				t.Fatalf("node %q, which may not run the service, still has live tasks %+v", node, ts)
			}
			for _, tk := range ts {
				if orchestrator.Ended(tk) {
					t.Fatalf("ended task %s left live", tk.ID)
				}
			}
			if !pairOrOne(svc, ts) {
				t.Fatalf("node %s has %d live tasks", node, len(ts))
			}
		}
		for _, n := range nodes {
			if eligible[n.ID] && len(live[n.ID]) == 0 && restartsAlways {
				t.Fatalf("eligible node %s has no task", n.ID)
			}
		}
	})
}
