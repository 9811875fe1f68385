package orchestrator

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

// Round is one reconcile pass over a service: the inputs, and the plan being built. The
// replicated and global reconcilers group the service's tasks (by slot, by node) and hand
// each group to ReconcileSlot, Evict or Retire; Plan returns the result.
type Round struct {
	in     Input
	nodes  map[string]*swarm.Node
	policy restartPolicy
	keep   int // tasks kept per slot; negative keeps all

	template     []byte // the service's task template as JSON, to tell current tasks from old ones
	fromTmplMemo map[*swarm.Task]bool

	plan    Plan
	tasks   map[string]*swarm.Task
	stopped map[string]bool // shut down or removed by this plan
	deleted map[string]bool
}

// NewRound starts a pass over in.
func NewRound(in Input) *Round {
	r := &Round{
		in:           in,
		nodes:        make(map[string]*swarm.Node, len(in.Nodes)),
		keep:         in.HistoryLimit,
		fromTmplMemo: map[*swarm.Task]bool{},
		tasks:        map[string]*swarm.Task{},
		stopped:      map[string]bool{},
		deleted:      map[string]bool{},
	}
	for _, n := range in.Nodes {
		if n != nil {
			r.nodes[n.ID] = n
		}
	}
	if in.Service != nil {
		r.policy = policyOf(in.Service.Spec.TaskTemplate.RestartPolicy)
		r.template, _ = json.Marshal(in.Service.Spec.TaskTemplate)
	}
	if r.keep >= 0 {
		r.keep = max(r.keep, 1)
		if r.policy.maxAttempts > 0 {
			r.keep = max(r.keep, int(min(r.policy.maxAttempts, 1<<20))+1)
		}
	}
	return r
}

// Node returns the node with this ID, or nil if it is gone.
func (r *Round) Node(id string) *swarm.Node { return r.nodes[id] }

// NodeUsable reports whether tasks may stay on a node: it exists, is not down and is
// not drained. A paused node keeps its tasks.
func (r *Round) NodeUsable(id string) bool {
	n := r.nodes[id]
	return n != nil && n.Status.State != swarm.NodeStateDown && n.Spec.Availability != swarm.NodeAvailabilityDrain
}

// NewTask makes a task of the round's service for a slot or a node.
func (r *Round) NewTask(slot int, nodeID string) swarm.Task {
	return NewTask(r.in.Service, slot, nodeID, r.in.Now)
}

// ReconcileSlot settles one slot (replicated) or one node (global) given all its tasks:
//
//   - a live task on a node that is drained, down or gone is shut down and replaced at
//     once, whatever the restart policy says: the task did not fail, its node did;
//   - a live task that has ended is shut down, and the restart policy decides whether
//     and when the slot gets a new task (condition, delay after the end, max attempts
//     within the window); a slot the policy gave up on stays empty until the service's
//     task template changes;
//   - of several live tasks, one is kept and the others shut down, except a start-first
//     update's pair (the new task not yet running beside an old one), which the updater
//     resolves;
//   - an empty slot gets a task at once (mayCreate false, for a paused node, forbids it);
//   - history past the limit is deleted, oldest first.
//
// create makes the new task.
func (r *Round) ReconcileSlot(tasks []*swarm.Task, mayCreate bool, create func() swarm.Task) {
	hist := r.history(tasks)
	var keepers []*swarm.Task
	displaced := false
	for _, t := range hist {
		if !Live(t) {
			continue
		}
		switch {
		case t.NodeID != "" && !r.NodeUsable(t.NodeID):
			r.stop(t, false)
			displaced = true
		case Ended(t):
			r.stop(t, false)
		default:
			keepers = append(keepers, t)
		}
	}
	r.dedupe(keepers)
	created := 0
	if len(keepers) == 0 && mayCreate {
		if at, restart := r.restartAt(hist, displaced); restart {
			if r.in.Now.Before(at) {
				r.retryAt(at)
			} else {
				r.plan.Create = append(r.plan.Create, create())
				created = 1
			}
		}
	}
	r.trim(hist, created)
}

// Evict shuts down every live task of a group that may no longer run (a node a global
// service left: drained, down, or failing the constraints) and trims its history.
func (r *Round) Evict(tasks []*swarm.Task) {
	hist := r.history(tasks)
	for _, t := range hist {
		if Live(t) {
			r.stop(t, false)
		}
	}
	r.trim(hist, 0)
}

// Retire ends a group for good (slots past the replica count, a global service's tasks
// on a node that is gone, a removed service): live tasks get desired state REMOVE, and
// every task that has stopped is deleted.
func (r *Round) Retire(tasks []*swarm.Task) {
	for _, t := range tasks {
		r.tasks[t.ID] = t
		if Live(t) {
			r.stop(t, true)
		}
		if r.finished(t) {
			r.delete(t)
		}
	}
}

