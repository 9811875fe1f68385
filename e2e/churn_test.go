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
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoal/shoal/lab"
	"github.com/shoal/shoal/network/overlay"
)

// churnCycles is how many create/remove cycles TestChurnKeepsEveryNodeExact runs;
// SHOAL_CHURN_CYCLES overrides it (a quick look while working on the data plane).
const churnCycles = 100

// churnWait bounds each wait for the data plane to agree with the cluster state.
const churnWait = 20 * time.Second

// churnStopGrace is the churned services' stop grace period: it bounds the wait for a
// removed task's open connections, so a slow client cannot stretch a cycle.
const churnStopGrace = time.Second

// TestChurnKeepsEveryNodeExact creates and removes a network and a service on it, over and
// over, and after each step requires every node's data plane to hold exactly what the
// cluster state implies: each local task's resolver answers the right addresses for every
// name it can see and no name of a removed service, its VIP rules point at exactly the
// running tasks, each node's routing mesh serves exactly the published ports with exactly
// their running tasks, the kernel holds a sandbox only for networks a local task uses with
// forwarding entries exactly for the other nodes' live endpoints, the daemon's namespaces
// are exactly its tasks' and sandboxes', and no address is held twice. The reference lost
// names this way.
func TestChurnKeepsEveryNodeExact(t *testing.T) {
	cycles := churnCycles
	if s := os.Getenv("SHOAL_CHURN_CYCLES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("SHOAL_CHURN_CYCLES=%q: must be a positive number", s)
		}
		cycles = n
	}
	l := startLab(t, lab.Options{Name: "e2echurn", Managers: 1, Workers: 2})
	images := sampleImages(t)
	for _, n := range l.Nodes() {
		mustRun(t, l, n.Name, "image", "load", "-q", "-i", filepath.Join(images, "sleepy-1.docker.tar"))
	}
	c := &churnLab{l: l, r: newNetStateReader(t, l)}
	mustRun(t, l, "manager-1", "network", "create", "-d", "overlay", "base")
	mustRun(t, l, "manager-1", "service", "create", "-d", "--name", "anchor", "--replicas", "2", "--network", "base", "sleepy:1")
	c.waitExact(t, "anchor running on base", func(cs clusterState) error { return serviceConverged(cs, "anchor", 2) })

	started := time.Now()
	var slowest time.Duration
	for i := range cycles {
		began := time.Now()
		c.runCycle(t, i, churnCycle(i))
		slowest = max(slowest, time.Since(began))
	}
	total := time.Since(started)
	t.Logf("churn: %d cycles in %s (%s per cycle on average, slowest %s); every node exact after each create and each remove",
		cycles, total.Round(time.Millisecond), (total / time.Duration(cycles)).Round(time.Millisecond), slowest.Round(time.Millisecond))
}

// churnSpec is what one cycle creates.
type churnSpec struct {
	network, service string
	replicas         int
	dnsrr            bool
	port             uint32 // 0: none published
	// viaAPI creates the service through the Docker API with the networks named by ID, as
	// the docker CLI sends them; otherwise the shoal CLI names them.
	viaAPI bool
}

// churnCycle varies the cycles: every other one publishes a port (a few ports, reused, so
// a listener is retired and taken up again), some use dnsrr, replicas alternate between 1
// and 2, and service and network names are reused (names come back after a removal, which
// is how stale records hurt).
func churnCycle(i int) churnSpec {
	s := churnSpec{
		network:  fmt.Sprintf("cnet%d", i%2),
		service:  fmt.Sprintf("churn%c", 'a'+i%3),
		replicas: 1 + (i/4)%2,
		viaAPI:   i%8 >= 5,
	}
	switch {
	case i%2 == 0:
		s.port = 8101 + uint32(i/2%3)
	case i%4 == 3:
		s.dnsrr = true
	}
	return s
}

