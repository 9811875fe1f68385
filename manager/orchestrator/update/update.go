// Package update plans rolling updates and rollbacks: which tasks to replace next, when,
// and whether the update is done, paused or rolling back. Plan is pure: it reads the
// service, its tasks and the time, and everything it needs to remember lives in those
// (the update's start time, the tasks' specs, states and timestamps), so a new leader
// picks up an update where the old one left it.
package update

import (
	"encoding/json"
	"sort"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/manager/orchestrator"
)

// Input is one service being updated (or rolled back) and all its tasks.
type Input struct {
	Service *swarm.Service
	Tasks   []*swarm.Task
	// Nodes are the cluster's nodes: a task on a node that is not ready will never report
	// that it stopped, so it does not hold up its replacement.
	Nodes []*swarm.Node
	Now   time.Time
}

// Step is what to do now.
type Step struct {
	// Create are replacement tasks (ID empty). With stop-first their desired state is
	// READY until the task they replace has stopped; with start-first it is RUNNING.
	Create []swarm.Task
	// Shutdown are old tasks to stop.
	Shutdown []string
	// Start are READY replacements whose predecessors have stopped: their desired state
	// becomes RUNNING.
	Start []string
	// Status, when set, is the service's new UpdateStatus.
	Status *swarm.UpdateStatus
	// Rollback asks to roll the service back to its previous spec (failure action).
	Rollback bool
	// NextAt is when to look again (a delay or a monitor window ending).
	NextAt time.Time
}

// settleTime is how long a replacement must have been running before the next slot is
// replaced, so a task that exits at once is seen failing before the update moves on.
const settleTime = time.Second

// slotKey groups a replicated service's tasks by slot and a global one's by node.
func slotKey(svc *swarm.Service, t *swarm.Task) string {
	if svc.Spec.Mode.Global != nil {
		return t.NodeID
	}
	return strconv.Itoa(t.Slot)
}

// IsCurrent says whether a task runs the service's current task template.
func IsCurrent(svc *swarm.Service, t *swarm.Task) bool {
	a, err1 := json.Marshal(svc.Spec.TaskTemplate)
	b, err2 := json.Marshal(t.Spec)
	return err1 == nil && err2 == nil && string(a) == string(b)
}

// Config is the update (or, while rolling back, the rollback) configuration in force.
func Config(svc *swarm.Service) swarm.UpdateConfig {
	var uc *swarm.UpdateConfig
	if svc.UpdateStatus != nil && isRollback(svc.UpdateStatus.State) {
		uc = svc.Spec.RollbackConfig
	} else {
		uc = svc.Spec.UpdateConfig
	}
	if uc == nil {
		return swarm.UpdateConfig{Parallelism: 1, FailureAction: swarm.UpdateFailureActionPause, Monitor: 5 * time.Second, Order: swarm.UpdateOrderStopFirst}
	}
	c := *uc
	if c.Monitor == 0 {
		c.Monitor = 5 * time.Second
	}
	return c
}

func isRollback(s swarm.UpdateState) bool {
	return s == swarm.UpdateStateRollbackStarted || s == swarm.UpdateStateRollbackPaused || s == swarm.UpdateStateRollbackCompleted
}

