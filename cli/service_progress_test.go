package cli

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

// progressService is a service as the progress display sees it: replicated with n
// replicas, or global when n is nil.
func progressService(replicas *uint64, status *swarm.UpdateStatus) swarm.Service {
	s := swarm.Service{
		ID:   idWeb,
		Spec: swarm.ServiceSpec{UpdateConfig: &swarm.UpdateConfig{Monitor: 5 * time.Second}},
	}
	if replicas != nil {
		s.Spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: replicas}
	} else {
		s.Spec.Mode.Global = &swarm.GlobalService{}
	}
	s.UpdateStatus = status
	return s
}

// slotTask is a task of slot (or, with slot 0, of node) in state.
func slotTask(slot int, node string, desired, state swarm.TaskState, errMsg string) swarm.Task {
	return swarm.Task{
		ID:           fmt.Sprintf("task%d%s%s", slot, node, state),
		ServiceID:    idWeb,
		Slot:         slot,
		NodeID:       node,
		DesiredState: desired,
		Status:       swarm.TaskStatus{State: state, Err: errMsg},
	}
}

var allNodesUp = map[string]bool{idManager1: true, idWorker1: true, idWorker2: true}

type progressStep struct {
	at      time.Duration // since the wait began
	service swarm.Service
	tasks   []swarm.Task
	nodes   map[string]bool
}