func (s churnSpec) String() string {
	mode := "vip"
	if s.dnsrr {
		mode = "dnsrr"
	}
	out := fmt.Sprintf("%s (%s, %d replicas, on %s and base", s.service, mode, s.replicas, s.network)
	if s.port != 0 {
		out += fmt.Sprintf(", port %d", s.port)
	}
	if s.viaAPI {
		out += ", created through the API"
	}
	return out + ")"
}

// churnLab is the lab and the reader of its nodes' data planes.
type churnLab struct {
	l       *lab.Lab
	r       *netStateReader
	clashes map[string]bool // reported already
}

// runCycle creates the cycle's network and service, waits for every node to be exact,
// removes both and waits again.
func (c *churnLab) runCycle(t *testing.T, i int, s churnSpec) {
	t.Helper()
	mustRun(t, c.l, "manager-1", "network", "create", "-d", "overlay", s.network)
	if s.viaAPI {
		c.createViaAPI(t, s)
	} else {
		args := []string{"service", "create", "-d", "--name", s.service, "--replicas", strconv.Itoa(s.replicas),
			"--network", s.network, "--network", "base", "--stop-grace-period", churnStopGrace.String()}
		if s.dnsrr {
			args = append(args, "--endpoint-mode", "dnsrr")
		}
		if s.port != 0 {
			args = append(args, "-p", fmt.Sprintf("%d:8080", s.port))
		}
		mustRun(t, c.l, "manager-1", append(args, "sleepy:1")...)
	}
	var serviceID string
	c.waitExact(t, fmt.Sprintf("cycle %d: %s created", i, s), func(cs clusterState) error {
		if svc, ok := cs.serviceNamed(s.service); ok {
			serviceID = svc.ID
		}
		return serviceConverged(cs, s.service, s.replicas)
	})
	mustRun(t, c.l, "manager-1", "service", "rm", s.service)
	mustRun(t, c.l, "manager-1", "network", "rm", s.network)
	c.waitExact(t, fmt.Sprintf("cycle %d: %s and %s removed", i, s.service, s.network), func(cs clusterState) error {
		return removalConverged(cs, serviceID, s.service, s.network)
	})
}

// createViaAPI creates the service as `docker service create` does: networks by ID.
func (c *churnLab) createViaAPI(t *testing.T, s churnSpec) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var targets []swarm.NetworkAttachmentConfig
	for _, name := range []string{s.network, "base"} {
		res, err := c.r.mc.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
		if err != nil {
			t.Fatalf("network inspect %s: %v", name, err)
		}
		targets = append(targets, swarm.NetworkAttachmentConfig{Target: res.Network.ID})
	}
	replicas := uint64(s.replicas)
	spec := swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: s.service},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "sleepy:1", StopGracePeriod: ptr(churnStopGrace)}, Networks: targets},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeVIP},
	}
	if s.dnsrr {
		spec.EndpointSpec.Mode = swarm.ResolutionModeDNSRR
	}
	if s.port != 0 {
		spec.EndpointSpec.Ports = []swarm.PortConfig{{Protocol: network.TCP, TargetPort: 8080, PublishedPort: s.port, PublishMode: swarm.PortConfigPublishModeIngress}}
	}
	if _, err := c.r.mc.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec}); err != nil {
		t.Fatalf("service create %s through the API: %v", s, err)
	}
}

