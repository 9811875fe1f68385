package cli

// The convergence display of create, update, scale and rollback without -d, as docker
// shows it:
//
//	overall progress: 2 out of 3 tasks
//	1/3: running   [==================================================>]
//	2/3: running   [==================================================>]
//	3/3: preparing [=================================>                 ]
//	verify: Waiting 5 seconds to verify that tasks are stable...
//
// This file is the pure part: a tracker that turns what each poll saw into the lines to
// show and an outcome, with no I/O and no clock of its own. service_progress_wait.go polls
// and draws.

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

const (
	// defaultMonitor is how long tasks must stay running before a service counts as
	// converged, when its update policy names no monitor period.
	defaultMonitor = 5 * time.Second
	// maxProgressBars is the most per-task lines shown; more tasks show only the total.
	maxProgressBars = 20
	// progressBarWidth is docker's bar width, in characters.
	progressBarWidth = 50
)

// stateOrder ranks the task states a progress bar shows; running fills the bar. The
// states after running only order tasks.
var stateOrder = map[swarm.TaskState]int{
	swarm.TaskStateNew:       1,
	swarm.TaskStateAllocated: 2,
	swarm.TaskStatePending:   3,
	swarm.TaskStateAssigned:  4,
	swarm.TaskStateAccepted:  5,
	swarm.TaskStatePreparing: 6,
	swarm.TaskStateReady:     7,
	swarm.TaskStateStarting:  8,
	swarm.TaskStateRunning:   9,
	swarm.TaskStateComplete:  10,
	swarm.TaskStateShutdown:  11,
	swarm.TaskStateFailed:    12,
	swarm.TaskStateRejected:  13,
}

const (
	runningRank = 9
	// stateWidth pads state names to the longest one a bar shows ("preparing").
	stateWidth = 9
)

func terminalState(s swarm.TaskState) bool { return stateOrder[s] > runningRank }

// progressObservation is what one poll saw.
type progressObservation struct {
	At      time.Time
	Service swarm.Service
	// Tasks are the service's tasks with its current spec (the "_up-to-date" ones).
	Tasks []swarm.Task
	// ActiveNodes are the nodes that are not down.
	ActiveNodes map[string]bool
}

// progressTracker follows one service toward convergence across polls. Its zero value
// is ready, apart from the options.
type progressTracker struct {
	// rollbackRequested is set when the user asked for the rollback (service rollback,
	// update --rollback): its completion is then a success, not a failure.
	rollbackRequested bool
	// bars draws progress bars; false on terminals too narrow for them.
	bars bool

	rollback        bool      // a rollback is under way
	rollbackLine    string    // "rollback: ..." shown while rolling back
	rollbackDone    string    // message of a completed, requested rollback
	sawUpdating     bool      // the update was seen in progress
	convergedAt     time.Time // when every task was first seen running; zero if not now
	verify          string    // the "verify: ..." line's text, once there is one
	lastTaskLines   []string
	lastConvergence bool
}

