package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/shoal/shoal/lab"
	"github.com/shoal/shoal/network/overlay"
)

// TestNetworkCleanupLeavesNothing lists, in every node's namespace and in the namespaces
// its daemon made, the bridges, VXLAN devices, veths, addresses, forwarding entries,
// nftables rules, listening ports, processes, cgroups and mounts of a service with tasks
// on both workers and a published port, and checks that they are there; then that
// `service rm` takes every trace of the tasks away on every node, `network rm` the
// network's sandbox, bridge and VXLAN device, and `lab down` (with another service still
// running) everything of the lab. Each step logs what it listed and fails with what was left.
func TestNetworkCleanupLeavesNothing(t *testing.T) {
	const name = "e2enetclean"
	rootRuleset := nftRuleset(t, "") // before the lab: the machine's own rules
	rootLinks := rootLinkNames(t)
	l := startLab(t, lab.Options{Name: name, Managers: 1, Workers: 2})
	images := sampleImages(t)
	for _, n := range l.Nodes() {
		mustRun(t, l, n.Name, "image", "load", "-q", "-i", filepath.Join(images, "sleepy-1.docker.tar"))
	}
	c := &cleanupLab{l: l, name: name, mc: apiClient(t, l, "manager-1"), rootRuleset: rootRuleset, rootLinks: rootLinks}
	runSteps(t, []step{
		{"running", c.running},
		{"service-rm", c.serviceRemoved},
		{"network-rm", c.networkRemoved},
		{"lab-down", c.labDown},
	})
}

const (
	cleanNet     = "cleannet"
	cleanService = "cleanweb"
	cleanPort    = 8090
)

// cleanupLab is the lab and what the steps learn about it.
type cleanupLab struct {
	l           *lab.Lab
	name        string
	mc          *client.Client
	rootRuleset string
	rootLinks   []string

	net     csNetwork // cleannet
	ingress csNetwork
	vip     netip.Addr     // the service's VIP on cleannet
	tasks   []cleanTask    // the service's running tasks
	pids    map[int]string // processes in the tasks' namespaces → which
}

// cleanTask is a running task and where it lives.
type cleanTask struct {
	csTask
	node      lab.Node
	netns     string // its namespace
	cleanIP   netip.Addr
	ingressIP netip.Addr
}

// running creates the network and a service with a task on each worker and a published
// port, and checks every trace the test later requires gone is there now.
func (c *cleanupLab) running(t *testing.T) {
	mustRun(t, c.l, "manager-1", "network", "create", "-d", "overlay", cleanNet)
	mustRun(t, c.l, "manager-1", "service", "create", "-d", "--name", cleanService, "--replicas", "2",
		"--constraint", "node.role==worker", "--replicas-max-per-node", "1", "--network", cleanNet,
		"-p", fmt.Sprintf("%d:8080", cleanPort), "--stop-grace-period", "1s", "sleepy:1")
	var cs clusterState
	eventually(t, 60*time.Second, cleanService+" running on both workers", func() error {
		var err error
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if cs, err = readClusterState(ctx, c.mc); err != nil {
			return err
		}
		return serviceConverged(cs, cleanService, 2)
	})
	c.learn(t, cs)
	// The data plane follows the cluster state asynchronously: wait for the last piece
	// (every node serving the published port) before listing.
	eventually(t, 20*time.Second, "every node listening on the published port", func() error {
		for _, n := range c.l.Nodes() {
			if !slices.Contains(listeningPorts(t, n.Netns), cleanPort) {
				return fmt.Errorf("%s does not listen on %d", n.Name, cleanPort)
			}
		}
		return nil
	})
	var problems []string
	eventually(t, 20*time.Second, "every trace of the running service present", func() error {
		problems = c.presentProblems(t)
		if len(problems) > 0 {
			return fmt.Errorf("%d missing:\n%s", len(problems), strings.Join(problems, "\n"))
		}
		return nil
	})
	c.pids = map[int]string{}
	for _, task := range c.tasks {
		for _, pid := range netnsPIDs(t, task.netns) {
			c.pids[pid] = fmt.Sprintf("process of task %s in %s", short(task.ID), task.netns)
		}
	}
	t.Logf("with %s running (VIP %s on %s, VNI %d; ingress VNI %d):\n%s", cleanService, c.vip, cleanNet, c.net.VNI, c.ingress.VNI, c.listing(t))
}

