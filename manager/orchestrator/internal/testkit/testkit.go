// Package testkit builds services, nodes and tasks for the reconcilers' tests, draws
// random ones for property tests, and runs a reconciler until it settles.
package testkit

import (
	"fmt"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"pgregory.net/rapid"

	"github.com/shoal/shoal/manager/orchestrator"
)

// Base is the tests' epoch.
var Base = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// At is Base plus s seconds.
func At(s int) time.Time { return Base.Add(time.Duration(s) * time.Second) }

// Node makes a node.
func Node(id string, state swarm.NodeState, avail swarm.NodeAvailability, labels map[string]string) *swarm.Node {
	if labels == nil {
		labels = map[string]string{}
	}
	return &swarm.Node{
		ID:          id,
		Spec:        swarm.NodeSpec{Annotations: swarm.Annotations{Labels: labels}, Role: swarm.NodeRoleWorker, Availability: avail},
		Description: swarm.NodeDescription{Hostname: id, Platform: swarm.Platform{OS: "linux", Architecture: "x86_64"}},
		Status:      swarm.NodeStatus{State: state, Addr: "10.0.0.1"},
	}
}

// Ready makes ready, active nodes.
func Ready(ids ...string) []*swarm.Node {
	out := make([]*swarm.Node, len(ids))
	for i, id := range ids {
		out[i] = Node(id, swarm.NodeStateReady, swarm.NodeAvailabilityActive, nil)
	}
	return out
}

// Template is a task template running image.
func Template(image string, rp *swarm.RestartPolicy, constraints ...string) swarm.TaskSpec {
	spec := swarm.TaskSpec{
		ContainerSpec: &swarm.ContainerSpec{Image: image, Env: []string{"A=1"}},
		RestartPolicy: rp,
	}
	if len(constraints) > 0 {
		spec.Placement = &swarm.Placement{Constraints: constraints}
	}
	return spec
}

// Replicated makes a replicated service.
func Replicated(id string, replicas uint64, tmpl swarm.TaskSpec) *swarm.Service {
	return &swarm.Service{
		ID:   id,
		Meta: swarm.Meta{Version: swarm.Version{Index: 7}},
		Spec: swarm.ServiceSpec{
			Annotations:  swarm.Annotations{Name: id},
			TaskTemplate: tmpl,
			Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
		},
	}
}

// Global makes a global service.
func Global(id string, tmpl swarm.TaskSpec) *swarm.Service {
	return &swarm.Service{
		ID:   id,
		Meta: swarm.Meta{Version: swarm.Version{Index: 7}},
		Spec: swarm.ServiceSpec{
			Annotations:  swarm.Annotations{Name: id},
			TaskTemplate: tmpl,
			Mode:         swarm.ServiceMode{Global: &swarm.GlobalService{}},
		},
	}
}

// Policy makes a restart policy.
func Policy(cond swarm.RestartPolicyCondition, delay time.Duration, maxAttempts uint64, window time.Duration) *swarm.RestartPolicy {
	return &swarm.RestartPolicy{Condition: cond, Delay: &delay, MaxAttempts: &maxAttempts, Window: &window}
}

// Task makes a task of svc from spec, created at At(created); its status changed then too.
func Task(id string, svc *swarm.Service, spec swarm.TaskSpec, slot int, node string, desired, observed swarm.TaskState, created int) *swarm.Task {
	return &swarm.Task{
		ID:           id,
		Meta:         swarm.Meta{CreatedAt: At(created)},
		Spec:         spec,
		ServiceID:    svc.ID,
		Slot:         slot,
		NodeID:       node,
		DesiredState: desired,
		Status:       swarm.TaskStatus{State: observed, Timestamp: At(created)},
	}
}

// IDs returns a generator of fresh task IDs.
func IDs() func() string {
	n := 0
	return func() string {
		n++
		return fmt.Sprintf("new-%d", n)
	}
}

// Reconciler is replicated.Reconcile or global.Reconcile.
type Reconciler func(orchestrator.Input) (orchestrator.Plan, error)

// Converge applies plans until one asks for nothing, moving the clock to each RetryAt.
// It returns the final tasks and the final time, and fails if that takes more than steps.
func Converge(reconcile Reconciler, in orchestrator.Input, steps int) ([]*swarm.Task, time.Time, error) {
	ids := IDs()
	for range steps {
		p, err := reconcile(in)
		if err != nil {
			return nil, in.Now, err
		}
		if p.Empty() {
			if p.RetryAt.IsZero() {
				return in.Tasks, in.Now, nil
			}
			if !p.RetryAt.After(in.Now) {
				return nil, in.Now, fmt.Errorf("plan is empty but asks to retry at %v, not after now %v", p.RetryAt, in.Now)
			}
			in.Now = p.RetryAt
			continue
		}
		in.Tasks = p.Apply(in.Tasks, ids)
	}
	return nil, in.Now, fmt.Errorf("did not settle in %d steps", steps)
}