// waitExact polls until ready accepts the cluster state and every node's data plane
// agrees exactly with it, and fails with the differences after churnWait.
func (c *churnLab) waitExact(t *testing.T, what string, ready func(clusterState) error) {
	t.Helper()
	deadline := time.Now().Add(churnWait)
	var report string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cs, obs, err := c.r.read(ctx)
		cancel()
		if err == nil {
			c.reportClashes(t, what, cs)
		}
		var notReady error
		if err == nil {
			notReady = ready(cs)
		}
		switch {
		case err != nil:
			report = err.Error()
		case notReady != nil:
			report = "the cluster state has not converged: " + notReady.Error()
		default:
			problems := checkNodesExact(cs, obs)
			if len(problems) == 0 {
				return
			}
			report = strings.Join(problems, "\n") + "\n--- cluster state:\n" + cs.summary()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: data plane not exact after %s:\n%s", what, churnWait, report)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// reportClashes fails the test, once per clash, for an address two live tasks hold at
// once, even when it passes before the wait ends: one task list is one look at the store.
func (c *churnLab) reportClashes(t *testing.T, what string, cs clusterState) {
	t.Helper()
	if c.clashes == nil {
		c.clashes = map[string]bool{}
	}
	for _, clash := range taskAddressClashes(cs) {
		if !c.clashes[clash] {
			c.clashes[clash] = true
			t.Errorf("%s: %s\n--- cluster state:\n%s", what, clash, cs.summary())
		}
	}
}

// serviceConverged: the service has exactly replicas tasks running and no other task that
// has not ended.
func serviceConverged(cs clusterState, name string, replicas int) error {
	svc, ok := cs.serviceNamed(name)
	if !ok {
		return fmt.Errorf("no service %s", name)
	}
	running, live := 0, 0
	for _, t := range cs.Tasks {
		if t.ServiceID != svc.ID || t.ended() {
			continue
		}
		live++
		if t.running() {
			running++
		}
	}
	if running != replicas || live != replicas {
		return fmt.Errorf("service %s has %d running tasks and %d not ended, want %d", name, running, live, replicas)
	}
	return nil
}

// removalConverged: the service and the network are gone and every task of the service
// has ended.
func removalConverged(cs clusterState, serviceID, service, networkName string) error {
	if _, ok := cs.serviceNamed(service); ok {
		return fmt.Errorf("service %s still listed", service)
	}
	for _, n := range cs.Networks {
		if n.Name == networkName {
			return fmt.Errorf("network %s still listed", networkName)
		}
	}
	for _, t := range cs.Tasks {
		if t.ServiceID == serviceID && !t.ended() {
			return fmt.Errorf("task %s of the removed service is %s", t.ID, t.State)
		}
	}
	return nil
}

// checkNodesExact lists every way the nodes' data planes differ from what the cluster
// state implies, every address held twice and every VIP missing or out of place.
func checkNodesExact(cs clusterState, obs []nodeObservation) []string {
	problems := append(duplicateAddresses(cs), vipProblems(cs)...)
	for _, n := range cs.Nodes {
		if _, ok := cs.Ingress[n.ID]; !ok && n.Ready {
			problems = append(problems, fmt.Sprintf("node %s: no ingress endpoint in its ingress sandbox", n.Name))
		}
	}
	for _, o := range obs {
		missing, unexpected := diffFacts(expectedFacts(cs, o.NodeID), observedFacts(cs, o))
		if len(missing)+len(unexpected) == 0 {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "node %s:", o.Name)
		for _, m := range missing {
			fmt.Fprintf(&b, "\n  want, missing:    %s", m)
		}
		for _, u := range unexpected {
			fmt.Fprintf(&b, "\n  found, unwanted:  %s", u)
		}
		problems = append(problems, b.String())
	}
	return problems
}

// facts is a node's data plane as one-line statements, so that what the cluster wants and
// what a node holds compare as sets and differ line by line.
type facts map[string]bool

func (f facts) add(format string, args ...any) { f[fmt.Sprintf(format, args...)] = true }

// diffFacts lists what want has and got lacks, and what got has that want does not, sorted.
func diffFacts(want, got facts) (missing, unexpected []string) {
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			unexpected = append(unexpected, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(unexpected)
	return missing, unexpected
}

// expectedFacts is the data plane the cluster state implies on one node. It follows what
// the managers send each node (manager/tasks_api.go assignmentsFor) in Docker's terms:
//   - the node's tasks are those assigned to it that have not ended; each has a namespace
//     and sees the names of the services and running tasks on its networks (the ingress
//     network resolves nothing): a service's name gives its VIPs on the shared networks
//     (dnsrr: its running tasks' addresses there), tasks.<name> the running tasks'
//     addresses, a running task's own name its addresses;
//   - each VIP on a task's networks is DNATed to exactly the service's running tasks there;
//   - every published port is served with exactly the running tasks behind it;
//   - a network has a sandbox (bridge, VXLAN device, one endpoint per local task) only
//     while a local task is on it, and the ingress network where the node has its
//     endpoint; it holds forwarding and neighbour entries exactly for the endpoints of
//     the other Ready nodes' tasks that have not ended (and their ingress endpoints).
func expectedFacts(cs clusterState, nodeID string) facts {
	f := facts{}
	self, _ := cs.node(nodeID)
	var local []csTask
	for _, t := range cs.Tasks {
		if t.NodeID == nodeID && !t.ended() {
			local = append(local, t)
		}
	}
	ingressAddr, hasIngress := cs.Ingress[nodeID]
	ingress, _ := cs.ingressNetwork()
	if hasIngress {
		f.add("netns ingress")
		for _, s := range cs.Services {
			for _, port := range s.Ports {
				var backends []string
				for _, t := range cs.Tasks {
					if t.ServiceID == s.ID && t.running() && t.Addrs[ingress.ID].IsValid() {
						backends = append(backends, cs.taskLabel(t.ID))
					}
				}
				f.add("mesh %d/tcp → %s", port, list(backends))
			}
		}
	}
	endpoints := map[string]map[netip.Addr]string{} // network ID → local endpoint IP → task
	addEndpoint := func(networkID string, ip netip.Addr, task string) {
		if endpoints[networkID] == nil {
			endpoints[networkID] = map[netip.Addr]string{}
		}
		endpoints[networkID][ip] = task
	}
	for _, t := range local {
		label := cs.taskLabel(t.ID)
		f.add("netns t%s", short(t.ID))
		f.add("task %s: networks %s", label, cs.networkNames(t.networkIDs()))
		for name, addrs := range expectedNames(cs, t) {
			f.add("task %s: resolves %q → %s", label, name, addrList(addrs))
		}
		for vip, backends := range expectedVIPs(cs, t) {
			f.add("task %s: VIP %s → %s", label, vip, addrList(backends))
		}
		for netID, ip := range t.Addrs {
			if _, ok := cs.network(netID); ok {
				addEndpoint(netID, ip, t.ID)
			}
		}
	}
	if hasIngress {
		addEndpoint(ingress.ID, ingressAddr, ingressSandboxTask)
	}
	for netID, eps := range endpoints {
		n, _ := cs.network(netID)
		sb := fmt.Sprintf("overlay %d (%s)", n.VNI, n.Name)
		f.add("netns ov%d", n.VNI)
		f.add("%s: bridge up=true network=%s addrs=%s", sb, n.Name, bridgeAddrs(n))
		f.add("%s: vxlan vni=%d local=%s port=%d learning=false proxy=true on-bridge=true port-learning=false up=true",
			sb, n.VNI, self.Addr, overlay.VXLANPort)
		for ip, task := range eps {
			f.add("%s: endpoint %s task=%s on-bridge=true up=true", sb, ip, cs.taskLabel(task))
		}
		for ip, vtep := range remoteEndpoints(cs, nodeID, netID) {
			if _, isLocal := eps[ip]; isLocal {
				continue
			}
			mac := overlay.MACFromIP(ip)
			f.add("%s: fdb %s → %s", sb, macLabel(mac), cs.vtepLabel(vtep))
			f.add("%s: bridge-fdb %s static=true", sb, macLabel(mac))
			f.add("%s: neigh %s → %s permanent=true", sb, ip, macLabel(mac))
		}
	}
	return f
}

// remoteEndpoints are the endpoints on a network of the other Ready nodes' tasks that have
// not ended, and on the ingress network the other nodes' own endpoints, with their VTEPs.
func remoteEndpoints(cs clusterState, nodeID, networkID string) map[netip.Addr]netip.Addr {
	out := map[netip.Addr]netip.Addr{}
	add := func(ip, vtep netip.Addr) {
		// Of two endpoints with one IP the one on the lower VTEP wins (overlay.Desired);
		// duplicateAddresses reports the clash itself.
		if old, ok := out[ip]; !ok || vtep.Less(old) {
			out[ip] = vtep
		}
	}
	for _, t := range cs.Tasks {
		if t.NodeID == nodeID || t.NodeID == "" || t.ended() || !t.Addrs[networkID].IsValid() {
			continue
		}
		if n, ok := cs.node(t.NodeID); ok && n.Ready && n.Addr.IsValid() {
			add(t.Addrs[networkID], n.Addr)
		}
	}
	if ingress, ok := cs.ingressNetwork(); ok && ingress.ID == networkID {
		for id, ip := range cs.Ingress {
			if n, ok := cs.node(id); ok && id != nodeID && n.Ready && n.Addr.IsValid() {
				add(ip, n.Addr)
			}
		}
	}
	return out
}

// dnsNetworks are the networks on which a service has names: those it has a VIP on, or
// for dnsrr the networks of its spec; never the ingress network.
func (cs clusterState) dnsNetworks(s csService) map[string]bool {
	out := map[string]bool{}
	ids := s.Networks
	if !s.DNSRR {
		ids = nil
		for id := range s.VIPs {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		if n, ok := cs.network(id); ok && !n.Ingress {
			out[id] = true
		}
	}
	return out
}

// resolvable are the networks of a task on which it resolves names.
func (cs clusterState) resolvable(t csTask) map[string]bool {
	out := map[string]bool{}
	for _, id := range t.networkIDs() {
		if n, ok := cs.network(id); ok && !n.Ingress {
			out[id] = true
		}
	}
	return out
}

// expectedNames is what a task's resolver should answer: every name it can see and its
// addresses, sorted.
func expectedNames(cs clusterState, asker csTask) map[string][]netip.Addr {
	on := cs.resolvable(asker)
	out := map[string][]netip.Addr{}
	services := map[string]csService{}
	for _, s := range cs.Services {
		services[s.ID] = s
		var shared []string
		for id := range cs.dnsNetworks(s) {
			if on[id] {
				shared = append(shared, id)
			}
		}
		if len(shared) == 0 {
			continue
		}
		var serving, vips []netip.Addr
		for _, id := range shared {
			if vip, ok := s.VIPs[id]; ok {
				vips = append(vips, vip)
			}
			for _, t := range cs.Tasks {
				if t.ServiceID == s.ID && t.running() && t.Addrs[id].IsValid() {
					serving = append(serving, t.Addrs[id])
				}
			}
		}
		name := strings.ToLower(s.Name)
		if s.DNSRR {
			out[name] = sortedAddrs(serving)
		} else {
			out[name] = sortedAddrs(vips)
		}
		out["tasks."+name] = sortedAddrs(serving)
	}
	for _, t := range cs.Tasks {
		s, ok := services[t.ServiceID]
		if !ok || !t.running() {
			continue
		}
		var addrs []netip.Addr
		for id, ip := range t.Addrs {
			if on[id] {
				addrs = append(addrs, ip)
			}
		}
		if len(addrs) > 0 {
			out[strings.ToLower(taskDNSName(s.Name, t))] = sortedAddrs(addrs)
		}
	}
	return out
}

// taskDNSName is Docker's container name of a task: <service>.<slot>.<task ID>, with the
// node ID for a global service's slot.
func taskDNSName(service string, t csTask) string {
	slot := t.NodeID
	if t.Slot > 0 {
		slot = strconv.Itoa(t.Slot)
	}
	return service + "." + slot + "." + t.ID
}

// expectedVIPs is where a task's VIP rules should send each VIP it can reach: to the
// running tasks of the VIP's service on the VIP's network.
func expectedVIPs(cs clusterState, asker csTask) map[netip.Addr][]netip.Addr {
	on := cs.resolvable(asker)
	out := map[netip.Addr][]netip.Addr{}
	for _, s := range cs.Services {
		if s.DNSRR {
			continue
		}
		for id, vip := range s.VIPs {
			if !on[id] {
				continue
			}
			var backends []netip.Addr
			for _, t := range cs.Tasks {
				if t.ServiceID == s.ID && t.running() && t.Addrs[id].IsValid() {
					backends = append(backends, t.Addrs[id])
				}
			}
			out[vip] = sortedAddrs(backends)
		}
	}
	return out
}

// observedFacts states what one node's data plane holds, in expectedFacts' terms.
func observedFacts(cs clusterState, o nodeObservation) facts {
	f := facts{}
	for _, ns := range o.Namespaces {
		f.add("netns %s", ns)
	}
	for _, m := range o.State.Mesh {
		var backends []string
		for _, id := range m.Backends {
			backends = append(backends, cs.taskLabel(id))
		}
		f.add("mesh %d/%s → %s", m.PublishedPort, m.Protocol, list(backends))
	}
	for _, ts := range o.State.Tasks {
		label := cs.taskLabel(ts.TaskID)
		f.add("task %s: networks %s", label, cs.networkNames(ts.Networks))
		for name, addrs := range ts.Names {
			f.add("task %s: resolves %q → %s", label, name, addrList(sortedAddrs(addrs)))
		}
		for vip, backends := range ts.VIPs {
			f.add("task %s: VIP %s → %s", label, vip, addrList(sortedAddrs(backends)))
		}
	}
	for _, n := range o.State.Overlay.Networks {
		sb := fmt.Sprintf("overlay %d (%s)", n.VNI, cs.networkOfVNI(n.VNI))
		if n.Unusable {
			f.add("%s: sandbox unusable", sb)
			continue
		}
		if b := n.Bridge; b != nil {
			var addrs []string
			for _, a := range b.Addrs {
				addrs = append(addrs, a.String())
			}
			name := b.NetworkID
			if net, ok := cs.network(b.NetworkID); ok {
				name = net.Name
			}
			f.add("%s: bridge up=%t network=%s addrs=%s", sb, b.Up, name, list(addrs))
		}
		if v := n.VXLAN; v != nil {
			f.add("%s: vxlan vni=%d local=%s port=%d learning=%t proxy=%t on-bridge=%t port-learning=%t up=%t",
				sb, v.VNI, v.Local, v.Port, v.Learning, v.Proxy, v.OnBridge, v.PortLearning, v.Up)
		}
		for _, e := range n.Endpoints {
			f.add("%s: endpoint %s task=%s on-bridge=%t up=%t", sb, e.IP, cs.taskLabel(e.TaskID), e.OnBridge, e.Up)
		}
		for _, s := range n.StrayLinks {
			f.add("%s: stray link %s", sb, s)
		}
		for _, e := range n.FDB {
			f.add("%s: fdb %s → %s", sb, macLabel(e.MAC), cs.vtepLabel(e.VTEP))
		}
		for _, e := range n.BridgeFDB {
			f.add("%s: bridge-fdb %s static=%t", sb, macLabel(e.MAC), e.Static)
		}
		for _, e := range n.Neigh {
			f.add("%s: neigh %s → %s permanent=%t", sb, e.IP, macLabel(e.MAC), e.Permanent)
		}
	}
	return f
}

// bridgeAddrs is what a network's bridge holds: its gateway in its subnet.
func bridgeAddrs(n csNetwork) string {
	if !n.Gateway.IsValid() {
		return list(nil)
	}
	return list([]string{netip.PrefixFrom(n.Gateway, n.Subnet.Bits()).String()})
}

// macLabel shows a MAC, with the IP a 02:42 MAC is derived from.
func macLabel(m overlay.MAC) string {
	if m[0] == 0x02 && m[1] == 0x42 {
		return fmt.Sprintf("%s (%s)", m, netip.AddrFrom4([4]byte{m[2], m[3], m[4], m[5]}))
	}
	return m.String()
}

func ptr[T any](v T) *T { return &v }