// Plan returns the plan, each task in one list only.
func (r *Round) Plan() Plan {
	p := r.plan
	drop := func(ids []string) []string {
		return slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return r.deleted[id] })
	}
	p.Create = slices.Clone(p.Create)
	p.Shutdown = drop(p.Shutdown)
	p.Remove = drop(p.Remove)
	p.Delete = slices.Clone(p.Delete)
	slices.Sort(p.Shutdown)
	slices.Sort(p.Delete)
	// Remove the least useful first: tasks not yet running, then higher slots.
	slices.SortFunc(p.Remove, func(a, b string) int {
		ta, tb := r.tasks[a], r.tasks[b]
		ra, rb := ta.Status.State == swarm.TaskStateRunning, tb.Status.State == swarm.TaskStateRunning
		if ra != rb {
			if ra {
				return 1
			}
			return -1
		}
		if c := cmp.Compare(tb.Slot, ta.Slot); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return p
}

// history returns a group's tasks oldest first, leaving out tasks being removed (they
// belong to no slot any more); those that have stopped are deleted.
func (r *Round) history(tasks []*swarm.Task) []*swarm.Task {
	hist := make([]*swarm.Task, 0, len(tasks))
	for _, t := range tasks {
		r.tasks[t.ID] = t
		if t.DesiredState == swarm.TaskStateRemove {
			if r.finished(t) {
				r.delete(t)
			}
			continue
		}
		hist = append(hist, t)
	}
	slices.SortFunc(hist, olderFirst)
	return hist
}

func (r *Round) stop(t *swarm.Task, remove bool) {
	if r.stopped[t.ID] {
		return
	}
	r.stopped[t.ID] = true
	if remove {
		r.plan.Remove = append(r.plan.Remove, t.ID)
	} else {
		r.plan.Shutdown = append(r.plan.Shutdown, t.ID)
	}
}

func (r *Round) delete(t *swarm.Task) {
	if r.deleted[t.ID] {
		return
	}
	r.deleted[t.ID] = true
	r.plan.Delete = append(r.plan.Delete, t.ID)
}

func (r *Round) retryAt(at time.Time) {
	if r.plan.RetryAt.IsZero() || at.Before(r.plan.RetryAt) {
		r.plan.RetryAt = at
	}
}

// liveAfter reports whether a task is still meant to run once the plan is carried out.
func (r *Round) liveAfter(t *swarm.Task) bool { return Live(t) && !r.stopped[t.ID] }

// finished reports whether a task, once the plan is carried out, is over and may be
// deleted: it has stopped, its node is gone (nothing will ever report on it), or it was
// stopped before any node took it.
func (r *Round) finished(t *swarm.Task) bool {
	switch {
	case Ended(t):
		return true
	case t.NodeID != "" && r.nodes[t.NodeID] == nil:
		return true
	case Rank(t.Status.State) < Rank(swarm.TaskStateAssigned) && !r.liveAfter(t):
		return true
	}
	return false
}

// fromTemplate reports whether a task was made from the service's current task template.
func (r *Round) fromTemplate(t *swarm.Task) bool {
	if v, ok := r.fromTmplMemo[t]; ok {
		return v
	}
	b, err := json.Marshal(t.Spec)
	v := err == nil && r.template != nil && bytes.Equal(b, r.template)
	r.fromTmplMemo[t] = v
	return v
}

// dedupe keeps one of a slot's live tasks and shuts down the others, unless they are a
// start-first update in progress: one old task and one current one that is not running yet.
func (r *Round) dedupe(keepers []*swarm.Task) {
	if len(keepers) < 2 {
		return
	}
	if len(keepers) == 2 {
		a, b := keepers[0], keepers[1]
		if ca, cb := r.fromTemplate(a), r.fromTemplate(b); ca != cb {
			current := a
			if cb {
				current = b
			}
			if current.Status.State != swarm.TaskStateRunning {
				return
			}
		}
	}
	best := keepers[0]
	for _, t := range keepers[1:] {
		if r.better(t, best) {
			best = t
		}
	}
	for _, t := range keepers {
		if t != best {
			r.stop(t, false)
		}
	}
}

// better prefers a running task, then one from the current template, then the one
// further along; on a tie the older one stays.
func (r *Round) better(a, b *swarm.Task) bool {
	if ra, rb := a.Status.State == swarm.TaskStateRunning, b.Status.State == swarm.TaskStateRunning; ra != rb {
		return ra
	}
	if ca, cb := r.fromTemplate(a), r.fromTemplate(b); ca != cb {
		return ca
	}
	return Rank(a.Status.State) > Rank(b.Status.State)
}

// trim deletes a group's history past the limit, oldest first. The newest tasks within the
// limit always stay (a task made by this plan takes one place), older ones go once finished.
func (r *Round) trim(hist []*swarm.Task, created int) {
	if r.keep < 0 {
		return
	}
	keep := max(r.keep-created, 0)
	for i := 0; i < len(hist)-keep; i++ {
		if t := hist[i]; r.finished(t) {
			r.delete(t)
		}
	}
}
