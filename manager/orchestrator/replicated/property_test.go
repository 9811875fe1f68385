package replicated

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"pgregory.net/rapid"

	"github.com/shoal/shoal/manager/orchestrator"
	kit "github.com/shoal/shoal/manager/orchestrator/internal/testkit"
	"github.com/shoal/shoal/manager/scheduler"
)

func sameSpec(a, b swarm.TaskSpec) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func usable(nodes []*swarm.Node, id string) bool {
	if id == "" {
		return true
	}
	for _, n := range nodes {
		if n.ID == id {
			return n.Status.State != swarm.NodeStateDown && n.Spec.Availability != swarm.NodeAvailabilityDrain
		}
	}
	return false
}

// checkPlanShape checks what every plan must be: lists naming existing tasks, each task in
// one list at most, only live tasks stopped, and well-made new tasks in distinct slots.
func checkPlanShape(t *rapid.T, svc *swarm.Service, in []*swarm.Task, p orchestrator.Plan) {
	byID := map[string]*swarm.Task{}
	for _, tk := range in {
		byID[tk.ID] = tk
	}
	seen := map[string]string{}
	for name, ids := range map[string][]string{"shutdown": p.Shutdown, "remove": p.Remove, "delete": p.Delete} {
		for _, id := range ids {
			tk := byID[id]
			if tk == nil {
				t.Fatalf("%s names unknown task %s", name, id)
			}
			if other, dup := seen[id]; dup {
				t.Fatalf("task %s in both %s and %s", id, other, name)
			}
			seen[id] = name
			if name != "delete" && !orchestrator.Live(tk) {
				t.Fatalf("%s of task %s, whose desired state is already %s", name, id, tk.DesiredState)
			}
		}
	}
	slots := map[int]bool{}
	for _, c := range p.Create {
		if c.ID != "" || c.ServiceID != svc.ID || c.NodeID != "" || c.DesiredState != swarm.TaskStateRunning ||
			c.Status.State != swarm.TaskStateNew || !sameSpec(c.Spec, svc.Spec.TaskTemplate) {
			t.Fatalf("badly made task %+v", c)
		}
		if c.Slot < 1 || uint64(c.Slot) > Replicas(svc) || slots[c.Slot] {
			t.Fatalf("created a task in slot %d (replicas %d, created before: %v)", c.Slot, Replicas(svc), slots[c.Slot])
		}
		slots[c.Slot] = true
	}
}

// liveBySlot groups the tasks meant to run by slot.
func liveBySlot(tasks []*swarm.Task) map[int][]*swarm.Task {
	m := map[int][]*swarm.Task{}
	for _, tk := range tasks {
		if orchestrator.Live(tk) {
			m[tk.Slot] = append(m[tk.Slot], tk)
		}
	}
	return m
}

// startFirstPair is the one case of two live tasks in a slot the reconciler leaves alone.
func startFirstPair(svc *swarm.Service, live []*swarm.Task) bool {
	if len(live) != 2 {
		return false
	}
	a, b := sameSpec(live[0].Spec, svc.Spec.TaskTemplate), sameSpec(live[1].Spec, svc.Spec.TaskTemplate)
	if a == b {
		return false
	}
	current := live[0]
	if b {
		current = live[1]
	}
	return current.Status.State != swarm.TaskStateRunning
}

func TestPropertyNoSlotLostOrDoubled(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nodes := kit.DrawNodes(t, 5)
		policy := kit.DrawPolicy(t)
		svc := kit.Replicated("web", uint64(rapid.IntRange(0, 6).Draw(t, "replicas")), kit.Template("img:2", policy))
		old := kit.Template("img:1", policy)
		tasks := kit.DrawTasks(t, svc, old, nodes, 8, 16)
		in := orchestrator.Input{Service: svc, Tasks: tasks, Nodes: nodes, Now: kit.At(rapid.IntRange(0, 100).Draw(t, "now")), HistoryLimit: rapid.IntRange(-1, 6).Draw(t, "limit")}
		restartsAlways := policy == nil || (policy.Condition == swarm.RestartPolicyConditionAny && *policy.MaxAttempts == 0)

		p, err := Reconcile(in)
		if err != nil {
			t.Fatal(err)
		}
		checkPlanShape(t, svc, tasks, p)
		if !p.RetryAt.IsZero() && !p.RetryAt.After(in.Now) {
			t.Fatalf("retry at %v, not after now %v", p.RetryAt, in.Now)
		}

		// The reconciler never stops a task that is the healthy, current sole runner of its slot.
		stopped := map[string]bool{}
		for _, id := range slices.Concat(p.Shutdown, p.Remove, p.Delete) {
			stopped[id] = true
		}
		for slot, live := range liveBySlot(tasks) {
			if len(live) != 1 || slot < 1 || uint64(slot) > Replicas(svc) {
				continue
			}
			h := live[0]
			if !orchestrator.Ended(h) && usable(nodes, h.NodeID) && sameSpec(h.Spec, svc.Spec.TaskTemplate) && stopped[h.ID] {
				t.Fatalf("healthy task %s of slot %d stopped", h.ID, slot)
			}
		}

		after := p.Apply(tasks, kit.IDs())
		live := liveBySlot(after)
		for slot, ts := range live {
			if slot < 1 || uint64(slot) > Replicas(svc) {
				t.Fatalf("slot %d outside 1..%d still has live tasks %v", slot, Replicas(svc), ts)
			}
			for _, tk := range ts {
				if orchestrator.Ended(tk) || !usable(nodes, tk.NodeID) {
					t.Fatalf("task %s left live though it ended (%s) or its node %q cannot run it", tk.ID, tk.Status.State, tk.NodeID)
				}
			}
		}
		for slot := 1; uint64(slot) <= Replicas(svc); slot++ {
			switch n := len(live[slot]); {
			case n == 1, startFirstPair(svc, live[slot]):
			case n == 0 && (!p.RetryAt.IsZero() || !restartsAlways):
				// Waiting out a restart delay, or given up by the restart policy.
			default:
				t.Fatalf("slot %d has %d live tasks after the plan: %+v", slot, n, live[slot])
			}
		}

		// Carried out, the plan leaves nothing to do at the same time.
		again, err := Reconcile(orchestrator.Input{Service: svc, Tasks: after, Nodes: nodes, Now: in.Now, HistoryLimit: in.HistoryLimit})
		if err != nil {
			t.Fatal(err)
		}
		if !again.Empty() {
			t.Fatalf("second pass not empty: %+v", again)
		}

		// And as time passes every slot is filled exactly once, unless the policy gave up.
		final, _, err := kit.Converge(Reconcile, in, 50)
		if err != nil {
			t.Fatal(err)
		}
		live = liveBySlot(final)
		for slot := 1; uint64(slot) <= Replicas(svc); slot++ {
			ok := len(live[slot]) == 1 || startFirstPair(svc, live[slot]) || (len(live[slot]) == 0 && !restartsAlways)
			if !ok {
				t.Fatalf("slot %d settled with %d live tasks: %+v", slot, len(live[slot]), live[slot])
			}
		}
	})
}

