package exec

import (
	"fmt"

	"github.com/moby/moby/api/types/swarm"
)

// observedOrder ranks the states a task's observed state passes through. READY and ALLOCATED
// are swarmkit's intermediate states; ORPHANED is what the managers mark a task whose node
// was lost.
var observedOrder = map[swarm.TaskState]int{
	swarm.TaskStateNew:       0,
	swarm.TaskStateAllocated: 1,
	swarm.TaskStatePending:   2,
	swarm.TaskStateAssigned:  3,
	swarm.TaskStateAccepted:  4,
	swarm.TaskStatePreparing: 5,
	swarm.TaskStateReady:     6,
	swarm.TaskStateStarting:  7,
	swarm.TaskStateRunning:   8,
	swarm.TaskStateComplete:  9,
	swarm.TaskStateShutdown:  9,
	swarm.TaskStateFailed:    9,
	swarm.TaskStateRejected:  9,
	swarm.TaskStateOrphaned:  9,
}

// IsTerminal reports whether a task in state s has ended for good.
func IsTerminal(s swarm.TaskState) bool {
	return observedOrder[s] == observedOrder[swarm.TaskStateComplete] && s != ""
}

// Advance checks that a task's observed state may move from current to next: forward only
// (skipping states is fine: ASSIGNED may go straight to REJECTED, PREPARING to FAILED), never
// back, and never out of an end state (COMPLETE, SHUTDOWN, FAILED, REJECTED, ORPHANED).
// Staying in the same state is allowed (a repeated report). REMOVE is a desired state only.
// It is the one place that rule lives; every writer of observed state calls it.
func Advance(current, next swarm.TaskState) error {
	from, ok := observedOrder[current]
	if !ok {
		return fmt.Errorf("task state %q is not an observed task state", current)
	}
	to, ok := observedOrder[next]
	if !ok {
		return fmt.Errorf("task state %q is not an observed task state", next)
	}
	switch {
	case current == next:
		return nil
	case IsTerminal(current):
		return fmt.Errorf("task state cannot change from %s to %s: %s is final", current, next, current)
	case to < from:
		return fmt.Errorf("task state cannot go back from %s to %s", current, next)
	case to == from:
		return fmt.Errorf("task state cannot move sideways from %s to %s", current, next)
	}
	return nil
}