// learn records the network, the VIP and the tasks.
func (c *cleanupLab) learn(t *testing.T, cs clusterState) {
	t.Helper()
	var ok bool
	if c.ingress, ok = cs.ingressNetwork(); !ok {
		t.Fatal("the swarm has no ingress network")
	}
	for _, n := range cs.Networks {
		if n.Name == cleanNet {
			c.net = n
		}
	}
	svc, _ := cs.serviceNamed(cleanService)
	c.vip = svc.VIPs[c.net.ID]
	if c.net.VNI == 0 || !c.vip.IsValid() {
		t.Fatalf("%s has VNI %d and %s VIP %s on it", cleanNet, c.net.VNI, cleanService, c.vip)
	}
	for _, task := range cs.Tasks {
		if task.ServiceID != svc.ID || !task.running() {
			continue
		}
		n, _ := cs.node(task.NodeID)
		ln := node(t, c.l, n.Name)
		c.tasks = append(c.tasks, cleanTask{csTask: task, node: ln, netns: ln.Netns + ".t" + short(task.ID),
			cleanIP: task.Addrs[c.net.ID], ingressIP: task.Addrs[c.ingress.ID]})
	}
	if len(c.tasks) != 2 || c.tasks[0].node.Name == c.tasks[1].node.Name {
		t.Fatalf("want one task on each worker, have %v", c.tasks)
	}
}

// presentProblems lists what of the running service is not where it should be.
func (c *cleanupLab) presentProblems(t *testing.T) []string {
	var missing []string
	want := func(ok bool, format string, args ...any) {
		if !ok {
			missing = append(missing, fmt.Sprintf(format, args...))
		}
	}
	for _, task := range c.tasks {
		ns := listNamespace(t, task.netns)
		want(ns.exists, "%s: task namespace %s", task.node.Name, task.netns)
		want(ns.hasAddr(task.cleanIP), "%s: address %s in %s", task.node.Name, task.cleanIP, task.netns)
		want(ns.hasAddr(task.ingressIP), "%s: ingress address %s in %s", task.node.Name, task.ingressIP, task.netns)
		want(strings.Contains(ns.ruleset, "table ip shoal_vip") && strings.Contains(ns.ruleset, "ip daddr "+c.vip.String()),
			"%s: VIP rule for %s in %s's nftables:\n%s", task.node.Name, c.vip, task.netns, ns.ruleset)
		want(len(netnsPIDs(t, task.netns)) > 0, "%s: the task's process in %s", task.node.Name, task.netns)
		want(len(taskCgroups(task.ID)) > 0, "%s: cgroup of task %s", task.node.Name, short(task.ID))
		want(len(taskMounts(task.ID)) > 0, "%s: root file system of task %s", task.node.Name, short(task.ID))

		sb := listNamespace(t, c.sandboxName(task.node, c.net.VNI))
		want(sb.exists, "%s: sandbox %s", task.node.Name, sb.name)
		want(sb.link(fmt.Sprintf("sbr%d", c.net.VNI)).kind == "bridge", "%s: bridge sbr%d in %s", task.node.Name, c.net.VNI, sb.name)
		want(sb.link(fmt.Sprintf("svx%d", c.net.VNI)).kind == "vxlan", "%s: VXLAN device svx%d in %s", task.node.Name, c.net.VNI, sb.name)
		want(sb.link(vethOf(task.cleanIP)).kind == "veth", "%s: veth %s in %s", task.node.Name, vethOf(task.cleanIP), sb.name)
		want(sb.hasAddr(c.net.Gateway), "%s: gateway %s on the bridge in %s", task.node.Name, c.net.Gateway, sb.name)
		ing := listNamespace(t, c.sandboxName(task.node, c.ingress.VNI))
		want(ing.link(vethOf(task.ingressIP)).kind == "veth", "%s: veth %s in %s", task.node.Name, vethOf(task.ingressIP), ing.name)
		for _, other := range c.tasks {
			if other.node.Name == task.node.Name {
				continue
			}
			for _, e := range []struct {
				ns *nsListing
				ip netip.Addr
			}{{&sb, other.cleanIP}, {&ing, other.ingressIP}} {
				want(e.ns.mentions(e.ip), "%s: forwarding and neighbour entries in %s for %s on %s", task.node.Name, e.ns.name, e.ip, other.node.Name)
			}
		}
	}
	if mgr := node(t, c.l, "manager-1"); listNamespace(t, c.sandboxName(mgr, c.net.VNI)).exists {
		missing = append(missing, fmt.Sprintf("manager-1 runs no task on %s but has its sandbox", cleanNet))
	}
	return missing
}

