package manager

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/ca"
	"github.com/shoal/shoal/clusterapi"
	"github.com/shoal/shoal/internal/apierr"
	"github.com/shoal/shoal/internal/portspec"
	"github.com/shoal/shoal/manager/controlapi"
	"github.com/shoal/shoal/manager/orchestrator"
	"github.com/shoal/shoal/manager/store"
	"github.com/shoal/shoal/network/dns"
)

const maxAssignmentWait = 30 * time.Second

// handleAssignments answers a node with its tasks, holding the request while nothing
// changed (long poll). Any manager can answer: it reads its own store.
func (m *Manager) handleAssignments(w http.ResponseWriter, r *http.Request, id ca.NodeIdentity) {
	var req clusterapi.AssignmentsRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.NodeID != id.NodeID {
		writeError(w, apierr.Forbiddenf("node %s cannot ask for node %s's tasks", id.NodeID, req.NodeID))
		return
	}
	wait := min(max(req.Wait, 0), maxAssignmentWait)
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	for {
		changed := m.store.Changed()
		resp := assignmentsFor(m.views.get(m.store), req.NodeID)
		if resp.ETag != req.Known {
			writeJSON(w, resp)
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			writeJSON(w, resp)
			return
		case <-r.Context().Done():
			return
		}
	}
}

// assignmentsFor lists a node's tasks, the overlay networks they are on and the other
// nodes' tasks there, with an ETag over all of it.
func assignmentsFor(v *clusterView, nodeID string) clusterapi.AssignmentsResponse {
	tasks := v.tasksByNode[nodeID]
	h := sha256.New()
	out := clusterapi.AssignmentsResponse{Tasks: make([]swarm.Task, 0, len(tasks))}
	onNet := map[string]bool{}
	for _, t := range tasks {
		fmt.Fprintf(h, "%s/%d;", t.ID, t.Version.Index)
		out.Tasks = append(out.Tasks, *t)
		if s := v.serviceByID[t.ServiceID]; s != nil && out.ServiceNames[s.ID] == "" {
			if out.ServiceNames == nil {
				out.ServiceNames = map[string]string{}
			}
			out.ServiceNames[s.ID] = s.Spec.Name
			fmt.Fprintf(h, "service %s %s;", s.ID, s.Spec.Name)
		}
		if orchestrator.Ended(t) {
			continue
		}
		if ports := portspec.HostPorts(v.serviceByID[t.ServiceID]); len(ports) > 0 {
			if out.HostPorts == nil {
				out.HostPorts = map[string][]swarm.PortConfig{}
			}
			out.HostPorts[t.ID] = ports
			fmt.Fprintf(h, "hostports %s %v;", t.ID, ports)
		}
		for _, att := range t.NetworksAttachments {
			onNet[att.Network.ID] = true
		}
	}
	addrs := map[string]netip.Addr{} // Ready nodes' underlay addresses (their VTEPs)
	for _, n := range v.nodes {
		if n.Status.State != swarm.NodeStateReady {
			continue
		}
		if a, err := netip.ParseAddr(n.Status.Addr); err == nil {
			addrs[n.ID] = a
		}
		if api := clusterapi.NodeAPIAddr(n); api != "" {
			out.Nodes = append(out.Nodes, clusterapi.NodeEndpoint{ID: n.ID, Addr: api})
			fmt.Fprintf(h, "node %s %s;", n.ID, api)
		}
	}
	nodeAtts := v.nodeAtts
	for _, att := range nodeAtts {
		if att.ID == nodeID {
			onNet[att.NetworkID] = true
			out.Ingress = &clusterapi.IngressEndpoint{NetworkID: att.NetworkID, Addr: att.Addr}
			fmt.Fprintf(h, "ingress %s %s;", att.NetworkID, att.Addr)
		}
	}
	if out.Ingress != nil {
		out.Mesh = meshPorts(v, out.Ingress.NetworkID)
		if b, err := json.Marshal(out.Mesh); err == nil {
			h.Write(b)
		}
	}
	if len(onNet) > 0 {
		for _, n := range v.networks {
			if !onNet[n.ID] {
				continue
			}
			on := clusterapi.OverlayNetwork{ID: n.ID}
			if v, err := strconv.ParseUint(n.DriverState.Options[controlapi.VXLANIDOption], 10, 32); err == nil {
				on.VNI = uint32(v)
			}
			on.Subnet, on.Gateway = controlapi.NetworkSubnet(n)
			out.Networks = append(out.Networks, on)
			fmt.Fprintf(h, "net %s %d %s;", on.ID, on.VNI, on.Subnet)
		}
		// A task stays a peer until it has stopped, so the requests in flight on it
		// while it drains still reach it.
		for _, t := range v.tasks {
			if t.NodeID == nodeID || t.NodeID == "" || orchestrator.Ended(t) {
				continue
			}
			vtep, ok := addrs[t.NodeID]
			if !ok {
				continue
			}
			for _, att := range t.NetworksAttachments {
				if !onNet[att.Network.ID] || len(att.Addresses) == 0 {
					continue
				}
				p := clusterapi.OverlayPeer{NetworkID: att.Network.ID, TaskID: t.ID, IP: att.Addresses[0].Addr(), NodeAddr: vtep}
				out.Peers = append(out.Peers, p)
				fmt.Fprintf(h, "peer %s %s %s %s;", p.NetworkID, p.TaskID, p.IP, p.NodeAddr)
			}
		}
		// Other nodes' ingress endpoints answer the mesh's connections to local tasks.
		for _, att := range nodeAtts {
			if vtep, ok := addrs[att.ID]; ok && att.ID != nodeID && onNet[att.NetworkID] {
				p := clusterapi.OverlayPeer{NetworkID: att.NetworkID, TaskID: "node-" + att.ID, IP: att.Addr.Addr(), NodeAddr: vtep}
				out.Peers = append(out.Peers, p)
				fmt.Fprintf(h, "peer %s %s %s %s;", p.NetworkID, p.TaskID, p.IP, p.NodeAddr)
			}
		}
		out.DNS = dnsRecords(v, onNet)
		if b, err := json.Marshal(out.DNS); err == nil {
			h.Write(b)
		}
	}
	out.ETag = hex.EncodeToString(h.Sum(nil)[:12])
	return out
}