// observe takes one poll's view and returns the lines to show, whether the wait is over,
// and the error that ends it unsuccessfully.
func (t *progressTracker) observe(o progressObservation) (lines []string, done bool, err error) {
	monitor := defaultMonitor
	if uc := o.Service.Spec.UpdateConfig; uc != nil && uc.Monitor != 0 {
		monitor = uc.Monitor
	}

	if st := o.Service.UpdateStatus; st != nil {
		switch st.State {
		case swarm.UpdateStateUpdating:
			t.rollback = false
			t.sawUpdating = true
		case swarm.UpdateStateCompleted:
			// The update this wait follows is over: it finished while some task was
			// not running, which its failure action allowed.
			if t.sawUpdating && !t.lastConvergence {
				return t.lines(t.lastTaskLines), true, nil
			}
		case swarm.UpdateStatePaused:
			return t.lines(t.lastTaskLines), true, fmt.Errorf("service update paused: %s", st.Message)
		case swarm.UpdateStateRollbackStarted:
			if !t.rollback && st.Message != "" {
				t.rollbackLine = "rollback: " + st.Message
			}
			t.rollback = true
		case swarm.UpdateStateRollbackPaused:
			return t.lines(t.lastTaskLines), true, fmt.Errorf("service rollback paused: %s", st.Message)
		case swarm.UpdateStateRollbackCompleted:
			switch {
			case t.rollbackRequested:
				t.rollback = true
				t.rollbackDone = st.Message
			case t.sawUpdating || t.rollback:
				// The update this wait follows failed and was undone.
				return t.lines(t.lastTaskLines), true, fmt.Errorf("service rolled back: %s", st.Message)
			}
			// Otherwise the status is an earlier update's: this change did not start
			// one (a scale), and convergence alone decides.
		}
	}

	taskLines, converged, err := renderTaskProgress(o.Service, o.Tasks, o.ActiveNodes, t.rollback, t.bars)
	if err != nil {
		return nil, true, err
	}
	t.lastTaskLines, t.lastConvergence = taskLines, converged

	if !converged {
		if !t.convergedAt.IsZero() {
			t.verify = "Detected task failure"
		}
		t.convergedAt = time.Time{}
		return t.lines(taskLines), false, nil
	}
	if t.convergedAt.IsZero() {
		t.convergedAt = o.At
	}
	stable := o.At.Sub(t.convergedAt)
	if stable >= monitor {
		t.verify = "Service converged"
		lines = t.lines(taskLines)
		if t.rollbackDone != "" {
			lines = append(lines, "rollback: "+t.rollbackDone)
		}
		return lines, true, nil
	}
	wait := (monitor - stable + time.Second - 1) / time.Second // whole seconds, rounded up
	t.verify = fmt.Sprintf("Waiting %d seconds to verify that tasks are stable...", wait)
	return t.lines(taskLines), false, nil
}

// lines puts the rollback and verify lines under the task lines.
func (t *progressTracker) lines(taskLines []string) []string {
	lines := append([]string(nil), taskLines...)
	if t.rollbackLine != "" {
		lines = append(lines, t.rollbackLine)
	}
	if t.verify != "" {
		lines = append(lines, "verify: "+t.verify)
	}
	return lines
}

// renderTaskProgress returns the overall line and a line per slot (replicated) or node
// (global), and whether every task is running.
func renderTaskProgress(svc swarm.Service, tasks []swarm.Task, activeNodes map[string]bool, rollback, bars bool) ([]string, bool, error) {
	switch mode := svc.Spec.Mode; {
	case mode.Replicated != nil:
		replicas := uint64(1)
		if mode.Replicated.Replicas != nil {
			replicas = *mode.Replicated.Replicas
		}
		lines, converged := renderReplicatedProgress(replicas, tasks, activeNodes, rollback, bars)
		return lines, converged, nil
	case mode.Global != nil:
		lines, converged := renderGlobalProgress(tasks, activeNodes, rollback, bars)
		return lines, converged, nil
	}
	return nil, false, errors.New("unrecognized service mode")
}

func renderReplicatedProgress(replicas uint64, tasks []swarm.Task, activeNodes map[string]bool, rollback, bars bool) ([]string, bool) {
	bySlot := currentTasks(tasks, func(t swarm.Task) (int, bool) {
		if t.NodeID != "" && !activeNodes[t.NodeID] {
			return 0, false
		}
		return t.Slot, true
	})
	slots := make([]int, 0, len(bySlot))
	for slot := range bySlot {
		slots = append(slots, slot)
	}
	sort.Ints(slots)

	var running uint64
	for _, slot := range slots {
		if task := bySlot[slot]; !terminalState(task.DesiredState) && task.Status.State == swarm.TaskStateRunning {
			running++
		}
	}
	lines := []string{overallProgress(int(running), int(replicas), rollback)}
	if replicas <= maxProgressBars {
		for i := uint64(1); i <= replicas; i++ {
			id := fmt.Sprintf("%d/%d", i, replicas)
			if int(i) > len(slots) {
				lines = append(lines, id+":")
				continue
			}
			lines = append(lines, taskProgressLine(id, bySlot[slots[i-1]], bars))
		}
	}
	return lines, running == replicas
}

