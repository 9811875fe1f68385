package exec

import (
	"testing"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/internal/taskstate"
)

func TestAdvance(t *testing.T) {
	const (
		nw        = swarm.TaskStateNew
		pending   = swarm.TaskStatePending
		assigned  = swarm.TaskStateAssigned
		accepted  = swarm.TaskStateAccepted
		preparing = swarm.TaskStatePreparing
		starting  = swarm.TaskStateStarting
		running   = swarm.TaskStateRunning
		complete  = swarm.TaskStateComplete
		shutdown  = swarm.TaskStateShutdown
		failed    = swarm.TaskStateFailed
		rejected  = swarm.TaskStateRejected
		orphaned  = swarm.TaskStateOrphaned
	)
	tests := []struct {
		from, to swarm.TaskState
		ok       bool
	}{
		// The normal life, one step at a time.
		{nw, pending, true},
		{pending, assigned, true},
		{assigned, accepted, true},
		{accepted, preparing, true},
		{preparing, starting, true},
		{starting, running, true},
		{running, complete, true},
		{running, shutdown, true},
		{running, failed, true},
		// Skipping forward.
		{assigned, rejected, true},
		{preparing, failed, true},
		{nw, running, true},
		{pending, shutdown, true},
		{running, orphaned, true},
		{swarm.TaskStateAllocated, pending, true},
		{swarm.TaskStatePreparing, swarm.TaskStateReady, true},
		{swarm.TaskStateReady, starting, true},
		// Repeated reports.
		{running, running, true},
		{failed, failed, true},
		// Backwards.
		{running, starting, false},
		{pending, nw, false},
		{accepted, assigned, false},
		{starting, preparing, false},
		// Out of an end state.
		{complete, failed, false},
		{failed, complete, false},
		{shutdown, running, false},
		{rejected, pending, false},
		{orphaned, running, false},
		// Not observed states.
		{running, swarm.TaskStateRemove, false},
		{"", running, false},
		{running, "bogus", false},
	}
	for _, tc := range tests {
		err := Advance(tc.from, tc.to)
		if (err == nil) != tc.ok {
			t.Errorf("Advance(%q, %q) = %v, want ok=%v", tc.from, tc.to, err, tc.ok)
		}
	}
}

// Whatever sequence of proposals a reporter makes, the accepted states never go down in rank
// and nothing follows an end state.
func TestAdvanceNeverGoesBack(t *testing.T) {
	states := []swarm.TaskState{swarm.TaskStateNew, swarm.TaskStateAllocated, swarm.TaskStatePending,
		swarm.TaskStateAssigned, swarm.TaskStateAccepted, swarm.TaskStatePreparing, swarm.TaskStateReady,
		swarm.TaskStateStarting, swarm.TaskStateRunning, swarm.TaskStateComplete, swarm.TaskStateShutdown,
		swarm.TaskStateFailed, swarm.TaskStateRejected, swarm.TaskStateOrphaned}
	for _, a := range states {
		for _, b := range states {
			err := Advance(a, b)
			if err == nil && a != b && (taskstate.Rank(b) <= taskstate.Rank(a) || IsTerminal(a)) {
				t.Errorf("Advance(%s, %s) allowed a move that is not forward", a, b)
			}
			if err != nil && !IsTerminal(a) && taskstate.Rank(b) > taskstate.Rank(a) {
				t.Errorf("Advance(%s, %s) refused a forward move: %v", a, b, err)
			}
		}
	}
}
