package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoal/shoal/ca"
	"github.com/shoal/shoal/clusterapi"
	"github.com/shoal/shoal/lab"
)

// This file reads what decides a node's data plane (the cluster state, through the
// manager's Docker API) and what the data plane holds (each node's /node/netstate answer
// and the namespaces its daemon made), in the reduced forms the churn test compares.

// vxlanIDOption is where a network's VXLAN ID shows in the Docker API.
const vxlanIDOption = "com.docker.network.driver.overlay.vxlanid_list"

// ingressSandboxTask is the task ID the agent gives a node's own endpoint on the ingress
// network (agent.ingressSandbox).
const ingressSandboxTask = "ingress-sbox"

// clusterState is the cluster as the manager's API shows it, reduced to what decides each
// node's data plane.
type clusterState struct {
	Nodes    []csNode
	Networks []csNetwork
	Services []csService
	Tasks    []csTask
	// Ingress is each node's own endpoint on the ingress network, by node ID. The Docker
	// API does not show these (Docker lists them as the ingress network's peers), so the
	// test takes each from that node's own kernel: the ingress-sbox endpoint.
	Ingress map[string]netip.Addr
}

type csNode struct {
	ID, Name string
	Addr     netip.Addr // underlay address, the node's VTEP
	Ready    bool
	APIAddr  string // node API
}

type csNetwork struct {
	ID, Name string
	VNI      uint32
	Ingress  bool
	Subnet   netip.Prefix
	Gateway  netip.Addr
}

type csService struct {
	ID, Name string
	DNSRR    bool
	Networks []string              // network IDs of the spec's attachments
	VIPs     map[string]netip.Addr // network ID → VIP
	Ports    []uint32              // TCP ports published through the routing mesh
}

type csTask struct {
	ID, ServiceID, NodeID string
	Slot                  int
	State, Desired        swarm.TaskState
	Networks              []string              // IDs of the networks it is attached to
	Addrs                 map[string]netip.Addr // network ID → address
}

// ended: the task's observed state is past RUNNING (orchestrator.Ended).
func (t csTask) ended() bool { return taskStateRank(t.State) > taskStateRank(swarm.TaskStateRunning) }

// running: observed and desired RUNNING, the tasks that take new work.
func (t csTask) running() bool {
	return t.State == swarm.TaskStateRunning && t.Desired == swarm.TaskStateRunning
}

// taskStateRank orders task states as the manager does (orchestrator.Rank).
func taskStateRank(s swarm.TaskState) int {
	order := []swarm.TaskState{
		swarm.TaskStateNew, swarm.TaskStateAllocated, swarm.TaskStatePending, swarm.TaskStateAssigned,
		swarm.TaskStateAccepted, swarm.TaskStatePreparing, swarm.TaskStateReady, swarm.TaskStateStarting,
		swarm.TaskStateRunning, swarm.TaskStateComplete, swarm.TaskStateShutdown, swarm.TaskStateFailed,
		swarm.TaskStateRejected, swarm.TaskStateRemove, swarm.TaskStateOrphaned,
	}
	return max(slices.Index(order, s), 0)
}

func (cs clusterState) node(id string) (csNode, bool) {
	i := slices.IndexFunc(cs.Nodes, func(n csNode) bool { return n.ID == id })
	if i < 0 {
		return csNode{}, false
	}
	return cs.Nodes[i], true
}

func (cs clusterState) network(id string) (csNetwork, bool) {
	i := slices.IndexFunc(cs.Networks, func(n csNetwork) bool { return n.ID == id })
	if i < 0 {
		return csNetwork{}, false
	}
	return cs.Networks[i], true
}

func (cs clusterState) service(id string) (csService, bool) {
	i := slices.IndexFunc(cs.Services, func(s csService) bool { return s.ID == id })
	if i < 0 {
		return csService{}, false
	}
	return cs.Services[i], true
}

func (cs clusterState) serviceNamed(name string) (csService, bool) {
	i := slices.IndexFunc(cs.Services, func(s csService) bool { return s.Name == name })
	if i < 0 {
		return csService{}, false
	}
	return cs.Services[i], true
}

func (cs clusterState) ingressNetwork() (csNetwork, bool) {
	i := slices.IndexFunc(cs.Networks, func(n csNetwork) bool { return n.Ingress })
	if i < 0 {
		return csNetwork{}, false
	}
	return cs.Networks[i], true
}