// dnsRecords are the names tasks on these networks resolve: services with their VIPs and
// tasks with their addresses (not on the ingress network, where nothing is resolved).
func dnsRecords(v *clusterView, onNet map[string]bool) dns.Records {
	var rec dns.Records
	resolvable := map[string]bool{}
	for _, n := range v.networks {
		if onNet[n.ID] && !n.Spec.Ingress {
			resolvable[n.ID] = true
			rec.Networks = append(rec.Networks, dns.Network{ID: n.ID, Name: n.Spec.Name})
		}
	}
	names := map[string]string{}
	for _, s := range v.services {
		names[s.ID] = s.Spec.Name
		svc := dns.Service{ID: s.ID, Name: s.Spec.Name, EndpointMode: dns.EndpointVIP}
		if s.Endpoint.Spec.Mode == swarm.ResolutionModeDNSRR {
			svc.EndpointMode = dns.EndpointDNSRR
		}
		for _, v := range s.Endpoint.VirtualIPs {
			if resolvable[v.NetworkID] {
				svc.Networks = append(svc.Networks, dns.ServiceNetwork{Network: v.NetworkID, VIP: v.Addr.Addr()})
			}
		}
		for _, att := range s.Spec.TaskTemplate.Networks {
			if n := v.network(att.Target); n != nil && resolvable[n.ID] && svc.EndpointMode == dns.EndpointDNSRR {
				svc.Networks = append(svc.Networks, dns.ServiceNetwork{Network: n.ID, Aliases: att.Aliases})
			}
		}
		if len(svc.Networks) > 0 {
			rec.Services = append(rec.Services, svc)
		}
	}
	for _, t := range v.tasks {
		if orchestrator.Ended(t) || !orchestrator.Live(t) || names[t.ServiceID] == "" {
			continue
		}
		task := dns.Task{ID: t.ID, ServiceID: t.ServiceID, Slot: t.Slot, NodeID: t.NodeID,
			Running: t.Status.State == swarm.TaskStateRunning && t.DesiredState == swarm.TaskStateRunning}
		if t.Slot > 0 {
			task.Name = names[t.ServiceID] + "." + strconv.Itoa(t.Slot) + "." + t.ID
		} else {
			task.Name = names[t.ServiceID] + "." + t.NodeID + "." + t.ID
		}
		for _, att := range t.NetworksAttachments {
			if resolvable[att.Network.ID] && len(att.Addresses) > 0 {
				task.Addresses = append(task.Addresses, dns.Attachment{Network: att.Network.ID, IP: att.Addresses[0].Addr()})
			}
		}
		if len(task.Addresses) > 0 {
			rec.Tasks = append(rec.Tasks, task)
		}
	}
	return rec
}

