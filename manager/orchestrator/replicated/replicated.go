// Package replicated reconciles a replicated service: it keeps exactly one task meant to
// run in each slot 1..replicas. It is a pure function from the service, its tasks and the
// nodes to an orchestrator.Plan; the leader's loop (elsewhere) applies the plan.
//
// Slot by slot: a missing task is created (with no node: the scheduler places it); a task
// whose node was drained, went down or is gone is shut down and replaced in the same slot;
// a task that ended is replaced as its restart policy says; duplicates are shut down.
// Slots past the replica count (a scale-down) have their tasks removed: desired state
// REMOVE, deleted once stopped, so the slots disappear. Each slot keeps its history up to
// the cluster's task history limit. Tasks whose spec is out of date are left to the
// updater.
package replicated

import (
	"fmt"
	"slices"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/manager/orchestrator"
)

// maxReplicas bounds the slots one call will walk.
const maxReplicas = 1 << 20

// Reconcile returns what to do to bring a replicated service's tasks to its spec. A nil
// in.Service (removed) removes every task; a service that is not replicated is an error.
func Reconcile(in orchestrator.Input) (orchestrator.Plan, error) {
	r := orchestrator.NewRound(in)
	svc := in.Service
	if svc == nil {
		r.Retire(in.Tasks)
		return r.Plan(), nil
	}
	if svc.Spec.Mode.Replicated == nil {
		return orchestrator.Plan{}, fmt.Errorf("service %s is not a replicated service", svc.ID)
	}
	replicas := Replicas(svc)
	if replicas > maxReplicas {
		return orchestrator.Plan{}, fmt.Errorf("service %s asks for %d replicas, more than %d", svc.ID, replicas, maxReplicas)
	}
	slots := map[int][]*swarm.Task{}
	for _, t := range in.Tasks {
		if t != nil && t.ServiceID == svc.ID {
			slots[t.Slot] = append(slots[t.Slot], t)
		}
	}
	for slot := 1; slot <= int(replicas); slot++ {
		r.ReconcileSlot(slots[slot], true, func() swarm.Task { return r.NewTask(slot, "") })
	}
	var gone []int
	for slot := range slots {
		if slot < 1 || slot > int(replicas) {
			gone = append(gone, slot)
		}
	}
	slices.Sort(gone)
	for _, slot := range gone {
		r.Retire(slots[slot])
	}
	return r.Plan(), nil
}

// Replicas is the service's replica count: 1 when unset, as swarm.
func Replicas(svc *swarm.Service) uint64 {
	if m := svc.Spec.Mode.Replicated; m != nil && m.Replicas != nil {
		return *m.Replicas
	}
	return 1
}