// readClusterState reads nodes, networks, services and tasks from a manager's API.
func readClusterState(ctx context.Context, mc *client.Client) (clusterState, error) {
	var cs clusterState
	nodes, err := mc.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return cs, fmt.Errorf("node list: %w", err)
	}
	for _, n := range nodes.Items {
		addr, _ := netip.ParseAddr(n.Status.Addr)
		cs.Nodes = append(cs.Nodes, csNode{ID: n.ID, Name: n.Description.Hostname, Addr: addr,
			Ready: n.Status.State == swarm.NodeStateReady, APIAddr: clusterapi.NodeAPIAddr(&n)})
	}
	nets, err := mc.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return cs, fmt.Errorf("network list: %w", err)
	}
	for _, n := range nets.Items {
		cn := csNetwork{ID: n.ID, Name: n.Name, Ingress: n.Ingress}
		if v, err := strconv.ParseUint(n.Options[vxlanIDOption], 10, 32); err == nil {
			cn.VNI = uint32(v)
		}
		if len(n.IPAM.Config) > 0 {
			cn.Subnet, cn.Gateway = n.IPAM.Config[0].Subnet, n.IPAM.Config[0].Gateway
		}
		cs.Networks = append(cs.Networks, cn)
	}
	services, err := mc.ServiceList(ctx, client.ServiceListOptions{})
	if err != nil {
		return cs, fmt.Errorf("service list: %w", err)
	}
	for _, s := range services.Items {
		cs.Services = append(cs.Services, serviceFromAPI(s, cs.Networks))
	}
	tasks, err := mc.TaskList(ctx, client.TaskListOptions{})
	if err != nil {
		return cs, fmt.Errorf("task list: %w", err)
	}
	for _, t := range tasks.Items {
		ct := csTask{ID: t.ID, ServiceID: t.ServiceID, NodeID: t.NodeID, Slot: t.Slot,
			State: t.Status.State, Desired: t.DesiredState, Addrs: map[string]netip.Addr{}}
		for _, att := range t.NetworksAttachments {
			ct.Networks = append(ct.Networks, att.Network.ID)
			if len(att.Addresses) > 0 {
				ct.Addrs[att.Network.ID] = att.Addresses[0].Addr()
			}
		}
		cs.Tasks = append(cs.Tasks, ct)
	}
	return cs, nil
}

func serviceFromAPI(s swarm.Service, nets []csNetwork) csService {
	cs := csService{ID: s.ID, Name: s.Spec.Name, VIPs: map[string]netip.Addr{}}
	mode := s.Endpoint.Spec.Mode
	if s.Spec.EndpointSpec != nil && s.Spec.EndpointSpec.Mode != "" {
		mode = s.Spec.EndpointSpec.Mode
	}
	cs.DNSRR = mode == swarm.ResolutionModeDNSRR
	for _, att := range s.Spec.TaskTemplate.Networks {
		for _, n := range nets {
			if att.Target == n.ID || att.Target == n.Name {
				cs.Networks = append(cs.Networks, n.ID)
			}
		}
	}
	for _, v := range s.Endpoint.VirtualIPs {
		if v.Addr.IsValid() {
			cs.VIPs[v.NetworkID] = v.Addr.Addr()
		}
	}
	for _, p := range s.Endpoint.Ports {
		if (p.PublishMode == "" || p.PublishMode == swarm.PortConfigPublishModeIngress) && p.PublishedPort != 0 &&
			(p.Protocol == "" || p.Protocol == "tcp") {
			cs.Ports = append(cs.Ports, p.PublishedPort)
		}
	}
	return cs
}

// nodeObservation is what one node's data plane holds: its /node/netstate answer and the
// namespaces its daemon made (their names past the node's prefix: t<task>, ov<VNI>, ingress).
type nodeObservation struct {
	NodeID     string
	Name       string
	State      clusterapi.NetState
	Namespaces []string
}

// netStateReader asks every node of a lab for its data plane, as a node of the swarm.
type netStateReader struct {
	l      *lab.Lab
	mc     *client.Client
	client *clusterapi.Client
}

// newNetStateReader loads manager-1's node credentials from its state directory: the
// node API answers only a node certificate of the swarm.
func newNetStateReader(t *testing.T, l *lab.Lab) *netStateReader {
	t.Helper()
	mgr := node(t, l, "manager-1")
	rootPEM, certPEM, keyPEM, err := ca.LoadNodeCredentials(filepath.Join(mgr.DataRoot, "swarm", "certificates"))
	if err != nil {
		t.Fatalf("manager-1's node credentials: %v", err)
	}
	root, err := ca.ParseRootCA(rootPEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := ca.NewCredentials(root, certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	c := clusterapi.NewClient(creds.NodeClientTLSConfig(clusterapi.ProtoAPI))
	t.Cleanup(c.Close)
	return &netStateReader{l: l, mc: apiClient(t, l, "manager-1"), client: c}
}

// read takes the cluster state and then every node's data plane, and fills in the
// cluster state's ingress endpoints from the nodes.
func (r *netStateReader) read(ctx context.Context) (clusterState, []nodeObservation, error) {
	cs, err := readClusterState(ctx, r.mc)
	if err != nil {
		return cs, nil, err
	}
	obs := make([]nodeObservation, len(cs.Nodes))
	errs := make([]error, len(cs.Nodes))
	var wg sync.WaitGroup
	for i, n := range cs.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			obs[i], errs[i] = r.readNode(ctx, n)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return cs, nil, err
		}
	}
	cs.Ingress = ingressEndpoints(cs, obs)
	return cs, obs, nil
}

