package manager

import (
	"testing"

	"github.com/moby/moby/api/types/swarm"
)

func TestStateMovesForward(t *testing.T) {
	tests := []struct {
		from, to swarm.TaskState
		want     bool
	}{
		{swarm.TaskStateAssigned, swarm.TaskStateAccepted, true},
		{swarm.TaskStateAssigned, swarm.TaskStateRunning, true},
		{swarm.TaskStateRunning, swarm.TaskStateFailed, true},
		{swarm.TaskStateRunning, swarm.TaskStateStarting, false},
		{swarm.TaskStateRunning, swarm.TaskStateRunning, false},
		{swarm.TaskStateFailed, swarm.TaskStateRunning, false},
		{swarm.TaskStateShutdown, swarm.TaskStateComplete, false},
		{swarm.TaskStateNew, "bogus", false},
	}
	for _, tc := range tests {
		if got := StateMovesForward(tc.from, tc.to); got != tc.want {
			t.Errorf("StateMovesForward(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}
