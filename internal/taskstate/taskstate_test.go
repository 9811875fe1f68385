package taskstate

import (
	"testing"

	"github.com/moby/moby/api/types/swarm"
)

func TestRankFollowsATasksLife(t *testing.T) {
	life := []swarm.TaskState{swarm.TaskStateNew, swarm.TaskStatePending, swarm.TaskStateAssigned,
		swarm.TaskStateAccepted, swarm.TaskStatePreparing, swarm.TaskStateStarting, swarm.TaskStateRunning,
		swarm.TaskStateShutdown, swarm.TaskStateRemove}
	for i := 1; i < len(life); i++ {
		if Rank(life[i-1]) >= Rank(life[i]) {
			t.Errorf("Rank(%s) = %d is not below Rank(%s) = %d", life[i-1], Rank(life[i-1]), life[i], Rank(life[i]))
		}
	}
	if Rank("bogus") != Rank(swarm.TaskStateNew) || Known("bogus") {
		t.Error("an unknown state does not rank as NEW")
	}
}

func TestTerminalAndObserved(t *testing.T) {
	for _, s := range order {
		ended := Rank(s) > Rank(swarm.TaskStateRunning) && s != swarm.TaskStateRemove
		if IsTerminal(s) != ended {
			t.Errorf("IsTerminal(%s) = %v", s, IsTerminal(s))
		}
		if Observed(s) == (s == swarm.TaskStateRemove) {
			t.Errorf("Observed(%s) = %v", s, Observed(s))
		}
	}
	if IsTerminal("") || Observed("") {
		t.Error("the empty state is terminal or observed")
	}
}