func renderGlobalProgress(tasks []swarm.Task, activeNodes map[string]bool, rollback, bars bool) ([]string, bool) {
	byNode := currentTasks(tasks, func(t swarm.Task) (string, bool) { return t.NodeID, true })
	if len(byNode) == 0 {
		// The orchestrator has not made the tasks yet, or no node fits the service.
		return []string{"overall progress: waiting for new tasks"}, false
	}
	nodes := make([]string, 0, len(byNode))
	for node := range byNode {
		nodes = append(nodes, node)
	}
	sort.Strings(nodes)

	running := 0
	var taskLines []string
	for _, node := range nodes {
		if !activeNodes[node] {
			continue
		}
		task := byNode[node]
		if !terminalState(task.DesiredState) && task.Status.State == swarm.TaskStateRunning {
			running++
		}
		taskLines = append(taskLines, taskProgressLine(truncateID(node), task, bars))
	}
	lines := []string{overallProgress(running, len(byNode), rollback)}
	if len(byNode) <= maxProgressBars {
		lines = append(lines, taskLines...)
	}
	return lines, running == len(byNode)
}

// currentTasks picks one task per key (slot or node): of several, the one with the
// lowest desired state, then the lowest observed state, as a restart or a start-first
// update leaves two in a slot. Tasks in states without a rank are left out.
func currentTasks[K comparable](tasks []swarm.Task, key func(swarm.Task) (K, bool)) map[K]swarm.Task {
	picked := map[K]swarm.Task{}
	for _, task := range tasks {
		if stateOrder[task.DesiredState] == 0 || stateOrder[task.Status.State] == 0 {
			continue
		}
		k, ok := key(task)
		if !ok {
			continue
		}
		if cur, seen := picked[k]; seen {
			if stateOrder[cur.DesiredState] < stateOrder[task.DesiredState] {
				continue
			}
			if stateOrder[cur.DesiredState] == stateOrder[task.DesiredState] &&
				stateOrder[cur.Status.State] <= stateOrder[task.Status.State] {
				continue
			}
		}
		picked[k] = task
	}
	return picked
}

func overallProgress(running, total int, rollback bool) string {
	if rollback {
		return fmt.Sprintf("overall progress: rolling back update: %d out of %d tasks", running, total)
	}
	return fmt.Sprintf("overall progress: %d out of %d tasks", running, total)
}

// taskProgressLine shows one task: its error, or its state with a bar that fills as the
// task moves toward running.
func taskProgressLine(id string, task swarm.Task, bars bool) string {
	if task.Status.Err != "" {
		return id + ": " + truncateProgressError(task.Status.Err)
	}
	state := fmt.Sprintf("%-*s", stateWidth, task.Status.State)
	if terminalState(task.DesiredState) || terminalState(task.Status.State) || !bars {
		return strings.TrimRight(id+": "+state, " ")
	}
	return id + ": " + state + " " + progressBar(stateOrder[task.Status.State], runningRank)
}

// progressBar draws docker's bar for current out of total.
func progressBar(current, total int) string {
	filled := min(int(float64(current)/float64(total)*100)/2, progressBarWidth)
	return "[" + strings.Repeat("=", filled) + ">" + strings.Repeat(" ", progressBarWidth-filled) + "]"
}

// truncateProgressError keeps a task error on one line of at most 75 characters.
func truncateProgressError(msg string) string {
	return ellipsis(strings.ReplaceAll(msg, "\n", " "), 75)
}