// serviceRemoved: after service rm, no node keeps any trace of the tasks: namespaces,
// veths, addresses, forwarding or neighbour entries, nftables rules naming the VIP or a
// task, processes, cgroups, mounts, container state, or the published port.
func (c *cleanupLab) serviceRemoved(t *testing.T) {
	mustRun(t, c.l, "manager-1", "service", "rm", cleanService)
	took := c.eventuallyClean(t, "every trace of "+cleanService+"'s tasks gone", func() []string {
		var left []string
		for _, task := range c.tasks {
			if _, err := os.Lstat(filepath.Join("/run/netns", task.netns)); err == nil {
				left = append(left, fmt.Sprintf("%s: task namespace %s", task.node.Name, task.netns))
			}
			for _, cg := range taskCgroups(task.ID) {
				left = append(left, fmt.Sprintf("%s: cgroup %s", task.node.Name, cg))
			}
			for _, m := range taskMounts(task.ID) {
				left = append(left, fmt.Sprintf("%s: mount %s", task.node.Name, m))
			}
			runcState := filepath.Join(task.node.DataRoot, "containers", "runc", task.ID)
			if _, err := os.Lstat(runcState); err == nil {
				left = append(left, fmt.Sprintf("%s: runc state %s", task.node.Name, runcState))
			}
		}
		for pid, what := range c.pids {
			if processAlive(pid) {
				left = append(left, fmt.Sprintf("pid %d (%s)", pid, what))
			}
		}
		for _, n := range c.l.Nodes() {
			if slices.Contains(listeningPorts(t, n.Netns), cleanPort) {
				left = append(left, fmt.Sprintf("%s: still listening on the published port %d", n.Name, cleanPort))
			}
			for _, ns := range c.nodeNamespaces(t, n) {
				if strings.HasPrefix(strings.TrimPrefix(ns.name, n.Netns), ".t") {
					left = append(left, fmt.Sprintf("%s: task namespace %s", n.Name, ns.name))
				}
				for _, task := range c.tasks {
					for _, ip := range []netip.Addr{task.cleanIP, task.ingressIP} {
						left = append(left, ns.traces(ip)...)
					}
				}
				if strings.Contains(ns.ruleset, c.vip.String()) {
					left = append(left, fmt.Sprintf("%s: nftables rules naming the VIP %s:\n%s", ns.name, c.vip, ns.ruleset))
				}
			}
		}
		return left
	})
	t.Logf("%s's tasks left no trace %s after service rm; what remains:\n%s", cleanService, took.Round(time.Millisecond), c.listing(t))
}

// networkRemoved: after network rm, no node has the network's sandbox, bridge, VXLAN
// device or an address in its subnet.
func (c *cleanupLab) networkRemoved(t *testing.T) {
	mustRun(t, c.l, "manager-1", "network", "rm", cleanNet)
	took := c.eventuallyClean(t, cleanNet+" gone from every node", func() []string {
		var left []string
		for _, n := range c.l.Nodes() {
			if sb := c.sandboxName(n, c.net.VNI); listNamespace(t, sb).exists {
				left = append(left, fmt.Sprintf("%s: sandbox %s", n.Name, sb))
			}
			for _, ns := range c.nodeNamespaces(t, n) {
				for _, l := range ns.links {
					if l.name == fmt.Sprintf("sbr%d", c.net.VNI) || l.name == fmt.Sprintf("svx%d", c.net.VNI) {
						left = append(left, fmt.Sprintf("%s: %s %s", ns.name, l.kind, l.name))
					}
				}
				for _, a := range ns.addrs {
					if p, err := netip.ParsePrefix(a.addr); err == nil && c.net.Subnet.Contains(p.Addr()) {
						left = append(left, fmt.Sprintf("%s: address %s on %s, in %s's subnet %s", ns.name, a.addr, a.dev, cleanNet, c.net.Subnet))
					}
				}
			}
		}
		return left
	})
	t.Logf("%s left no trace %s after network rm; what remains:\n%s", cleanNet, took.Round(time.Millisecond), c.listing(t))
}

