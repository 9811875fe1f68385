package manager

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/manager/controlapi"
	"github.com/shoal/shoal/manager/store"
)

type applyNow struct {
	mu    sync.Mutex
	index uint64
	s     *store.Store
}

func (p *applyNow) Propose(_ context.Context, cmd []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.index++
	return p.s.Apply(p.index, cmd)
}

func newAllocStore(t *testing.T) *store.Store {
	t.Helper()
	st := store.New(nil, time.Now)
	st.SetProposer(&applyNow{s: st})
	c := &store.Cluster{}
	c.ID = "c"
	c.DefaultAddrPool = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	c.SubnetSize = 24
	ingress, err := controlapi.NewNetwork(network.CreateRequest{Name: "ingress", Ingress: true}, nil, c.DefaultAddrPool, 24)
	if err != nil {
		t.Fatal(err)
	}
	web, err := controlapi.NewNetwork(network.CreateRequest{Name: "webnet"}, []*swarm.Network{ingress}, c.DefaultAddrPool, 24)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Write(context.Background(), store.Action{Op: store.OpCreate, Cluster: c},
		store.Action{Op: store.OpCreate, Network: ingress}, store.Action{Op: store.OpCreate, Network: web}); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestAllocationRound(t *testing.T) {
	ctx := context.Background()
	st := newAllocStore(t)
	svc := &swarm.Service{ID: "s1", Spec: swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: "web"},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "x"}, Networks: []swarm.NetworkAttachmentConfig{{Target: "webnet"}}},
		EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 8080, PublishedPort: 8080}, {TargetPort: 9090}}},
	}}
	other := &swarm.Service{ID: "s2", Spec: swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: "other"},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "x"}},
		EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 80, PublishedPort: 8080}}},
	}}
	tasks := []*swarm.Task{
		{ID: "t1", ServiceID: "s1", Slot: 1, DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: swarm.TaskStateNew}},
		{ID: "t2", ServiceID: "s1", Slot: 2, DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: swarm.TaskStateNew}},
	}
	actions := []store.Action{{Op: store.OpCreate, Service: svc}, {Op: store.OpCreate, Service: other}}
	for _, tk := range tasks {
		actions = append(actions, store.Action{Op: store.OpCreate, Task: tk})
	}
	if err := st.Write(ctx, actions...); err != nil {
		t.Fatal(err)
	}
	na, problems, err := newNetAlloc(st)
	if err != nil || len(problems) != 0 {
		t.Fatalf("rebuild: %v %v", err, problems)
	}
	var warnings []string
	plan := na.plan(st, func(msg string, args ...any) { warnings = append(warnings, msg) })
	if len(plan.services) != 1 || plan.services[0].ID != "s1" {
		t.Fatalf("services planned = %d, want web only (other's port 8080 conflicts)", len(plan.services))
	}
	if len(warnings) != 1 {
		t.Fatalf("warnings = %v, want one for the port conflict", warnings)
	}
	ep := plan.services[0].Endpoint
	if len(ep.VirtualIPs) != 2 {
		t.Fatalf("VIPs = %+v, want one on ingress and one on webnet", ep.VirtualIPs)
	}
	if len(ep.Ports) != 2 || ep.Ports[0].PublishedPort != 8080 || ep.Ports[1].PublishedPort < 30000 || ep.Ports[1].PublishedPort > 32767 {
		t.Fatalf("ports = %+v, want 8080 and one from 30000-32767", ep.Ports)
	}
	if len(plan.tasks) != 2 {
		t.Fatalf("tasks planned = %d, want 2", len(plan.tasks))
	}
	seen := map[netip.Addr]bool{}
	for _, v := range ep.VirtualIPs {
		seen[v.Addr.Addr()] = true
	}
	for _, tk := range plan.tasks {
		if len(tk.NetworksAttachments) != 2 {
			t.Fatalf("task %s attachments = %+v, want 2", tk.ID, tk.NetworksAttachments)
		}
		for _, att := range tk.NetworksAttachments {
			a := att.Addresses[0].Addr()
			if seen[a] {
				t.Fatalf("address %s handed out twice", a)
			}
			seen[a] = true
		}
	}
	// Write the round, rebuild as a new leader would: no conflicts, and the next round
	// changes nothing.
	var writes []store.Action
	for _, s := range plan.services {
		writes = append(writes, store.Action{Op: store.OpUpdate, Service: s})
	}
	for _, tk := range plan.tasks {
		writes = append(writes, store.Action{Op: store.OpUpdate, Task: tk})
	}
	if err := st.Write(ctx, writes...); err != nil {
		t.Fatal(err)
	}
	na2, problems, err := newNetAlloc(st)
	if err != nil || len(problems) != 0 {
		t.Fatalf("rebuild after the round: %v %v", err, problems)
	}
	again := na2.plan(st, func(string, ...any) {})
	if len(again.tasks) != 0 || len(again.services) != 0 {
		t.Fatalf("a second round after a rebuild changed %d services and %d tasks; want none", len(again.services), len(again.tasks))
	}
	// Removing web frees 8080 for other.
	s1, _ := st.Service("s1")
	if err := st.Write(ctx, store.Action{Op: store.OpDelete, Service: s1}); err != nil {
		t.Fatal(err)
	}
	freed := na2.plan(st, func(string, ...any) {})
	if len(freed.services) != 1 || freed.services[0].ID != "s2" || freed.services[0].Endpoint.Ports[0].PublishedPort != 8080 {
		t.Fatalf("after web was removed: %+v, want other to get 8080", freed.services)
	}
}
