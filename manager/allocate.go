package manager

import (
	"context"
	"encoding/json"
	"net/netip"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/internal/portspec"
	"github.com/shoal/shoal/manager/allocator"
	"github.com/shoal/shoal/manager/controlapi"
	"github.com/shoal/shoal/manager/orchestrator"
	"github.com/shoal/shoal/manager/store"
)

// netAlloc is the leader's address and port bookkeeping. It is rebuilt from the store
// when leadership is gained, so a new leader never hands out an address or port the old
// one gave (the reference did, after failovers). Leader only; one goroutine.
type netAlloc struct {
	a        *allocator.Allocator
	services map[string]string   // service ID → name, for releasing what a removed service held
	tasks    map[string][]string // task ID → network IDs it holds addresses on
}

// newNetAlloc rebuilds the bookkeeping from the store's networks, services and live tasks.
func newNetAlloc(st *store.Store) (*netAlloc, []allocator.Problem, error) {
	var cfg allocator.Config
	if c, err := st.Cluster(); err == nil {
		cfg = allocator.Config{DefaultAddrPool: c.DefaultAddrPool, SubnetSize: c.SubnetSize}
	}
	a, err := allocator.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	na := &netAlloc{a: a, services: map[string]string{}, tasks: map[string][]string{}}
	var state allocator.State
	for _, n := range st.Networks() {
		ns := allocator.NetworkState{ID: n.ID, Name: n.Spec.Name}
		ns.Subnet, ns.Gateway = controlapi.NetworkSubnet(n)
		state.Networks = append(state.Networks, ns)
	}
	for _, s := range st.Services() {
		ss := allocator.ServiceState{ID: s.ID, Name: s.Spec.Name}
		for _, v := range s.Endpoint.VirtualIPs {
			ss.VIPs = append(ss.VIPs, allocator.Attachment{Network: v.NetworkID, Addr: v.Addr})
		}
		for _, p := range s.Endpoint.Ports {
			ss.Ports = append(ss.Ports, allocator.PublishedPort{Protocol: string(p.Protocol), Port: p.PublishedPort, Mode: string(p.PublishMode)})
		}
		state.Services = append(state.Services, ss)
		na.services[s.ID] = s.Spec.Name
	}
	for _, t := range st.Tasks() {
		if orchestrator.Ended(t) || len(t.NetworksAttachments) == 0 {
			continue
		}
		ts := allocator.TaskState{ID: t.ID}
		for _, att := range t.NetworksAttachments {
			for _, addr := range att.Addresses {
				ts.Addresses = append(ts.Addresses, allocator.Attachment{Network: att.Network.ID, Addr: addr})
			}
			na.tasks[t.ID] = append(na.tasks[t.ID], att.Network.ID)
		}
		state.Tasks = append(state.Tasks, ts)
	}
	for _, att := range st.NodeAttachments() {
		owner := nodeOwner(att.ID)
		state.Tasks = append(state.Tasks, allocator.TaskState{ID: owner, Addresses: []allocator.Attachment{{Network: att.NetworkID, Addr: att.Addr}}})
		na.tasks[owner] = []string{att.NetworkID}
	}
	return na, a.Rebuild(state), nil
}

// allocationPlan is what one allocation round wants written.
type allocationPlan struct {
	services []*swarm.Service
	tasks    []*swarm.Task
	// nodeAtts are nodes' new ingress endpoints; goneAtts those of nodes no longer there
	// (or of a previous ingress network).
	nodeAtts []*store.NodeAttachment
	goneAtts []*store.NodeAttachment
}

// nodeOwner names a node's own addresses in the allocator, apart from tasks'.
func nodeOwner(nodeID string) string { return "node:" + nodeID }