// labDown takes the lab down with a service still running on a network of its own and
// checks nothing of the lab remains: namespaces, links, mounts, nftables tables,
// processes, cgroups, state.
func (c *cleanupLab) labDown(t *testing.T) {
	mustRun(t, c.l, "manager-1", "network", "create", "-d", "overlay", "downnet")
	mustRun(t, c.l, "manager-1", "service", "create", "-d", "--name", "downweb", "--replicas", "3",
		"--network", "downnet", "-p", "8091:8080", "sleepy:1")
	var taskIDs []string
	eventually(t, 60*time.Second, "downweb running", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cs, err := readClusterState(ctx, c.mc)
		if err != nil {
			return err
		}
		if err := serviceConverged(cs, "downweb", 3); err != nil {
			return err
		}
		taskIDs = nil
		for _, task := range cs.Tasks {
			if task.running() {
				taskIDs = append(taskIDs, task.ID)
			}
		}
		return nil
	})
	prefix := "shoal-" + c.name + "-"
	pids := map[int]string{}
	var namespaces []string
	for _, ns := range strings.Fields(ipOut(t, "netns", "list")) {
		if strings.HasPrefix(ns, prefix) {
			namespaces = append(namespaces, ns)
			for _, pid := range netnsPIDs(t, ns) {
				pids[pid] = "process in " + ns
			}
		}
	}
	for _, n := range c.l.Nodes() {
		pids[n.PID] = n.Name + "'s daemon"
	}
	var cgroups, mounts []string
	for _, id := range taskIDs {
		cgroups = append(cgroups, taskCgroups(id)...)
		mounts = append(mounts, taskMounts(id)...)
	}
	if len(cgroups) == 0 || len(mounts) == 0 || len(pids) <= len(c.l.Nodes()) {
		t.Fatalf("downweb's tasks show no cgroup (%v), mount (%v) or process (%v): the listing is broken", cgroups, mounts, pids)
	}
	dir := c.l.Dir()
	t.Logf("before lab down: %d namespaces %v, %d processes, %d container cgroups, %d container mounts",
		len(namespaces), namespaces, len(pids), len(cgroups), len(mounts))

	if err := lab.Down(c.name); err != nil {
		t.Fatalf("lab down: %v", err)
	}
	var left []string
	for _, ns := range strings.Fields(ipOut(t, "netns", "list")) {
		if strings.HasPrefix(ns, prefix) {
			left = append(left, "namespace "+ns)
		}
	}
	for _, d := range []string{"/run/netns", "/etc/netns"} {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), prefix) {
				left = append(left, filepath.Join(d, e.Name()))
			}
		}
	}
	for _, m := range mountPoints() {
		if m.dir == dir || strings.HasPrefix(m.dir, dir+"/") || strings.HasPrefix(m.dir, "/run/netns/"+prefix) {
			left = append(left, fmt.Sprintf("mount %s (%s)", m.dir, m.fstype))
		}
	}
	for _, link := range rootLinkNames(t) {
		if !slices.Contains(c.rootLinks, link) {
			left = append(left, "link in the machine's namespace: "+link)
		}
	}
	if rs := nftRuleset(t, ""); rs != c.rootRuleset {
		left = append(left, fmt.Sprintf("the machine's nftables ruleset changed:\nbefore the lab:\n%s\nafter lab down:\n%s", c.rootRuleset, rs))
	}
	for pid, what := range pids {
		if processAlive(pid) {
			left = append(left, fmt.Sprintf("pid %d (%s)", pid, what))
		}
	}
	for _, pid := range processesMentioning(t, dir) {
		left = append(left, fmt.Sprintf("pid %d mentions %s", pid, dir))
	}
	for _, id := range taskIDs {
		for _, cg := range taskCgroups(id) {
			left = append(left, "cgroup "+cg)
		}
	}
	if _, err := os.Lstat(dir); err == nil {
		left = append(left, "directory "+dir)
	}
	if len(left) > 0 {
		t.Fatalf("left after lab down:\n%s", strings.Join(left, "\n"))
	}
}

// eventuallyClean waits until leftovers lists nothing, and fails with what it last listed.
func (c *cleanupLab) eventuallyClean(t *testing.T, what string, leftovers func() []string) time.Duration {
	t.Helper()
	return eventually(t, 30*time.Second, what, func() error {
		if left := leftovers(); len(left) > 0 {
			return fmt.Errorf("left:\n%s", strings.Join(left, "\n"))
		}
		return nil
	})
}

func (c *cleanupLab) sandboxName(n lab.Node, vni uint32) string {
	return fmt.Sprintf("%s.ov%d", n.Netns, vni)
}

// nodeNamespaces lists a node's own namespace and every namespace its daemon made.
func (c *cleanupLab) nodeNamespaces(t *testing.T, n lab.Node) []nsListing {
	out := []nsListing{listNamespace(t, n.Netns)}
	for _, suffix := range daemonNamespaces(n) {
		out = append(out, listNamespace(t, n.Netns+"."+suffix))
	}
	return out
}

