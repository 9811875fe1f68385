// Package global reconciles a global service: one task meant to run on every eligible
// node. It is a pure function from the service, its tasks and the nodes to an
// orchestrator.Plan; the leader's loop (elsewhere) applies the plan.
//
// A node is eligible when it is ready, active and satisfies the placement constraints; a
// new task is created there already bound to it (the scheduler only checks it). A node that
// is paused, or not ready but not down, keeps the task it has and gets none new. A node that
// is drained, down or no longer satisfies the constraints has its tasks shut down; a node
// that is gone has its tasks deleted. Ended tasks are replaced as the restart policy says,
// and each node keeps its history up to the cluster's task history limit.
package global

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/manager/orchestrator"
	"github.com/shoal/shoal/manager/scheduler"
)

// Reconcile returns what to do to bring a global service's tasks to its spec. A nil
// in.Service (removed) removes every task; a service that is not global is an error.
func Reconcile(in orchestrator.Input) (orchestrator.Plan, error) {
	r := orchestrator.NewRound(in)
	svc := in.Service
	if svc == nil {
		r.Retire(in.Tasks)
		return r.Plan(), nil
	}
	if svc.Spec.Mode.Global == nil {
		return orchestrator.Plan{}, fmt.Errorf("service %s is not a global service", svc.ID)
	}
	var constraints []string
	if p := svc.Spec.TaskTemplate.Placement; p != nil {
		constraints = p.Constraints
	}
	// Constraints were validated when the service was written; if they no longer parse,
	// no node qualifies rather than every node.
	parsed, err := scheduler.ParseConstraints(constraints)
	fits := func(n *swarm.Node) bool { return err == nil && scheduler.MatchAll(parsed, n) }

	byNode := map[string][]*swarm.Task{}
	for _, t := range in.Tasks {
		if t != nil && t.ServiceID == svc.ID {
			byNode[t.NodeID] = append(byNode[t.NodeID], t)
		}
	}
	nodes := slices.Clone(in.Nodes)
	nodes = slices.DeleteFunc(nodes, func(n *swarm.Node) bool { return n == nil })
	slices.SortFunc(nodes, func(a, b *swarm.Node) int { return strings.Compare(a.ID, b.ID) })
	for _, n := range nodes {
		tasks := byNode[n.ID]
		delete(byNode, n.ID)
		if !CanRun(n) || !fits(n) {
			r.Evict(tasks)
			continue
		}
		r.ReconcileSlot(tasks, TakesNewTasks(n), func() swarm.Task { return r.NewTask(0, n.ID) })
	}
	// What is left is on nodes that are gone, or on no node at all.
	var gone []string
	for id := range byNode {
		gone = append(gone, id)
	}
	slices.Sort(gone)
	for _, id := range gone {
		r.Retire(byNode[id])
	}
	return r.Plan(), nil
}

// CanRun reports whether a node may keep running a global service's task: not down and
// not drained.
func CanRun(n *swarm.Node) bool {
	return n.Status.State != swarm.NodeStateDown && n.Spec.Availability != swarm.NodeAvailabilityDrain
}

// TakesNewTasks reports whether a node gets new tasks: ready and active (not paused).
func TakesNewTasks(n *swarm.Node) bool {
	return n.Status.State == swarm.NodeStateReady &&
		(n.Spec.Availability == swarm.NodeAvailabilityActive || n.Spec.Availability == "")
}
