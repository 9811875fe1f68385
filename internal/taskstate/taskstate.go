// Package taskstate orders a task's states. The agent (which moves a task's observed
// state forward) and the managers (which compare desired and observed states) share this
// one order.
package taskstate

import (
	"slices"

	"github.com/moby/moby/api/types/swarm"
)

// order is the life of a task. READY and ALLOCATED are swarmkit's intermediate states;
// the end states follow RUNNING; REMOVE is a desired state only; ORPHANED is what the
// managers mark a task whose node was lost.
var order = []swarm.TaskState{
	swarm.TaskStateNew, swarm.TaskStateAllocated, swarm.TaskStatePending, swarm.TaskStateAssigned,
	swarm.TaskStateAccepted, swarm.TaskStatePreparing, swarm.TaskStateReady, swarm.TaskStateStarting,
	swarm.TaskStateRunning, swarm.TaskStateComplete, swarm.TaskStateShutdown, swarm.TaskStateFailed,
	swarm.TaskStateRejected, swarm.TaskStateRemove, swarm.TaskStateOrphaned,
}

// Rank places s in a task's life: a later state ranks higher. An unknown state ranks as NEW.
func Rank(s swarm.TaskState) int {
	if i := slices.Index(order, s); i >= 0 {
		return i
	}
	return 0
}

// Known reports whether s is a task state at all.
func Known(s swarm.TaskState) bool { return slices.Contains(order, s) }

// IsTerminal reports whether a task in observed state s has ended for good.
func IsTerminal(s swarm.TaskState) bool {
	switch s {
	case swarm.TaskStateComplete, swarm.TaskStateShutdown, swarm.TaskStateFailed,
		swarm.TaskStateRejected, swarm.TaskStateOrphaned:
		return true
	}
	return false
}

// Observed reports whether s can be a task's observed state (REMOVE is only desired).
func Observed(s swarm.TaskState) bool { return Known(s) && s != swarm.TaskStateRemove }