// listing renders every node's namespaces for the log.
func (c *cleanupLab) listing(t *testing.T) string {
	var b strings.Builder
	for _, n := range c.l.Nodes() {
		fmt.Fprintf(&b, "%s (listening on %v):\n", n.Name, listeningPorts(t, n.Netns))
		for _, ns := range c.nodeNamespaces(t, n) {
			b.WriteString(ns.String())
		}
	}
	return b.String()
}

// nsListing is what one namespace holds that the test looks for.
type nsListing struct {
	name    string
	exists  bool
	links   []linkListing
	addrs   []addrListing
	fdb     []string // bridge fdb show
	neigh   []string // ip neigh show
	ruleset string   // nft list ruleset
}

type linkListing struct{ name, kind, master, state string }

type addrListing struct{ dev, addr string }

// listNamespace lists a namespace through iproute2 and nft; a namespace that does not
// exist lists as such.
func listNamespace(t *testing.T, ns string) nsListing {
	t.Helper()
	l := nsListing{name: ns}
	if _, err := os.Lstat(filepath.Join("/run/netns", ns)); err != nil {
		return l
	}
	var links []struct {
		IfName    string `json:"ifname"`
		Master    string `json:"master"`
		OperState string `json:"operstate"`
		LinkInfo  struct {
			Kind string `json:"info_kind"`
		} `json:"linkinfo"`
	}
	out, err := exec.Command("ip", "-j", "-d", "-n", ns, "link", "show").Output()
	if err != nil {
		return l // deleted meanwhile
	}
	if err := json.Unmarshal(out, &links); err != nil {
		t.Fatalf("ip -j -d -n %s link show: %v\n%s", ns, err, out)
	}
	l.exists = true
	for _, k := range links {
		l.links = append(l.links, linkListing{name: k.IfName, kind: k.LinkInfo.Kind, master: k.Master, state: k.OperState})
	}
	var addrs []struct {
		IfName   string `json:"ifname"`
		AddrInfo []struct {
			Family    string `json:"family"`
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if out, err := exec.Command("ip", "-j", "-n", ns, "addr", "show").Output(); err == nil {
		if err := json.Unmarshal(out, &addrs); err != nil {
			t.Fatalf("ip -j -n %s addr show: %v\n%s", ns, err, out)
		}
	}
	for _, a := range addrs {
		for _, ai := range a.AddrInfo {
			if ai.Family == "inet" {
				l.addrs = append(l.addrs, addrListing{dev: a.IfName, addr: ai.Local + "/" + strconv.Itoa(ai.PrefixLen)})
			}
		}
	}
	l.fdb = outputLines(exec.Command("bridge", "-n", ns, "fdb", "show"))
	l.neigh = outputLines(exec.Command("ip", "-n", ns, "neigh", "show"))
	l.ruleset = nftRuleset(t, ns)
	return l
}

func (l nsListing) link(name string) linkListing {
	for _, k := range l.links {
		if k.name == name {
			return k
		}
	}
	return linkListing{}
}

func (l nsListing) hasAddr(ip netip.Addr) bool {
	for _, a := range l.addrs {
		if p, err := netip.ParsePrefix(a.addr); err == nil && p.Addr() == ip {
			return true
		}
	}
	return false
}

// mentions: the namespace has a forwarding entry for ip's MAC and a neighbour entry for ip.
func (l nsListing) mentions(ip netip.Addr) bool {
	mac := overlay.MACFromIP(ip).String()
	fdb := slices.ContainsFunc(l.fdb, func(s string) bool { return strings.HasPrefix(s, mac+" ") && strings.Contains(s, " dst ") })
	neigh := slices.ContainsFunc(l.neigh, func(s string) bool { return strings.HasPrefix(s, ip.String()+" ") })
	return fdb && neigh
}

// traces lists everything in the namespace that belongs to the endpoint with address ip:
// its veth, the address, forwarding and neighbour entries for it, nftables rules naming it.
func (l nsListing) traces(ip netip.Addr) []string {
	var out []string
	if k := l.link(vethOf(ip)); k.name != "" {
		out = append(out, fmt.Sprintf("%s: %s %s", l.name, k.kind, k.name))
	}
	if l.hasAddr(ip) {
		out = append(out, fmt.Sprintf("%s: address %s", l.name, ip))
	}
	mac := overlay.MACFromIP(ip).String()
	for _, s := range l.fdb {
		if strings.HasPrefix(s, mac+" ") {
			out = append(out, fmt.Sprintf("%s: forwarding entry %s", l.name, s))
		}
	}
	for _, s := range l.neigh {
		if strings.HasPrefix(s, ip.String()+" ") {
			out = append(out, fmt.Sprintf("%s: neighbour entry %s", l.name, s))
		}
	}
	if strings.Contains(l.ruleset, ip.String()+" ") || strings.Contains(l.ruleset, ip.String()+",") || strings.Contains(l.ruleset, ip.String()+"\n") {
		out = append(out, fmt.Sprintf("%s: nftables rules naming %s", l.name, ip))
	}
	return out
}

func (l nsListing) String() string {
	if !l.exists {
		return "  " + l.name + ": (none)\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  %s:\n", l.name)
	for _, k := range l.links {
		if k.name == "lo" {
			continue
		}
		var addrs []string
		for _, a := range l.addrs {
			if a.dev == k.name {
				addrs = append(addrs, a.addr)
			}
		}
		fmt.Fprintf(&b, "    link %s kind=%s master=%s state=%s addrs=%v\n", k.name, k.kind, k.master, k.state, addrs)
	}
	for _, s := range l.fdb {
		if strings.Contains(s, " dst ") || strings.Contains(s, " static") {
			fmt.Fprintf(&b, "    fdb %s\n", s)
		}
	}
	for _, s := range l.neigh {
		fmt.Fprintf(&b, "    neigh %s\n", s)
	}
	for _, s := range strings.Split(l.ruleset, "\n") {
		if s = strings.TrimSpace(s); strings.HasPrefix(s, "table ") || strings.HasPrefix(s, "ip daddr") {
			fmt.Fprintf(&b, "    nft %s\n", s)
		}
	}
	return b.String()
}

// vethOf is the sandbox end of the veth of the endpoint with address ip (see overlay).
func vethOf(ip netip.Addr) string {
	a := ip.As4()
	return fmt.Sprintf("sve%02x%02x%02x%02x", a[0], a[1], a[2], a[3])
}

// nftRuleset is `nft list ruleset` in a namespace ("" for the test's own).
func nftRuleset(t *testing.T, ns string) string {
	t.Helper()
	cmd := exec.Command("nft", "list", "ruleset")
	if ns != "" {
		cmd = exec.Command("ip", "netns", "exec", ns, "nft", "list", "ruleset")
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ns != "" {
			if _, serr := os.Lstat(filepath.Join("/run/netns", ns)); serr != nil {
				return "" // deleted meanwhile
			}
		}
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return string(out)
}

// listeningPorts lists the TCP ports a namespace listens on.
func listeningPorts(t *testing.T, ns string) []int {
	t.Helper()
	var ports []int
	for _, line := range outputLines(exec.Command("ip", "netns", "exec", ns, "ss", "-Hltn")) {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		i := strings.LastIndex(f[3], ":")
		if p, err := strconv.Atoi(f[3][i+1:]); err == nil && !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	slices.Sort(ports)
	return ports
}

// netnsPIDs lists the processes in a namespace.
func netnsPIDs(t *testing.T, ns string) []int {
	t.Helper()
	var pids []int
	for _, line := range outputLines(exec.Command("ip", "netns", "pids", ns)) {
		if pid, err := strconv.Atoi(strings.TrimSpace(line)); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// taskCgroups lists a task container's cgroup directories (runc's <parent>/<task ID>
// under the default parent /shoal) on every hierarchy.
func taskCgroups(taskID string) []string {
	var out []string
	for _, pattern := range []string{"/sys/fs/cgroup/*/shoal/" + taskID, "/sys/fs/cgroup/shoal/" + taskID} {
		matches, _ := filepath.Glob(pattern)
		out = append(out, matches...)
	}
	return out
}

// taskMounts lists the mounts of a task's container (its root file system).
func taskMounts(taskID string) []string {
	var out []string
	for _, m := range mountPoints() {
		if strings.Contains(m.dir, "/"+taskID+"/") || strings.HasSuffix(m.dir, "/"+taskID) {
			out = append(out, m.dir+" ("+m.fstype+")")
		}
	}
	return out
}

// rootLinkNames lists the links of the test's own namespace.
func rootLinkNames(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, line := range strings.Split(ipOut(t, "-o", "link", "show"), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 {
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			names = append(names, name)
		}
	}
	return names
}

func outputLines(cmd *exec.Cmd) []string {
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