// plan syncs the bookkeeping with the store and returns the services whose endpoint
// (VIPs, published ports) and the tasks whose network attachments must be written.
// Objects it cannot allocate for are left as they are and reported through logf.
func (na *netAlloc) plan(st *store.Store, logf func(msg string, args ...any)) allocationPlan {
	nets := st.Networks()
	byRef := map[string]*swarm.Network{}
	var ingress *swarm.Network
	live := map[string]bool{}
	for _, n := range nets {
		byRef[n.ID], byRef[n.Spec.Name] = n, n
		live[n.ID] = true
		if n.Spec.Ingress {
			ingress = n
		}
		if _, err := na.a.AddNetwork(controlapi.AllocatorRequest(n)); err != nil {
			logf("network cannot be allocated", "network", n.Spec.Name, "err", err)
		}
	}
	for _, n := range na.a.Networks() {
		if !live[n.ID] {
			na.a.RemoveNetwork(n.ID)
		}
	}

	var out allocationPlan
	services := st.Services()
	present := map[string]bool{}
	for _, s := range services {
		present[s.ID] = true
	}
	// What removed services held is free before anyone asks for it.
	for id, name := range na.services {
		if !present[id] {
			na.a.ReleasePorts(name)
			for _, n := range na.a.Networks() {
				na.a.Release(n.ID, id)
			}
			delete(na.services, id)
		}
	}
	wantBySvc := map[string][]*swarm.Network{}
	for _, s := range services {
		na.services[s.ID] = s.Spec.Name
		want := serviceNetworks(s, byRef, ingress)
		wantBySvc[s.ID] = want
		ep, err := na.endpoint(s, want)
		if err != nil {
			logf("service endpoint cannot be allocated", "service", s.Spec.Name, "err", err)
			continue
		}
		if !sameJSON(ep, s.Endpoint) {
			s.Endpoint = ep
			out.services = append(out.services, s)
		}
	}

	tasks := st.Tasks()
	seen := map[string]bool{}
	for _, t := range tasks {
		seen[t.ID] = true
		if orchestrator.Ended(t) || !orchestrator.Live(t) {
			na.releaseTask(t.ID)
			continue
		}
		want, ok := wantBySvc[t.ServiceID]
		if !ok || len(want) == 0 || attached(t, want) || t.Status.State != swarm.TaskStateNew {
			continue
		}
		var atts []swarm.NetworkAttachment
		failed := false
		for _, n := range want {
			addr, err := na.a.Allocate(n.ID, t.ID)
			if err != nil {
				logf("task address cannot be allocated", "task", t.ID, "network", n.Spec.Name, "err", err)
				failed = true
				break
			}
			na.tasks[t.ID] = appendOnce(na.tasks[t.ID], n.ID)
			atts = append(atts, swarm.NetworkAttachment{Network: *n, Addresses: []netip.Prefix{netip.PrefixFrom(addr, subnetBits(n))}})
		}
		if failed {
			continue
		}
		t.NetworksAttachments = atts
		out.tasks = append(out.tasks, t)
	}
	na.planNodeAttachments(st, ingress, seen, &out, logf)
	for id := range na.tasks {
		if !seen[id] {
			na.releaseTask(id)
		}
	}
	return out
}

// planNodeAttachments gives every node an address on the ingress network (its endpoint
// for the routing mesh) and takes back those of nodes that left.
func (na *netAlloc) planNodeAttachments(st *store.Store, ingress *swarm.Network, seen map[string]bool, out *allocationPlan, logf func(string, ...any)) {
	have := map[string]*store.NodeAttachment{}
	for _, att := range st.NodeAttachments() {
		have[att.ID] = att
	}
	nodes := map[string]bool{}
	for _, n := range st.Nodes() {
		nodes[n.ID] = true
		owner := nodeOwner(n.ID)
		seen[owner] = true
		if ingress == nil {
			continue
		}
		if att, ok := have[n.ID]; ok && att.NetworkID == ingress.ID {
			continue
		}
		addr, err := na.a.Allocate(ingress.ID, owner)
		if err != nil {
			logf("node ingress address cannot be allocated", "node", n.ID, "err", err)
			continue
		}
		na.tasks[owner] = appendOnce(na.tasks[owner], ingress.ID)
		out.nodeAtts = append(out.nodeAtts, &store.NodeAttachment{ID: n.ID, NetworkID: ingress.ID, Addr: netip.PrefixFrom(addr, subnetBits(ingress))})
	}
	for id, att := range have {
		if !nodes[id] || ingress == nil || att.NetworkID != ingress.ID {
			if !nodes[id] {
				seen[nodeOwner(id)] = false
			}
			out.goneAtts = append(out.goneAtts, att)
		}
	}
}

func (na *netAlloc) releaseTask(id string) {
	for _, n := range na.tasks[id] {
		na.a.Release(n, id)
	}
	delete(na.tasks, id)
}

