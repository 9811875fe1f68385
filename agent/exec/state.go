package exec

import (
	"fmt"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/internal/taskstate"
)

// IsTerminal reports whether a task in state s has ended for good.
func IsTerminal(s swarm.TaskState) bool { return taskstate.IsTerminal(s) }

// Advance checks that a task's observed state may move from current to next: forward only
// (skipping states is fine: ASSIGNED may go straight to REJECTED, PREPARING to FAILED), never
// back, and never out of an end state (COMPLETE, SHUTDOWN, FAILED, REJECTED, ORPHANED).
// Staying in the same state is allowed (a repeated report). REMOVE is a desired state only.
// It is the one place that rule lives; every writer of observed state calls it.
func Advance(current, next swarm.TaskState) error {
	if !taskstate.Observed(current) {
		return fmt.Errorf("task state %q is not an observed task state", current)
	}
	if !taskstate.Observed(next) {
		return fmt.Errorf("task state %q is not an observed task state", next)
	}
	switch from, to := taskstate.Rank(current), taskstate.Rank(next); {
	case current == next:
		return nil
	case IsTerminal(current):
		return fmt.Errorf("task state cannot change from %s to %s: %s is final", current, next, current)
	case to < from:
		return fmt.Errorf("task state cannot go back from %s to %s", current, next)
	}
	return nil
}