func (r *netStateReader) readNode(ctx context.Context, n csNode) (nodeObservation, error) {
	o := nodeObservation{NodeID: n.ID, Name: n.Name}
	if n.APIAddr == "" {
		return o, fmt.Errorf("node %s publishes no node API address", n.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := r.client.Call(ctx, n.APIAddr, clusterapi.PathNodeNetState, struct{}{}, &o.State); err != nil {
		return o, fmt.Errorf("netstate of %s at %s: %w", n.Name, n.APIAddr, err)
	}
	ln, err := r.l.Node(n.Name)
	if err != nil {
		return o, err
	}
	o.Namespaces = daemonNamespaces(ln)
	return o, nil
}

// ingressEndpoints finds each node's ingress address among the endpoints of its own
// ingress sandbox.
func ingressEndpoints(cs clusterState, obs []nodeObservation) map[string]netip.Addr {
	out := map[string]netip.Addr{}
	ingress, ok := cs.ingressNetwork()
	if !ok {
		return out
	}
	for _, o := range obs {
		for _, n := range o.State.Overlay.Networks {
			if n.VNI != ingress.VNI {
				continue
			}
			for _, e := range n.Endpoints {
				if e.TaskID == ingressSandboxTask {
					out[o.NodeID] = e.IP
				}
			}
		}
	}
	return out
}

// daemonNamespaces lists the namespaces a lab node's daemon made, by their names past the
// node's prefix (lab's nodeNetnsPrefix: the node's namespace and a dot).
func daemonNamespaces(n lab.Node) []string {
	entries, _ := os.ReadDir("/run/netns")
	var out []string
	for _, e := range entries {
		if rest, ok := strings.CutPrefix(e.Name(), n.Netns+"."); ok {
			out = append(out, rest)
		}
	}
	return out
}

// duplicateAddresses lists every address held by more than one of: a task that has not
// ended, a service's VIP, a node's ingress endpoint, a network's gateway; and every VNI
// two networks share.
func duplicateAddresses(cs clusterState) []string {
	holders := map[netip.Addr][]string{}
	hold := func(ip netip.Addr, who string) {
		if ip.IsValid() {
			holders[ip] = append(holders[ip], who)
		}
	}
	for _, n := range cs.Networks {
		hold(n.Gateway, "gateway of "+n.Name)
	}
	for _, t := range cs.Tasks {
		if t.ended() {
			continue
		}
		for id, ip := range t.Addrs {
			hold(ip, fmt.Sprintf("task %s on %s", cs.taskLabel(t.ID), cs.networkNames([]string{id})))
		}
	}
	for _, s := range cs.Services {
		for id, ip := range s.VIPs {
			hold(ip, fmt.Sprintf("VIP of %s on %s", s.Name, cs.networkNames([]string{id})))
		}
	}
	for id, ip := range cs.Ingress {
		name := id
		if n, ok := cs.node(id); ok {
			name = n.Name
		}
		hold(ip, "ingress endpoint of "+name)
	}
	var out []string
	for ip, who := range holders {
		if len(who) > 1 {
			slices.Sort(who)
			out = append(out, fmt.Sprintf("address %s is held %d times: %s", ip, len(who), strings.Join(who, "; ")))
		}
	}
	vnis := map[uint32][]string{}
	for _, n := range cs.Networks {
		vnis[n.VNI] = append(vnis[n.VNI], n.Name)
	}
	for vni, names := range vnis {
		if len(names) > 1 {
			out = append(out, fmt.Sprintf("VNI %d is shared by networks %v", vni, names))
		}
	}
	slices.Sort(out)
	return out
}

// vipProblems lists every network of a vip-mode service's spec on which it has no VIP, and
// every VIP of a dnsrr service (Docker gives those none).
func vipProblems(cs clusterState) []string {
	var out []string
	for _, s := range cs.Services {
		if s.DNSRR {
			for id, ip := range s.VIPs {
				out = append(out, fmt.Sprintf("dnsrr service %s has VIP %s on %s", s.Name, ip, cs.networkNames([]string{id})))
			}
			continue
		}
		for _, id := range s.Networks {
			if !s.VIPs[id].IsValid() {
				out = append(out, fmt.Sprintf("service %s has no VIP on its network %s", s.Name, cs.networkNames([]string{id})))
			}
		}
	}
	slices.Sort(out)
	return out
}

// taskAddressClashes lists the addresses that two tasks that have not ended hold on one
// network at once.
func taskAddressClashes(cs clusterState) []string {
	type key struct {
		network string
		ip      netip.Addr
	}
	holders := map[key][]string{}
	for _, t := range cs.Tasks {
		if t.ended() {
			continue
		}
		for id, ip := range t.Addrs {
			k := key{id, ip}
			holders[k] = append(holders[k], fmt.Sprintf("%s (%s, desired %s)", cs.taskLabel(t.ID), t.State, t.Desired))
		}
	}
	var out []string
	for k, who := range holders {
		if len(who) > 1 {
			slices.Sort(who)
			out = append(out, fmt.Sprintf("address %s on %s is held by %d live tasks at once: %s",
				k.ip, cs.networkNames([]string{k.network}), len(who), strings.Join(who, "; ")))
		}
	}
	slices.Sort(out)
	return out
}

// summary lists the cluster state for a failure message.
func (cs clusterState) summary() string {
	var lines []string
	for _, n := range cs.Nodes {
		lines = append(lines, fmt.Sprintf("node %s %s addr=%s ready=%t ingress=%s", n.Name, n.ID, n.Addr, n.Ready, cs.Ingress[n.ID]))
	}
	for _, n := range cs.Networks {
		lines = append(lines, fmt.Sprintf("network %s %s vni=%d subnet=%s ingress=%t", n.Name, n.ID, n.VNI, n.Subnet, n.Ingress))
	}
	for _, s := range cs.Services {
		var vips []string
		for id, ip := range s.VIPs {
			vips = append(vips, cs.networkNames([]string{id})+"="+ip.String())
		}
		slices.Sort(vips)
		lines = append(lines, fmt.Sprintf("service %s %s dnsrr=%t networks=%s vips=%v ports=%v", s.Name, s.ID, s.DNSRR, cs.networkNames(s.Networks), vips, s.Ports))
	}
	for _, t := range cs.Tasks {
		var addrs []string
		for id, ip := range t.Addrs {
			addrs = append(addrs, cs.networkNames([]string{id})+"="+ip.String())
		}
		slices.Sort(addrs)
		node := t.NodeID
		if n, ok := cs.node(t.NodeID); ok {
			node = n.Name
		}
		lines = append(lines, fmt.Sprintf("task %s on %s %s (desired %s) %v", cs.taskLabel(t.ID), node, t.State, t.Desired, addrs))
	}
	return strings.Join(lines, "\n")
}

// taskLabel names a task for people: <service>.<slot>.<first 12 of its ID>.
func (cs clusterState) taskLabel(id string) string {
	if id == ingressSandboxTask || id == "" {
		return id
	}
	for _, t := range cs.Tasks {
		if t.ID == id {
			svc := "?"
			if s, ok := cs.service(t.ServiceID); ok {
				svc = s.Name
			}
			return fmt.Sprintf("%s.%d.%s", svc, t.Slot, short(id))
		}
	}
	return "?." + short(id)
}

// networkNames names networks by name, sorted; an unknown one by its ID.
func (cs clusterState) networkNames(ids []string) string {
	var names []string
	for _, id := range ids {
		if n, ok := cs.network(id); ok {
			names = append(names, n.Name)
		} else {
			names = append(names, id)
		}
	}
	slices.Sort(names)
	return list(names)
}

func (cs clusterState) networkOfVNI(vni uint32) string {
	for _, n := range cs.Networks {
		if n.VNI == vni {
			return n.Name
		}
	}
	return "no network"
}

// vtepLabel names a VTEP by its node.
func (cs clusterState) vtepLabel(ip netip.Addr) string {
	for _, n := range cs.Nodes {
		if n.Addr == ip {
			return ip.String() + " (" + n.Name + ")"
		}
	}
	return ip.String()
}

func (t csTask) networkIDs() []string {
	ids := slices.Clone(t.Networks)
	if ids == nil {
		for id := range t.Addrs {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func short(id string) string { return id[:min(12, len(id))] }

func list(items []string) string {
	slices.Sort(items)
	return "[" + strings.Join(items, " ") + "]"
}

func sortedAddrs(addrs []netip.Addr) []netip.Addr {
	out := slices.Clone(addrs)
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

func addrList(addrs []netip.Addr) string {
	var s []string
	for _, a := range addrs {
		s = append(s, a.String())
	}
	return "[" + strings.Join(s, " ") + "]"
}