// Plan decides the next step of a service's update.
func Plan(in Input) Step {
	svc, now := in.Service, in.Now
	cfg := Config(svc)
	rollback := svc.UpdateStatus != nil && isRollback(svc.UpdateStatus.State)
	var started time.Time
	if svc.UpdateStatus != nil && svc.UpdateStatus.StartedAt != nil {
		started = *svc.UpdateStatus.StartedAt
	}

	type slot struct {
		key      string
		slot     int
		nodeID   string
		old      []*swarm.Task // live tasks on another spec
		current  *swarm.Task   // the live task on the current spec, if any
		stopping bool          // a task told to stop has not stopped yet
		failedAt *swarm.Task   // a task of this update that failed
	}
	ready := map[string]bool{}
	for _, n := range in.Nodes {
		ready[n.ID] = n.Status.State == swarm.NodeStateReady
	}
	nodeLost := func(t *swarm.Task) bool { return in.Nodes != nil && t.NodeID != "" && !ready[t.NodeID] }
	slots := map[string]*slot{}
	for _, t := range in.Tasks {
		k := slotKey(svc, t)
		s := slots[k]
		if s == nil {
			s = &slot{key: k, slot: t.Slot, nodeID: t.NodeID}
			slots[k] = s
		}
		current := IsCurrent(svc, t)
		if !orchestrator.Live(t) && !orchestrator.Ended(t) && !nodeLost(t) {
			s.stopping = true
		}
		switch {
		case orchestrator.Live(t) && current:
			s.current = t
		case orchestrator.Live(t):
			s.old = append(s.old, t)
		case current && !t.CreatedAt.Before(started) && failedEarly(t, cfg.Monitor):
			s.failedAt = t
		}
	}
	keys := make([]string, 0, len(slots))
	for k := range slots {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := slots[keys[i]], slots[keys[j]]
		if a.slot != b.slot {
			return a.slot < b.slot
		}
		return a.key < b.key
	})

	var step Step
	soon := func(t time.Time) {
		if !t.IsZero() && t.After(now) && (step.NextAt.IsZero() || t.Before(step.NextAt)) {
			step.NextAt = t
		}
	}
	// inFlight counts replacements not yet running (they use up the parallelism);
	// monitoring counts running ones still inside their monitor window (they hold off
	// completion, and a failure among them still counts, but they do not slow the
	// update down: as in the reference, the monitor window is watched in the background).
	inFlight, monitoring, dirty, failures, total := 0, 0, []*slot{}, 0, 0
	var lastProgress time.Time
	var failedTask *swarm.Task
	for _, k := range keys {
		s := slots[k]
		if s.current == nil && len(s.old) == 0 {
			if s.failedAt != nil {
				failures++
				failedTask = s.failedAt
			}
			continue
		}
		total++
		if s.failedAt != nil {
			failures++
			failedTask = s.failedAt
		}
		cur := s.current
		switch {
		case cur == nil:
			dirty = append(dirty, s)
			continue
		case cur.DesiredState == swarm.TaskStateReady:
			inFlight++
			if !s.stopping && allStopped(s.old) {
				step.Start = append(step.Start, cur.ID)
			}
			continue
		case cur.Status.State != swarm.TaskStateRunning:
			inFlight++
			continue
		}
		// The current task runs: old ones go (start-first), and it is watched for
		// the monitor window if this update made it.
		for _, o := range s.old {
			if o.DesiredState != swarm.TaskStateShutdown {
				step.Shutdown = append(step.Shutdown, o.ID)
			}
		}
		if !cur.CreatedAt.Before(started) {
			runningSince := cur.Status.Timestamp
			if runningSince.After(lastProgress) {
				lastProgress = runningSince
			}
			if end := runningSince.Add(min(cfg.Monitor, settleTime)); now.Before(end) {
				inFlight++ // a task that dies at once usually does so within this time
				soon(end)
			} else if end := runningSince.Add(cfg.Monitor); now.Before(end) {
				monitoring++
				soon(end)
			}
		}
	}

	if failures > 0 && cfg.FailureAction != swarm.UpdateFailureActionContinue &&
		float64(failures) > float64(cfg.MaxFailureRatio)*float64(max(total, 1)) {
		msg := "update paused due to failure or early termination of task " + failedTask.ID
		switch {
		case rollback:
			step.Status = &swarm.UpdateStatus{State: swarm.UpdateStateRollbackPaused, StartedAt: svc.UpdateStatus.StartedAt,
				Message: "rollback paused due to failure or early termination of task " + failedTask.ID}
		case cfg.FailureAction == swarm.UpdateFailureActionRollback:
			step.Rollback = true
			step.Status = &swarm.UpdateStatus{State: swarm.UpdateStateRollbackStarted, StartedAt: &now,
				Message: "update rolled back due to failure or early termination of task " + failedTask.ID}
		default:
			step.Status = &swarm.UpdateStatus{State: swarm.UpdateStatePaused, StartedAt: svc.UpdateStatus.StartedAt, Message: msg}
		}
		step.Create, step.Start = nil, nil
		return step
	}

	if len(dirty) == 0 && inFlight == 0 && monitoring == 0 && len(step.Shutdown) == 0 {
		done := now
		st := &swarm.UpdateStatus{State: swarm.UpdateStateCompleted, StartedAt: svc.UpdateStatus.StartedAt, CompletedAt: &done, Message: "update completed"}
		if rollback {
			st.State, st.Message = swarm.UpdateStateRollbackCompleted, "rollback completed"
		}
		step.Status = st
		return step
	}

	room := len(dirty)
	if cfg.Parallelism > 0 {
		room = int(cfg.Parallelism) - inFlight
	}
	if room <= 0 || len(dirty) == 0 {
		return step
	}
	if cfg.Delay > 0 && !lastProgress.IsZero() && now.Before(lastProgress.Add(cfg.Delay)) {
		soon(lastProgress.Add(cfg.Delay))
		return step
	}
	for _, s := range dirty[:min(room, len(dirty))] {
		t := orchestrator.NewTask(svc, s.slot, globalNode(svc, s.nodeID), now)
		if cfg.Order == swarm.UpdateOrderStartFirst {
			step.Create = append(step.Create, t)
			continue
		}
		t.DesiredState = swarm.TaskStateReady
		step.Create = append(step.Create, t)
		for _, o := range s.old {
			step.Shutdown = append(step.Shutdown, o.ID)
		}
	}
	return step
}

func globalNode(svc *swarm.Service, nodeID string) string {
	if svc.Spec.Mode.Global != nil {
		return nodeID
	}
	return ""
}

// allStopped says whether every task has ended.
func allStopped(ts []*swarm.Task) bool {
	for _, t := range ts {
		if !orchestrator.Ended(t) {
			return false
		}
	}
	return true
}

// failedEarly says whether a task of the update failed: it was refused, failed, or
// exited within the monitor window of starting.
func failedEarly(t *swarm.Task, monitor time.Duration) bool {
	switch t.Status.State {
	case swarm.TaskStateFailed, swarm.TaskStateRejected:
		return t.DesiredState == swarm.TaskStateRunning || t.DesiredState == swarm.TaskStateShutdown
	case swarm.TaskStateComplete:
		return true
	}
	return false
}