// Each scenario feeds polls to a tracker; the golden file holds every frame drawn and
// how the wait ended.
func TestProgressRenderingGolden(t *testing.T) {
	three := ptr[uint64](3)
	running := func(slot int) swarm.Task { return slotTask(slot, idWorker1, "running", "running", "") }
	updating := &swarm.UpdateStatus{State: swarm.UpdateStateUpdating}
	tests := []struct {
		golden   string
		rollback bool // the user asked for the rollback
		narrow   bool // a terminal too narrow for bars
		steps    []progressStep
	}{
		{golden: "progress-partial", steps: []progressStep{
			{at: 0, service: progressService(three, nil)},
			{at: 200 * time.Millisecond, service: progressService(three, nil), tasks: []swarm.Task{
				running(1),
				slotTask(2, idWorker2, "running", "preparing", ""),
				slotTask(3, "", "running", "pending", ""),
			}},
		}},
		{golden: "progress-converged", steps: []progressStep{
			{at: 0, service: progressService(three, nil), tasks: []swarm.Task{
				running(1), running(2), slotTask(3, idManager1, "running", "starting", ""),
			}},
			{at: time.Second, service: progressService(three, nil), tasks: []swarm.Task{running(1), running(2), running(3)}},
			{at: 3 * time.Second, service: progressService(three, nil), tasks: []swarm.Task{running(1), running(2), running(3)}},
			{at: 6 * time.Second, service: progressService(three, nil), tasks: []swarm.Task{running(1), running(2), running(3)}},
		}},
		{golden: "progress-task-failure", steps: []progressStep{
			{at: 0, service: progressService(three, nil), tasks: []swarm.Task{running(1), running(2), running(3)}},
			{at: time.Second, service: progressService(three, nil), tasks: []swarm.Task{
				running(1), running(2),
				// The failed task and its replacement share the slot; the replacement shows.
				slotTask(3, idWorker1, "shutdown", "failed", "task: non-zero exit (1)"),
				slotTask(3, "", "running", "pending", "no suitable node (1 node not available for new tasks; 2 nodes not available due to constraints)"),
			}},
		}},
		{golden: "progress-update-paused", steps: []progressStep{
			{at: 0, service: progressService(three, updating), tasks: []swarm.Task{running(1), slotTask(2, idWorker1, "running", "starting", "")}},
			{at: time.Second, service: progressService(three, &swarm.UpdateStatus{
				State: swarm.UpdateStatePaused, Message: "update paused due to failure or early termination of task 9xr8xkn7aqxp",
			}), tasks: []swarm.Task{running(1), slotTask(2, idWorker1, "shutdown", "failed", "task: non-zero exit (2)")}},
		}},
		{golden: "progress-rolled-back", steps: []progressStep{
			{at: 0, service: progressService(three, updating), tasks: []swarm.Task{running(1)}},
			{at: time.Second, service: progressService(three, &swarm.UpdateStatus{
				State: swarm.UpdateStateRollbackStarted, Message: "update rolled back due to failure or early termination of task 9xr8xkn7aqxp",
			}), tasks: []swarm.Task{running(1), running(2)}},
			{at: 2 * time.Second, service: progressService(three, &swarm.UpdateStatus{
				State: swarm.UpdateStateRollbackCompleted, Message: "rollback completed",
			}), tasks: []swarm.Task{running(1), running(2), running(3)}},
		}},
		{golden: "progress-rollback-requested", rollback: true, steps: []progressStep{
			{at: 0, service: progressService(three, &swarm.UpdateStatus{
				State: swarm.UpdateStateRollbackStarted, Message: "manually requested rollback",
			}), tasks: []swarm.Task{running(1), slotTask(2, idWorker1, "running", "assigned", "")}},
			{at: time.Second, service: progressService(three, &swarm.UpdateStatus{
				State: swarm.UpdateStateRollbackCompleted, Message: "rollback completed",
			}), tasks: []swarm.Task{running(1), running(2), running(3)}},
			{at: 7 * time.Second, service: progressService(three, &swarm.UpdateStatus{
				State: swarm.UpdateStateRollbackCompleted, Message: "rollback completed",
			}), tasks: []swarm.Task{running(1), running(2), running(3)}},
		}},
		{golden: "progress-global", steps: []progressStep{
			{at: 0, service: progressService(nil, nil)},
			{at: time.Second, service: progressService(nil, nil), tasks: []swarm.Task{
				slotTask(0, idWorker2, "running", "running", ""),
				slotTask(0, idManager1, "running", "accepted", ""),
				slotTask(0, idWorker1, "running", "ready", ""),
			}},
			{at: 2 * time.Second, service: progressService(nil, nil), nodes: map[string]bool{idManager1: true, idWorker2: true}, tasks: []swarm.Task{
				slotTask(0, idWorker2, "running", "running", ""),
				slotTask(0, idManager1, "running", "running", ""),
				slotTask(0, idWorker1, "running", "ready", ""),
			}},
		}},
		{golden: "progress-many-replicas", narrow: true, steps: []progressStep{
			{at: 0, service: progressService(ptr[uint64](25), nil), tasks: []swarm.Task{running(1), running(2)}},
		}},
		{golden: "progress-narrow", narrow: true, steps: []progressStep{
			{at: 0, service: progressService(ptr[uint64](2), nil), tasks: []swarm.Task{running(1), slotTask(2, idWorker1, "running", "preparing", "")}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			tracker := &progressTracker{rollbackRequested: tt.rollback, bars: !tt.narrow}
			start := fixtureTime
			var out strings.Builder
			for i, step := range tt.steps {
				nodes := step.nodes
				if nodes == nil {
					nodes = allNodesUp
				}
				lines, done, err := tracker.observe(progressObservation{
					At: start.Add(step.at), Service: step.service, Tasks: step.tasks, ActiveNodes: nodes,
				})
				fmt.Fprintf(&out, "--- poll %d at %v\n%s\n", i+1, step.at, strings.Join(lines, "\n"))
				if done {
					fmt.Fprintf(&out, "=== done, error: %v\n", err)
					if i != len(tt.steps)-1 {
						t.Fatalf("done after poll %d of %d", i+1, len(tt.steps))
					}
				}
			}
			assertGolden(t, tt.golden, out.String())
		})
	}
}

// A status left by an earlier update does not decide a wait that started none (a scale).
func TestProgressIgnoresAnEarlierRollback(t *testing.T) {
	done := &swarm.UpdateStatus{State: swarm.UpdateStateRollbackCompleted, Message: "rollback completed"}
	svc := progressService(ptr[uint64](1), done)
	task := slotTask(1, idWorker1, "running", "running", "")
	tracker := &progressTracker{bars: true}
	for i, at := range []time.Duration{0, 6 * time.Second} {
		lines, finished, err := tracker.observe(progressObservation{
			At: fixtureTime.Add(at), Service: svc, Tasks: []swarm.Task{task}, ActiveNodes: allNodesUp,
		})
		if err != nil || finished != (i == 1) {
			t.Fatalf("poll %d: done %v err %v", i+1, finished, err)
		}
		if last := lines[len(lines)-1]; i == 1 && last != "verify: Service converged" {
			t.Errorf("last line %q", last)
		}
	}
}

func TestProgressBar(t *testing.T) {
	for state, want := range map[swarm.TaskState]string{
		"new":       "[=====>                                             ]",
		"preparing": "[=================================>                 ]",
		"running":   "[==================================================>]",
	} {
		if got := progressBar(stateOrder[state], runningRank); got != want {
			t.Errorf("%s: %s, want %s", state, got, want)
		}
	}
}

func TestProgressPrinterOnATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := &progressPrinter{out: &buf, terminal: true}
	p.show([]string{"overall progress: 0 out of 1 tasks", "1/1:"})
	p.show([]string{"overall progress: 0 out of 1 tasks", "1/1:"}) // unchanged: nothing drawn
	p.show([]string{"overall progress: 1 out of 1 tasks", "1/1: running", "verify: Service converged"})
	p.show([]string{"overall progress: 1 out of 1 tasks"})
	want := "\x1b[2Koverall progress: 0 out of 1 tasks\n\x1b[2K1/1:\n" +
		"\x1b[2A\x1b[2Koverall progress: 1 out of 1 tasks\n\x1b[2K1/1: running\n\x1b[2Kverify: Service converged\n" +
		"\x1b[3A\x1b[2Koverall progress: 1 out of 1 tasks\n\x1b[2K\n\x1b[2K\n\x1b[2A"
	if got := buf.String(); got != want {
		t.Errorf("drawn\n%q\nwant\n%q", got, want)
	}
}

func TestProgressPrinterPlain(t *testing.T) {
	var buf bytes.Buffer
	p := &progressPrinter{out: &buf}
	p.show([]string{"overall progress: 0 out of 2 tasks", "1/2:", "2/2:"})
	p.show([]string{"overall progress: 0 out of 2 tasks", "1/2: preparing", "2/2:"})
	p.show([]string{"overall progress: 1 out of 2 tasks", "1/2: running", "2/2: preparing"})
	p.show([]string{"overall progress: 1 out of 2 tasks", "1/2: running", "2/2: preparing"})
	want := "overall progress: 0 out of 2 tasks\n1/2: preparing\noverall progress: 1 out of 2 tasks\n1/2: running\n2/2: preparing\n"
	if got := buf.String(); got != want {
		t.Errorf("printed\n%s\nwant\n%s", got, want)
	}
}
