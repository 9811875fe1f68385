// Package orchestrator holds what the service reconcilers share (replicated/ reconciles
// by slot, global/ by node): the Plan they return, how a task is made from a service, how
// a slot's history decides a restart, and how much of that history is kept.
//
// Everything here is pure and synchronous: no goroutines, clocks or I/O. The caller passes
// the time in, applies the plan to the store in one transaction, and calls again when
// something changes or at Plan.RetryAt. Because a reconciler reads only the tasks, a plan
// carried out and reconciled again yields an empty plan; nothing is remembered in between.
package orchestrator

import (
	"cmp"
	"encoding/json"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/internal/taskstate"
)

const (
	// DefaultHistoryLimit is how many tasks a slot keeps (the current one included), as
	// swarm's --task-history-limit.
	DefaultHistoryLimit = 5
	// DefaultRestartDelay is the restart delay of a spec that sets none.
	DefaultRestartDelay = 5 * time.Second
	// SpecVersionLabel is the task label holding the version of the service its spec was
	// copied from.
	SpecVersionLabel = "com.shoal.service.version"
)

// Input is what a reconciler looks at for one service.
type Input struct {
	// Service is the service to reconcile; nil means it was removed, and every task of it
	// is stopped and then deleted.
	Service *swarm.Service
	// Tasks are all of the service's tasks, history included.
	Tasks []*swarm.Task
	// Nodes are all nodes of the cluster. A task whose node is not among them is on a node
	// that is gone.
	Nodes []*swarm.Node
	// Now is the time of this decision; restart delays are measured against it.
	Now time.Time
	// HistoryLimit is how many tasks each slot (replicated) or node (global) keeps, the
	// current one included: the cluster's TaskHistoryRetentionLimit, DefaultHistoryLimit
	// when unset. Negative keeps everything. A slot always keeps its newest task, and
	// with a restart policy's MaxAttempts it keeps MaxAttempts+1, so the attempts can
	// still be counted.
	HistoryLimit int
}

// Plan is what a reconciler wants done. Each task ID appears in at most one list.
type Plan struct {
	// Create are new tasks: ID empty (the caller assigns one), Spec copied from the
	// service, DesiredState RUNNING, Status.State NEW. Replicated tasks carry their slot
	// and no node; global ones carry their node and slot 0.
	Create []swarm.Task
	// Shutdown are tasks whose desired state becomes SHUTDOWN: replaced because they
	// failed, or because their node was drained, went down or is gone; duplicates; tasks
	// on a node a global service no longer runs on. They stay as history.
	Shutdown []string
	// Remove are tasks whose desired state becomes REMOVE: stopped, then deleted once
	// they have stopped (scale-down, service removed). Tasks not yet running come first,
	// then higher slots.
	Remove []string
	// Delete are tasks to delete from the store now: history past the limit, and removed
	// tasks that have stopped.
	Delete []string
	// RetryAt, when set, is when a slot waiting out its restart delay needs a task:
	// reconcile again at or after it.
	RetryAt time.Time
}

// Empty reports whether the plan asks for nothing now (RetryAt aside).
func (p Plan) Empty() bool {
	return len(p.Create) == 0 && len(p.Shutdown) == 0 && len(p.Remove) == 0 && len(p.Delete) == 0
}

// Apply returns the tasks as they are once the plan is carried out: desired states set,
// deleted tasks gone, new tasks added with IDs from newID. The input is not changed. It is
// for tests and fakes; the leader applies plans through the store.
func (p Plan) Apply(tasks []*swarm.Task, newID func() string) []*swarm.Task {
	set := func(ids []string) map[string]bool {
		m := make(map[string]bool, len(ids))
		for _, id := range ids {
			m[id] = true
		}
		return m
	}
	shutdown, remove, del := set(p.Shutdown), set(p.Remove), set(p.Delete)
	out := make([]*swarm.Task, 0, len(tasks)+len(p.Create))
	for _, t := range tasks {
		if del[t.ID] {
			continue
		}
		c := *t
		switch {
		case shutdown[t.ID]:
			c.DesiredState = swarm.TaskStateShutdown
		case remove[t.ID]:
			c.DesiredState = swarm.TaskStateRemove
		}
		out = append(out, &c)
	}
	for _, t := range p.Create {
		c := t
		c.ID = newID()
		out = append(out, &c)
	}
	return out
}

// NewTask makes a task of the service for a slot (replicated) or a node (global): the
// spec is a copy of the service's task template, the version is recorded in a label.
func NewTask(svc *swarm.Service, slot int, nodeID string, now time.Time) swarm.Task {
	return swarm.Task{
		Meta:         swarm.Meta{CreatedAt: now, UpdatedAt: now},
		Annotations:  swarm.Annotations{Labels: map[string]string{SpecVersionLabel: strconv.FormatUint(svc.Version.Index, 10)}},
		Spec:         cloneSpec(svc.Spec.TaskTemplate),
		ServiceID:    svc.ID,
		Slot:         slot,
		NodeID:       nodeID,
		DesiredState: swarm.TaskStateRunning,
		Status:       swarm.TaskStatus{State: swarm.TaskStateNew, Timestamp: now, Message: "created"},
	}
}

// cloneSpec deep-copies a task spec, so a task never shares memory with its service.
func cloneSpec(s swarm.TaskSpec) swarm.TaskSpec {
	b, err := json.Marshal(s)
	if err != nil {
		return s
	}
	var c swarm.TaskSpec
	if err := json.Unmarshal(b, &c); err != nil {
		return s
	}
	return c
}

// Rank orders task states as they progress; an unknown state ranks as NEW.
func Rank(s swarm.TaskState) int { return taskstate.Rank(s) }

// Live reports whether a task is meant to run: its desired state is RUNNING or before.
func Live(t *swarm.Task) bool { return Rank(t.DesiredState) <= Rank(swarm.TaskStateRunning) }

// Ended reports whether a task has stopped: its observed state is past RUNNING.
func Ended(t *swarm.Task) bool { return Rank(t.Status.State) > Rank(swarm.TaskStateRunning) }

// selfEnded reports whether a task ended on its own (exited, failed, or was refused by its
// node) rather than being stopped by the cluster, which the agent reports as SHUTDOWN.
func selfEnded(t *swarm.Task) bool {
	switch t.Status.State {
	case swarm.TaskStateComplete, swarm.TaskStateFailed, swarm.TaskStateRejected:
		return true
	}
	return false
}

// olderFirst orders a slot's tasks by age: creation time, then status time, then ID.
func olderFirst(a, b *swarm.Task) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	if c := a.Status.Timestamp.Compare(b.Status.Timestamp); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}
