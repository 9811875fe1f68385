package scheduler

import (
	"fmt"

	"github.com/moby/moby/api/types/swarm"
)

// fakeSnapshot is an in-memory Snapshot.
type fakeSnapshot struct {
	nodes    []*swarm.Node
	tasks    []*swarm.Task
	services map[string]*swarm.Service
}

func (s *fakeSnapshot) Nodes() []*swarm.Node { return s.nodes }
func (s *fakeSnapshot) Tasks() []*swarm.Task { return s.tasks }
func (s *fakeSnapshot) Service(id string) *swarm.Service {
	return s.services[id]
}

type nodeOpt func(*swarm.Node)

func newNode(id string, opts ...nodeOpt) *swarm.Node {
	n := &swarm.Node{
		ID: id,
		Spec: swarm.NodeSpec{
			Role:         swarm.NodeRoleWorker,
			Availability: swarm.NodeAvailabilityActive,
			Annotations:  swarm.Annotations{Labels: map[string]string{}},
		},
		Description: swarm.NodeDescription{
			Hostname:  id,
			Platform:  swarm.Platform{OS: "linux", Architecture: "x86_64"},
			Resources: swarm.Resources{NanoCPUs: 4e9, MemoryBytes: 8 << 30},
		},
		Status: swarm.NodeStatus{State: swarm.NodeStateReady, Addr: "10.0.0.1"},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func withState(s swarm.NodeState) nodeOpt { return func(n *swarm.Node) { n.Status.State = s } }
func withAvailability(a swarm.NodeAvailability) nodeOpt {
	return func(n *swarm.Node) { n.Spec.Availability = a }
}
func withLabel(k, v string) nodeOpt { return func(n *swarm.Node) { n.Spec.Labels[k] = v } }
func withResources(cpu, mem int64) nodeOpt {
	return func(n *swarm.Node) { n.Description.Resources = swarm.Resources{NanoCPUs: cpu, MemoryBytes: mem} }
}
func withArch(a string) nodeOpt {
	return func(n *swarm.Node) { n.Description.Platform.Architecture = a }
}
func withRole(r swarm.NodeRole) nodeOpt {
	return func(n *swarm.Node) { n.Spec.Role = r }
}

type taskOpt func(*swarm.Task)

func newTask(id, service string, opts ...taskOpt) *swarm.Task {
	t := &swarm.Task{
		ID:           id,
		ServiceID:    service,
		DesiredState: swarm.TaskStateRunning,
		Status:       swarm.TaskStatus{State: swarm.TaskStatePending},
	}
	for _, o := range opts {
		o(t)
	}
	return t
}

func placement(t *swarm.Task) *swarm.Placement {
	if t.Spec.Placement == nil {
		t.Spec.Placement = &swarm.Placement{}
	}
	return t.Spec.Placement
}

func withConstraints(cs ...string) taskOpt {
	return func(t *swarm.Task) { placement(t).Constraints = cs }
}
func withSpread(descs ...string) taskOpt {
	return func(t *swarm.Task) {
		for _, d := range descs {
			placement(t).Preferences = append(placement(t).Preferences, swarm.PlacementPreference{Spread: &swarm.SpreadOver{SpreadDescriptor: d}})
		}
	}
}
func withMaxReplicas(n uint64) taskOpt { return func(t *swarm.Task) { placement(t).MaxReplicas = n } }
func withPlatforms(ps ...swarm.Platform) taskOpt {
	return func(t *swarm.Task) { placement(t).Platforms = ps }
}
func withReservation(cpu, mem int64) taskOpt {
	return func(t *swarm.Task) {
		t.Spec.Resources = &swarm.ResourceRequirements{Reservations: &swarm.Resources{NanoCPUs: cpu, MemoryBytes: mem}}
	}
}
func onNode(id string, state swarm.TaskState) taskOpt {
	return func(t *swarm.Task) { t.NodeID = id; t.Status.State = state }
}
func desired(s swarm.TaskState) taskOpt { return func(t *swarm.Task) { t.DesiredState = s } }

// pendingTasks makes n pending tasks of a service, all with the same options.
func pendingTasks(service string, n int, opts ...taskOpt) []*swarm.Task {
	out := make([]*swarm.Task, n)
	for i := range out {
		out[i] = newTask(fmt.Sprintf("%s.%d", service, i+1), service, opts...)
	}
	return out
}

// perNode counts placements per node.
func perNode(ds []Decision) map[string]int {
	m := map[string]int{}
	for _, d := range ds {
		if d.NodeID != "" {
			m[d.NodeID]++
		}
	}
	return m
}

func hostPortService(id string, port uint32) *swarm.Service {
	return &swarm.Service{ID: id, Spec: swarm.ServiceSpec{EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{
		{Protocol: "tcp", TargetPort: 80, PublishedPort: port, PublishMode: swarm.PortConfigPublishModeHost},
	}}}}
}