func TestPropertyDrainMovesEveryTask(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nodes := kit.Ready()
		for i := range rapid.IntRange(1, 6).Draw(t, "nodes") {
			nodes = append(nodes, kit.Node(fmt.Sprintf("n%d", i), swarm.NodeStateReady, swarm.NodeAvailabilityActive, nil))
		}
		replicas := rapid.IntRange(0, 10).Draw(t, "replicas")
		svc := kit.Replicated("web", uint64(replicas), kit.Template("img:2", kit.DrawPolicy(t)))
		var tasks []*swarm.Task
		for slot := 1; slot <= replicas; slot++ {
			node := rapid.SampledFrom(nodes).Draw(t, "node").ID
			for h := range rapid.IntRange(0, 3).Draw(t, "history") {
				tasks = append(tasks, kit.Task(fmt.Sprintf("h%d.%d", slot, h), svc, svc.Spec.TaskTemplate, slot, node, swarm.TaskStateShutdown,
					rapid.SampledFrom([]swarm.TaskState{swarm.TaskStateShutdown, swarm.TaskStateFailed}).Draw(t, "ended"), h))
			}
			tasks = append(tasks, kit.Task(fmt.Sprintf("t%d", slot), svc, svc.Spec.TaskTemplate, slot, node, swarm.TaskStateRunning,
				rapid.SampledFrom([]swarm.TaskState{swarm.TaskStateRunning, swarm.TaskStateStarting, swarm.TaskStateAssigned}).Draw(t, "state"), 10))
		}
		in := orchestrator.Input{Service: svc, Tasks: tasks, Nodes: nodes, Now: kit.At(20), HistoryLimit: -1}
		if p, _ := Reconcile(in); !p.Empty() {
			t.Fatalf("a converged service got a plan: %+v", p)
		}

		// Drain some nodes (or lose them: down, or gone from the cluster).
		var kept []*swarm.Node
		lost := map[string]bool{}
		for _, n := range nodes {
			switch rapid.SampledFrom([]string{"keep", "keep", "drain", "down", "gone"}).Draw(t, n.ID+".fate") {
			case "drain":
				c := *n
				c.Spec.Availability = swarm.NodeAvailabilityDrain
				kept = append(kept, &c)
				lost[n.ID] = true
			case "down":
				c := *n
				c.Status.State = swarm.NodeStateDown
				kept = append(kept, &c)
				lost[n.ID] = true
			case "gone":
				lost[n.ID] = true
			default:
				kept = append(kept, n)
			}
		}
		in.Nodes = kept
		p, err := Reconcile(in)
		if err != nil {
			t.Fatal(err)
		}
		var wantShutdown []string
		var wantSlots []int
		for _, tk := range tasks {
			if orchestrator.Live(tk) && lost[tk.NodeID] {
				wantShutdown = append(wantShutdown, tk.ID)
				wantSlots = append(wantSlots, tk.Slot)
			}
		}
		slices.Sort(wantShutdown)
		var gotSlots []int
		for _, c := range p.Create {
			if c.NodeID != "" {
				t.Fatalf("replacement bound to node %s", c.NodeID)
			}
			gotSlots = append(gotSlots, c.Slot)
		}
		if !slices.Equal(p.Shutdown, wantShutdown) || !slices.Equal(gotSlots, wantSlots) || len(p.Remove)+len(p.Delete) != 0 || !p.RetryAt.IsZero() {
			t.Fatalf("plan %+v\nwant shutdown %v and replacements in slots %v only", p, wantShutdown, wantSlots)
		}

		// The scheduler then puts every replacement on a node still taking tasks.
		var created []*swarm.Task
		for i := range p.Create {
			c := p.Create[i]
			c.ID = fmt.Sprintf("new%d", i)
			created = append(created, &c)
		}
		after := p.Apply(tasks, kit.IDs())
		for _, d := range scheduler.Schedule(scheduler.SnapshotOf(kept, after, []*swarm.Service{svc}), created) {
			if d.NodeID == "" {
				if len(kept) > 0 && len(lost) < len(nodes) {
					t.Fatalf("replacement %s not placed: %s", d.TaskID, d.Err)
				}
				continue
			}
			if lost[d.NodeID] {
				t.Fatalf("replacement %s placed on lost node %s", d.TaskID, d.NodeID)
			}
		}
	})
}