// handleTaskStatus records what a node observed of its tasks.
func (m *Manager) handleTaskStatus(w http.ResponseWriter, r *http.Request, id ca.NodeIdentity) {
	var req clusterapi.TaskStatusRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.NodeID != id.NodeID {
		writeError(w, apierr.Forbiddenf("node %s cannot report for node %s", id.NodeID, req.NodeID))
		return
	}
	if err := m.recordTaskStatus(r.Context(), req); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, struct{}{})
}

// recordTaskStatus writes the updates that move a task forward; stale or backward
// reports are dropped (the observed state only moves forward).
func (m *Manager) recordTaskStatus(ctx context.Context, req clusterapi.TaskStatusRequest) error {
	for attempt := 0; ; attempt++ {
		var actions []store.Action
		for _, u := range req.Updates {
			t, err := m.store.Task(u.TaskID)
			if err != nil || t.NodeID != req.NodeID {
				continue // removed meanwhile, or not this node's
			}
			if !StateMovesForward(t.Status.State, u.Status.State) && !(t.Status.State == u.Status.State && statusChanged(t.Status, u.Status)) {
				continue
			}
			t.Status = u.Status
			actions = append(actions, store.Action{Op: store.OpUpdate, Task: t})
		}
		if len(actions) == 0 {
			return nil
		}
		err := m.store.Write(ctx, actions...)
		if apierr.KindOf(err) != apierr.KindConflict || attempt >= 3 {
			return err
		}
	}
}

func statusChanged(a, b swarm.TaskStatus) bool {
	return a.Message != b.Message || a.Err != b.Err ||
		(a.ContainerStatus == nil) != (b.ContainerStatus == nil) ||
		!slices.Equal(a.PortStatus.Ports, b.PortStatus.Ports)
}

// StateMovesForward says whether a task may go from one observed state to the next:
// only forward, and never out of an end state.
func StateMovesForward(from, to swarm.TaskState) bool {
	if orchestrator.Ended(&swarm.Task{Status: swarm.TaskStatus{State: from}}) {
		return false
	}
	return orchestrator.Rank(to) > orchestrator.Rank(from)
}

// meshPorts lists the ports published through the routing mesh, each with the running
// tasks of its service at their ingress addresses.
func meshPorts(v *clusterView, ingressID string) []clusterapi.MeshPort {
	var out []clusterapi.MeshPort
	for _, s := range v.services {
		var backends []clusterapi.MeshBackend
		for _, t := range v.tasksByService[s.ID] {
			if t.DesiredState != swarm.TaskStateRunning || t.Status.State != swarm.TaskStateRunning {
				continue
			}
			for _, att := range t.NetworksAttachments {
				if att.Network.ID == ingressID && len(att.Addresses) > 0 {
					backends = append(backends, clusterapi.MeshBackend{TaskID: t.ID, IP: att.Addresses[0].Addr()})
				}
			}
		}
		for _, p := range s.Endpoint.Ports {
			if p.PublishMode != swarm.PortConfigPublishModeIngress || p.PublishedPort == 0 {
				continue
			}
			proto := string(portspec.Protocol(p))
			balance := s.Spec.Labels[clusterapi.MeshBalanceLabel]
			if balance == "" {
				balance = clusterapi.MeshBalanceAuto
			}
			out = append(out, clusterapi.MeshPort{Service: s.Spec.Name, Protocol: proto, PublishedPort: p.PublishedPort, TargetPort: p.TargetPort, Balance: balance, Backends: backends})
		}
	}
	return out
}