// endpoint works out a service's published ports and VIPs.
func (na *netAlloc) endpoint(s *swarm.Service, want []*swarm.Network) (swarm.Endpoint, error) {
	spec := swarm.EndpointSpec{Mode: swarm.ResolutionModeVIP}
	if s.Spec.EndpointSpec != nil {
		spec = *s.Spec.EndpointSpec
	}
	if spec.Mode == "" {
		spec.Mode = swarm.ResolutionModeVIP
	}
	ep := swarm.Endpoint{Spec: spec}
	owner := s.Spec.Name
	kept := map[allocator.Port]bool{}
	for _, p := range spec.Ports {
		q := p
		q.Protocol = portspec.Protocol(q)
		if q.PublishMode == "" {
			q.PublishMode = swarm.PortConfigPublishModeIngress
		}
		if q.PublishMode == swarm.PortConfigPublishModeIngress {
			if q.PublishedPort == 0 {
				q.PublishedPort = previousPort(s.Endpoint.Ports, q)
			}
			var err error
			if q.PublishedPort == 0 {
				q.PublishedPort, err = na.a.AutoPort(string(q.Protocol), owner)
			} else {
				err = na.a.ReservePort(string(q.Protocol), q.PublishedPort, owner)
			}
			if err != nil {
				return swarm.Endpoint{}, err
			}
			kept[allocator.Port{Protocol: string(q.Protocol), Port: q.PublishedPort}] = true
		}
		ep.Ports = append(ep.Ports, q)
	}
	for _, p := range na.a.Ports(owner) {
		if !kept[p] {
			na.a.ReleasePort(p.Protocol, p.Port, owner)
		}
	}
	wanted := map[string]bool{}
	if spec.Mode == swarm.ResolutionModeVIP {
		for _, n := range want {
			wanted[n.ID] = true
			addr, err := na.a.Allocate(n.ID, s.ID)
			if err != nil {
				return swarm.Endpoint{}, err
			}
			ep.VirtualIPs = append(ep.VirtualIPs, swarm.EndpointVirtualIP{NetworkID: n.ID, Addr: netip.PrefixFrom(addr, subnetBits(n))})
		}
	}
	for _, v := range s.Endpoint.VirtualIPs {
		if !wanted[v.NetworkID] {
			na.a.Release(v.NetworkID, s.ID)
		}
	}
	return ep, nil
}

// previousPort keeps the auto-assigned published port a service already has for a target.
func previousPort(prev []swarm.PortConfig, p swarm.PortConfig) uint32 {
	for _, q := range prev {
		if q.TargetPort == p.TargetPort && q.Protocol == p.Protocol && q.PublishMode == p.PublishMode {
			return q.PublishedPort
		}
	}
	return 0
}

// serviceNetworks lists the networks a service's tasks join: those it names, plus the
// ingress network when it publishes ports through the routing mesh.
func serviceNetworks(s *swarm.Service, byRef map[string]*swarm.Network, ingress *swarm.Network) []*swarm.Network {
	var out []*swarm.Network
	seen := map[string]bool{}
	add := func(n *swarm.Network) {
		if n != nil && !seen[n.ID] {
			seen[n.ID] = true
			out = append(out, n)
		}
	}
	if s.Spec.EndpointSpec != nil && ingress != nil {
		for _, p := range s.Spec.EndpointSpec.Ports {
			if portspec.Ingress(p) {
				add(ingress)
				break
			}
		}
	}
	for _, att := range s.Spec.TaskTemplate.Networks {
		add(byRef[att.Target])
	}
	return out
}

func attached(t *swarm.Task, want []*swarm.Network) bool {
	have := map[string]bool{}
	for _, att := range t.NetworksAttachments {
		if len(att.Addresses) > 0 {
			have[att.Network.ID] = true
		}
	}
	for _, n := range want {
		if !have[n.ID] {
			return false
		}
	}
	return true
}

func subnetBits(n *swarm.Network) int {
	if subnet, _ := controlapi.NetworkSubnet(n); subnet.IsValid() {
		return subnet.Bits()
	}
	return 24
}

func appendOnce(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// allocateOnce runs one allocation round and writes what it decided.
func (m *Manager) allocateOnce(ctx context.Context, na *netAlloc) {
	plan := na.plan(m.store, func(msg string, args ...any) { m.logger.Warn(msg, args...) })
	var actions []store.Action
	for _, s := range plan.services {
		actions = append(actions, store.Action{Op: store.OpUpdate, Service: s})
	}
	for _, t := range plan.tasks {
		actions = append(actions, store.Action{Op: store.OpUpdate, Task: t})
	}
	replaced := map[string]bool{}
	for _, att := range plan.nodeAtts {
		replaced[att.ID] = true
	}
	existed := map[string]bool{}
	for _, att := range plan.goneAtts {
		existed[att.ID] = true
		if !replaced[att.ID] {
			actions = append(actions, store.Action{Op: store.OpDelete, NodeAttachment: att})
		}
	}
	for _, att := range plan.nodeAtts {
		op := store.OpCreate
		if existed[att.ID] {
			op = store.OpUpdate
		}
		actions = append(actions, store.Action{Op: op, NodeAttachment: att})
	}
	if len(actions) == 0 {
		return
	}
	if err := m.store.Write(ctx, actions...); err != nil {
		m.logWriteError("allocating addresses", "", err)
	}
}