// States observed states are drawn from.
var States = []swarm.TaskState{
	swarm.TaskStateNew, swarm.TaskStatePending, swarm.TaskStateAssigned, swarm.TaskStateAccepted,
	swarm.TaskStatePreparing, swarm.TaskStateReady, swarm.TaskStateStarting,
	swarm.TaskStateRunning, swarm.TaskStateRunning, swarm.TaskStateRunning,
	swarm.TaskStateComplete, swarm.TaskStateShutdown, swarm.TaskStateFailed, swarm.TaskStateRejected,
	swarm.TaskStateOrphaned,
}

// DesiredStates desired states are drawn from.
var DesiredStates = []swarm.TaskState{
	swarm.TaskStateRunning, swarm.TaskStateRunning, swarm.TaskStateReady,
	swarm.TaskStateShutdown, swarm.TaskStateShutdown, swarm.TaskStateRemove,
}

// DrawNodes draws up to max nodes n0, n1, ... in any state, some labelled zone=a.
func DrawNodes(t *rapid.T, max int) []*swarm.Node {
	nodes := make([]*swarm.Node, rapid.IntRange(0, max).Draw(t, "nodes"))
	for i := range nodes {
		id := fmt.Sprintf("n%d", i)
		state := rapid.SampledFrom([]swarm.NodeState{swarm.NodeStateReady, swarm.NodeStateReady, swarm.NodeStateReady, swarm.NodeStateDown, swarm.NodeStateUnknown}).Draw(t, id+".state")
		avail := rapid.SampledFrom([]swarm.NodeAvailability{swarm.NodeAvailabilityActive, swarm.NodeAvailabilityActive, swarm.NodeAvailabilityPause, swarm.NodeAvailabilityDrain}).Draw(t, id+".availability")
		labels := map[string]string{}
		if rapid.Bool().Draw(t, id+".zone") {
			labels["zone"] = "a"
		}
		nodes[i] = Node(id, state, avail, labels)
	}
	return nodes
}

// DrawPolicy draws a restart policy, or nil for the defaults.
func DrawPolicy(t *rapid.T) *swarm.RestartPolicy {
	if rapid.IntRange(0, 4).Draw(t, "defaultPolicy") == 0 {
		return nil
	}
	return Policy(
		rapid.SampledFrom([]swarm.RestartPolicyCondition{swarm.RestartPolicyConditionAny, swarm.RestartPolicyConditionOnFailure, swarm.RestartPolicyConditionNone}).Draw(t, "condition"),
		time.Duration(rapid.SampledFrom([]int{0, 5, 30}).Draw(t, "delay"))*time.Second,
		uint64(rapid.IntRange(0, 3).Draw(t, "maxAttempts")),
		time.Duration(rapid.SampledFrom([]int{0, 0, 20}).Draw(t, "window"))*time.Second,
	)
}

// DrawTasks draws up to max tasks of svc, made from its template or from old, in slots
// 0..maxSlot (global services: slot 0), on the given nodes, no node, or a node that is gone.
func DrawTasks(t *rapid.T, svc *swarm.Service, old swarm.TaskSpec, nodes []*swarm.Node, maxSlot, max int) []*swarm.Task {
	nodeIDs := []string{"", "gone"}
	for _, n := range nodes {
		nodeIDs = append(nodeIDs, n.ID)
	}
	tasks := make([]*swarm.Task, rapid.IntRange(0, max).Draw(t, "tasks"))
	for i := range tasks {
		spec := svc.Spec.TaskTemplate
		if rapid.IntRange(0, 3).Draw(t, "oldSpec") == 0 {
			spec = old
		}
		tasks[i] = Task(fmt.Sprintf("t%d", i), svc, spec,
			rapid.IntRange(0, maxSlot).Draw(t, "slot"),
			rapid.SampledFrom(nodeIDs).Draw(t, "node"),
			rapid.SampledFrom(DesiredStates).Draw(t, "desired"),
			rapid.SampledFrom(States).Draw(t, "observed"),
			rapid.IntRange(0, 60).Draw(t, "created"),
		)
		tasks[i].Status.Timestamp = tasks[i].CreatedAt.Add(time.Duration(rapid.IntRange(0, 30).Draw(t, "statusAfter")) * time.Second)
	}
	return tasks
}
