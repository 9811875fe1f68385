package agent

import (
	"net/netip"
	"sort"

	"github.com/shoal/shoal/clusterapi"
)

// NetState reads back what the node's data plane does now (see clusterapi.NetState).
func (w *Worker) NetState() (clusterapi.NetState, error) {
	st := clusterapi.NetState{NodeID: w.cfg.NodeID}
	if w.plumb == nil {
		return st, nil
	}
	return w.plumb.netState(st)
}

func (p *plumbing) netState(st clusterapi.NetState) (clusterapi.NetState, error) {
	st = p.userSpaceState(st)
	// The kernel is read without the lock: a netlink dump must not hold up updates.
	obs, err := p.cfg.Kernel.Observe(p.cfg.UnderlayIP)
	if err != nil {
		return st, err
	}
	st.Overlay = obs
	return st, nil
}

// userSpaceState reads the balancers, resolvers and VIP rules the plumbing holds.
func (p *plumbing) userSpaceState(st clusterapi.NetState) clusterapi.NetState {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ml := range p.mesh {
		ms := clusterapi.MeshState{Protocol: ml.port.Protocol, PublishedPort: ml.port.PublishedPort, Backends: []string{}}
		for _, be := range ml.b.Stats().Backends {
			if be.InSet && !be.Draining {
				ms.Backends = append(ms.Backends, be.ID)
			}
		}
		sort.Strings(ms.Backends)
		st.Mesh = append(st.Mesh, ms)
	}
	sort.Slice(st.Mesh, func(i, j int) bool { return st.Mesh[i].PublishedPort < st.Mesh[j].PublishedPort })
	for id, lt := range p.local {
		if id == ingressSandbox {
			continue
		}
		ts := clusterapi.TaskNetState{TaskID: id, VIPs: map[netip.Addr][]netip.Addr{}}
		for _, att := range lt.attachments {
			ts.Networks = append(ts.Networks, att.Network.ID)
		}
		sort.Strings(ts.Networks)
		if r, ok := p.servers[id]; ok {
			ts.Names = r.srv.Names(netip.Addr{})
		}
		for _, s := range p.vipApplied[id] {
			ts.VIPs[s.VIP] = append([]netip.Addr(nil), s.Backends...)
		}
		st.Tasks = append(st.Tasks, ts)
	}
	sort.Slice(st.Tasks, func(i, j int) bool { return st.Tasks[i].TaskID < st.Tasks[j].TaskID })
	return st
}
