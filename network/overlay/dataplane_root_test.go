package overlay

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal/shoal/network/netns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// This test builds two nodes as network namespaces joined by one veth pair (the underlay,
// 192.168.250.1 and .2, MTU 2000) and task namespaces on them, all named t<pid>-ov-*. No
// namespace it makes has a route out, so no packet leaves them. Everything is removed when
// the test ends, pass or fail.

const (
	testVNI      = 4242
	underlayMTU  = 2000
	testPort     = 7777
	testNetwork  = "net-test"
	testIfName   = "eth0"
	underlayLink = "ul0"
)

var (
	testSubnet  = netip.MustParsePrefix("10.99.0.0/24")
	testGateway = netip.MustParseAddr("10.99.0.1")
	vtep1       = netip.MustParseAddr("192.168.250.1")
	vtep2       = netip.MustParseAddr("192.168.250.2")
	ipA         = netip.MustParseAddr("10.99.0.2")
	ipB         = netip.MustParseAddr("10.99.0.3")
)

func requireRootHost(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds network namespaces, bridges and VXLAN devices; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces and links")
	}
	for _, bin := range []string{"ip", "ping"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs the %s command", bin)
		}
	}
}

// testNS names the test's namespaces so that parallel test processes never meet.
func testNS(suffix string) string { return fmt.Sprintf("t%d-ov-%s", os.Getpid(), suffix) }

// makeNS creates a namespace with its loopback up, removed at the end of the test.
func makeNS(t *testing.T, suffix string) string {
	t.Helper()
	name := testNS(suffix)
	if err := netns.Create(name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := netns.Delete(name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	h := handle(t, netns.Path(name))
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("loopback up in %s: %v", name, err)
	}
	return netns.Path(name)
}

func handle(t *testing.T, path string) *netlink.Handle {
	t.Helper()
	h, err := netns.Handle(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// connectUnderlay joins two node namespaces with a veth pair on 192.168.250.0/24.
func connectUnderlay(t *testing.T, n1, n2 string) {
	t.Helper()
	fd2, err := unix.Open(n2, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd2)
	h1, h2 := handle(t, n1), handle(t, n2)
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: underlayLink, MTU: underlayMTU},
		PeerName:  underlayLink, PeerNamespace: netlink.NsFd(fd2),
	}
	if err := h1.LinkAdd(veth); err != nil {
		t.Fatalf("underlay veth: %v", err)
	}
	for _, side := range []struct {
		h  *netlink.Handle
		ip netip.Addr
	}{{h1, vtep1}, {h2, vtep2}} {
		l, err := side.h.LinkByName(underlayLink)
		if err != nil {
			t.Fatal(err)
		}
		if err := side.h.AddrAdd(l, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(side.ip, 24))}); err != nil {
			t.Fatal(err)
		}
		if err := side.h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
}

// testNode is one node of the test: its namespace and its data plane.
type testNode struct {
	name, path string
	kernel     *Netlink
	underlay   netip.Addr
}

func newTestNode(t *testing.T, suffix string, underlay netip.Addr) *testNode {
	t.Helper()
	path := makeNS(t, suffix)
	k, err := NewNetlink(Config{HostNetns: path, SandboxPrefix: testNS(suffix + "-sb-")})
	if err != nil {
		t.Fatal(err)
	}
	n := &testNode{name: testNS(suffix), path: path, kernel: k, underlay: underlay}
	// Registered after the namespace, so it runs before the namespace is deleted.
	t.Cleanup(func() {
		if _, err := Reconcile(k, Desired{}); err != nil {
			t.Errorf("cleanup of %s: %v", suffix, err)
		}
	})
	return n
}

// reconcile applies d on the node and checks that planning again finds nothing to do.
func (n *testNode) reconcile(t *testing.T, d Desired) {
	t.Helper()
	d.UnderlayIP = n.underlay
	ops, err := Reconcile(n.kernel, d)
	if err != nil {
		t.Fatalf("reconcile %s: %v\nops:\n%s", n.name, err, opLines(ops))
	}
	n.requireConverged(t, d)
}

func (n *testNode) requireConverged(t *testing.T, d Desired) {
	t.Helper()
	o, err := n.kernel.Observe(n.underlay)
	if err != nil {
		t.Fatal(err)
	}
	if again := Plan(d, o); len(again) > 0 {
		t.Fatalf("%s: planning again after reconcile gives ops:\n%s", n.name, opLines(again))
	}
}

func (n *testNode) observeNetwork(t *testing.T) *ObservedNetwork {
	t.Helper()
	o, err := n.kernel.Observe(n.underlay)
	if err != nil {
		t.Fatal(err)
	}
	for i := range o.Networks {
		if o.Networks[i].VNI == testVNI {
			return &o.Networks[i]
		}
	}
	return nil
}

func opLines(ops []Op) string {
	var b strings.Builder
	for _, op := range ops {
		fmt.Fprintf(&b, "  %s\n", op)
	}
	return b.String()
}

func overlayNetwork() Network {
	return Network{ID: testNetwork, VNI: testVNI, Subnet: testSubnet, Gateway: testGateway}
}

func local(task string, ip netip.Addr, nsPath string) LocalEndpoint {
	return LocalEndpoint{TaskID: task, NetworkID: testNetwork, IP: ip, IfName: testIfName, NetnsPath: nsPath}
}

func remote(ip, vtep netip.Addr) RemoteEndpoint {
	return RemoteEndpoint{NetworkID: testNetwork, IP: ip, VTEP: vtep}
}

// ping runs ping inside a namespace; size is the ICMP payload, sent with don't-fragment.
func ping(nsPath string, dst netip.Addr, size int) error {
	return pingN(nsPath, dst, size, 2)
}

func pingN(nsPath string, dst netip.Addr, size, count int) error {
	name := strings.TrimPrefix(nsPath, netns.Dir+"/")
	out, err := exec.Command("ip", "netns", "exec", name, "ping", "-n", "-c", fmt.Sprint(count), "-i", "0.2", "-W", "1",
		"-M", "do", "-s", fmt.Sprint(size), dst.String()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ping %s from %s: %w\n%s", dst, name, err, out)
	}
	return nil
}

// echoServer listens on ip:testPort inside a namespace and echoes every connection.
func echoServer(t *testing.T, nsPath string, ip netip.Addr) {
	t.Helper()
	var ln net.Listener
	err := netns.Do(nsPath, func() error {
		var err error
		ln, err = net.Listen("tcp", netip.AddrPortFrom(ip, testPort).String())
		return err
	})
	if err != nil {
		t.Fatalf("listen in %s: %v", nsPath, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
}

// tcpEcho sends 256 KiB (many full-size segments) over TCP from inside a namespace and
// checks it comes back intact.
func tcpEcho(nsPath string, dst netip.Addr) error {
	var c net.Conn
	err := netns.Do(nsPath, func() error {
		var err error
		c, err = net.DialTimeout("tcp", netip.AddrPortFrom(dst, testPort).String(), 3*time.Second)
		return err
	})
	if err != nil {
		return fmt.Errorf("connect to %s: %w", dst, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	payload := bytes.Repeat([]byte("shoal overlay "), 256<<10/14)
	go func() { _, _ = c.Write(payload) }()
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("echo from %s: %w", dst, err)
	}
	if !bytes.Equal(got, payload) {
		return fmt.Errorf("echo from %s came back different", dst)
	}
	return nil
}

// injectDrift puts into node's sandbox what a careless hand or a stale program might leave:
// a forwarding entry to a node that does not exist, a learned bridge entry, a neighbour
// entry that is not permanent, a stray link and a stray address.
func injectDrift(t *testing.T, node *testNode) {
	t.Helper()
	sb := handle(t, netns.Path(node.kernel.SandboxName(testVNI)))
	vx, err := sb.LinkByName(vxlanName(testVNI))
	if err != nil {
		t.Fatal(err)
	}
	br, err := sb.LinkByName(bridgeName(testVNI))
	if err != nil {
		t.Fatal(err)
	}
	stray := MACFromIP(netip.MustParseAddr("10.99.0.9")).HardwareAddr()
	idx := vx.Attrs().Index
	steps := []struct {
		what string
		err  error
	}{
		{"stray fdb", sb.NeighAppend(&netlink.Neigh{LinkIndex: idx, Family: unix.AF_BRIDGE, Flags: netlink.NTF_SELF,
			State: netlink.NUD_PERMANENT, HardwareAddr: stray, IP: net.ParseIP("192.168.250.9")})},
		{"learned bridge entry", sb.NeighAdd(&netlink.Neigh{LinkIndex: idx, Family: unix.AF_BRIDGE, Flags: netlink.NTF_MASTER,
			State: netlink.NUD_REACHABLE, HardwareAddr: stray})},
		{"stale neighbour", sb.NeighAdd(&netlink.Neigh{LinkIndex: idx, Family: netlink.FAMILY_V4,
			State: netlink.NUD_REACHABLE, IP: net.ParseIP("10.99.0.7"), HardwareAddr: stray})},
		{"stray link", sb.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "junk0"}})},
		{"stray address", sb.AddrAdd(br, &netlink.Addr{IPNet: ipNet(netip.MustParsePrefix("10.99.0.254/24"))})},
	}
	for _, s := range steps {
		if s.err != nil {
			t.Fatalf("inject %s: %v", s.what, s.err)
		}
	}
}

// linkNames lists the links of a namespace.
func linkNames(t *testing.T, nsPath string) []string {
	t.Helper()
	links, err := listLinks(handle(t, nsPath))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	slices.Sort(names)
	return names
}

func TestDataPlaneAcrossTwoNodes(t *testing.T) {
	requireRootHost(t)
	// Registered first, so it runs last: every namespace the test made is gone.
	t.Cleanup(func() {
		if left, _ := netns.List(testNS("")); len(left) > 0 {
			t.Errorf("namespaces left after the test: %v", left)
		}
	})
	node1 := newTestNode(t, "n1", vtep1)
	node2 := newTestNode(t, "n2", vtep2)
	connectUnderlay(t, node1.path, node2.path)
	taskA := makeNS(t, "ta")
	taskB := makeNS(t, "tb")

	// Task A on node 1 and task B on node 2, each node knowing the other's task.
	node1.reconcile(t, Desired{Networks: []Network{overlayNetwork()},
		Local: []LocalEndpoint{local("task-a", ipA, taskA)}, Remote: []RemoteEndpoint{remote(ipB, vtep2)}})
	node2.reconcile(t, Desired{Networks: []Network{overlayNetwork()},
		Local: []LocalEndpoint{local("task-b", ipB, taskB)}, Remote: []RemoteEndpoint{remote(ipA, vtep1)}})

	t.Run("task interface", func(t *testing.T) {
		h := handle(t, taskA)
		l, err := h.LinkByName(testIfName)
		if err != nil {
			t.Fatal(err)
		}
		if want := underlayMTU - VXLANOverhead; l.Attrs().MTU != want {
			t.Errorf("task interface MTU = %d, want underlay %d - %d = %d", l.Attrs().MTU, underlayMTU, VXLANOverhead, want)
		}
		if got, want := l.Attrs().HardwareAddr.String(), MACFromIP(ipA).String(); got != want {
			t.Errorf("task MAC = %s, want %s", got, want)
		}
		routes, err := h.RouteList(nil, netlink.FAMILY_V4)
		if err != nil {
			t.Fatal(err)
		}
		var dsts []string
		for _, r := range routes {
			if r.Dst == nil {
				dsts = append(dsts, "default")
			} else {
				dsts = append(dsts, r.Dst.String())
			}
		}
		if !slices.Equal(dsts, []string{testSubnet.String()}) {
			t.Errorf("task routes = %v, want only %s", dsts, testSubnet)
		}
	})

	t.Run("traffic across the VXLAN", func(t *testing.T) {
		if err := ping(taskA, ipB, 56); err != nil {
			t.Fatal(err)
		}
		// The largest packet the MTU allows crosses whole: 1950 - 20 (IP) - 8 (ICMP).
		if err := ping(taskA, ipB, underlayMTU-VXLANOverhead-28); err != nil {
			t.Errorf("full-MTU ping: %v", err)
		}
		if err := ping(taskA, ipB, underlayMTU-VXLANOverhead-27); err == nil {
			t.Error("a ping one byte over the MTU went through with don't-fragment set")
		}
		if err := ping(taskA, testGateway, 56); err != nil {
			t.Errorf("gateway: %v", err)
		}
		echoServer(t, taskB, ipB)
		if err := tcpEcho(taskA, ipB); err != nil {
			t.Fatal(err)
		}
		// Traffic taught the kernel nothing: no learned entry, nothing to reconcile.
		node1.requireConverged(t, Desired{UnderlayIP: vtep1, Networks: []Network{overlayNetwork()},
			Local: []LocalEndpoint{local("task-a", ipA, taskA)}, Remote: []RemoteEndpoint{remote(ipB, vtep2)}})
	})

	t.Run("traffic needs the programmed entries", func(t *testing.T) {
		// Without B's entries on node 1 nothing reaches B: no flooding, no learning.
		node1.reconcile(t, Desired{Networks: []Network{overlayNetwork()},
			Local: []LocalEndpoint{local("task-a", ipA, taskA)}})
		if err := pingN(taskA, ipB, 56, 1); err == nil {
			t.Error("task B answered with no entries for it on node 1")
		}
		node1.reconcile(t, Desired{Networks: []Network{overlayNetwork()},
			Local: []LocalEndpoint{local("task-a", ipA, taskA)}, Remote: []RemoteEndpoint{remote(ipB, vtep2)}})
		if err := ping(taskA, ipB, 56); err != nil {
			t.Errorf("after putting the entries back: %v", err)
		}
	})

	t.Run("remote entries are exactly the desired ones", func(t *testing.T) {
		n := node1.observeNetwork(t)
		if n == nil {
			t.Fatal("no sandbox on node 1")
		}
		macB := MACFromIP(ipB)
		if want := []FDBEntry{{MAC: macB, VTEP: vtep2}}; !slices.Equal(n.FDB, want) {
			t.Errorf("node 1 VXLAN FDB = %v, want %v", n.FDB, want)
		}
		if want := []BridgeFDBEntry{{MAC: macB, Static: true}}; !slices.Equal(n.BridgeFDB, want) {
			t.Errorf("node 1 bridge FDB on the VXLAN port = %v, want %v", n.BridgeFDB, want)
		}
		if want := []NeighEntry{{IP: ipB, MAC: macB, Permanent: true}}; !slices.Equal(n.Neigh, want) {
			t.Errorf("node 1 neighbours = %v, want %v", n.Neigh, want)
		}
	})

	t.Run("drift is repaired", func(t *testing.T) {
		desired := Desired{Networks: []Network{overlayNetwork()},
			Local: []LocalEndpoint{local("task-a", ipA, taskA)}, Remote: []RemoteEndpoint{remote(ipB, vtep2)}}
		injectDrift(t, node1)
		ops, err := Reconcile(node1.kernel, Desired{UnderlayIP: vtep1, Networks: desired.Networks, Local: desired.Local, Remote: desired.Remote})
		if err != nil {
			t.Fatalf("reconcile: %v\nops:\n%s", err, opLines(ops))
		}
		want := []string{
			"vni 4242: delete neigh 10.99.0.7",
			"vni 4242: delete bridge fdb 02:42:0a:63:00:09 port svx4242",
			"vni 4242: delete fdb 02:42:0a:63:00:09 dst 192.168.250.9",
			"vni 4242: delete link junk0",
			"vni 4242: delete address 10.99.0.254/24 from sbr4242",
		}
		if got := opStrings(ops); !slices.Equal(got, want) {
			t.Errorf("repair ops:\n%s want:\n%s", joinLines(got), joinLines(want))
		}
		node1.requireConverged(t, Desired{UnderlayIP: vtep1, Networks: desired.Networks, Local: desired.Local, Remote: desired.Remote})
		if err := ping(taskA, ipB, 56); err != nil {
			t.Error(err)
		}
		// A VXLAN port that learns is replaced, entries and all.
		sb := handle(t, netns.Path(node1.kernel.SandboxName(testVNI)))
		vx, err := sb.LinkByName(vxlanName(testVNI))
		if err != nil {
			t.Fatal(err)
		}
		if err := sb.LinkSetLearning(vx, true); err != nil {
			t.Fatal(err)
		}
		node1.reconcile(t, desired)
		if err := ping(taskA, ipB, 56); err != nil {
			t.Error(err)
		}
	})

	t.Run("an MTU change reaches every device and both ends of the veth", func(t *testing.T) {
		small := overlayNetwork()
		small.MTU = 1400
		node1.reconcile(t, Desired{Networks: []Network{small},
			Local: []LocalEndpoint{local("task-a", ipA, taskA)}, Remote: []RemoteEndpoint{remote(ipB, vtep2)}})
		l, err := handle(t, taskA).LinkByName(testIfName)
		if err != nil {
			t.Fatal(err)
		}
		if l.Attrs().MTU != 1400 {
			t.Errorf("task interface MTU = %d, want 1400", l.Attrs().MTU)
		}
		n := node1.observeNetwork(t)
		if n.Bridge.MTU != 1400 || n.VXLAN.MTU != 1400 || n.Endpoints[0].MTU != 1400 {
			t.Errorf("sandbox MTUs: bridge %d, vxlan %d, veth %d; want 1400", n.Bridge.MTU, n.VXLAN.MTU, n.Endpoints[0].MTU)
		}
		node1.reconcile(t, Desired{Networks: []Network{overlayNetwork()},
			Local: []LocalEndpoint{local("task-a", ipA, taskA)}, Remote: []RemoteEndpoint{remote(ipB, vtep2)}})
		if err := ping(taskA, ipB, underlayMTU-VXLANOverhead-28); err != nil {
			t.Errorf("full-MTU ping after restoring the MTU: %v", err)
		}
	})

	// Task B moves: it goes from node 2, and a new task C with B's IP starts on node 1.
	taskC := makeNS(t, "tc")
	node2.reconcile(t, Desired{Networks: []Network{overlayNetwork()}, Remote: []RemoteEndpoint{remote(ipA, vtep1)}})
	node1.reconcile(t, Desired{Networks: []Network{overlayNetwork()},
		Local: []LocalEndpoint{local("task-a", ipA, taskA), local("task-c", ipB, taskC)}})

	t.Run("after a move", func(t *testing.T) {
		n := node1.observeNetwork(t)
		if n == nil {
			t.Fatal("no sandbox on node 1")
		}
		if len(n.FDB) != 0 || len(n.BridgeFDB) != 0 || len(n.Neigh) != 0 {
			t.Errorf("stale entries on node 1: fdb %v, bridge fdb %v, neigh %v", n.FDB, n.BridgeFDB, n.Neigh)
		}
		if n2 := node2.observeNetwork(t); n2 != nil {
			t.Errorf("node 2 still has the network with no task on it: %+v", n2)
		}
		if got := linkNames(t, taskB); !slices.Equal(got, []string{"lo"}) {
			t.Errorf("task B's namespace still has links %v", got)
		}
		echoServer(t, taskC, ipB)
		if err := tcpEcho(taskA, ipB); err != nil {
			t.Errorf("traffic does not follow the move: %v", err)
		}
		if err := ping(taskA, ipB, 56); err != nil {
			t.Error(err)
		}
	})

	// A new task D with a new IP on node 2, which had lost the network and gets it back.
	taskD := makeNS(t, "td")
	ipD := netip.MustParseAddr("10.99.0.4")
	node2.reconcile(t, Desired{Networks: []Network{overlayNetwork()},
		Local:  []LocalEndpoint{local("task-d", ipD, taskD)},
		Remote: []RemoteEndpoint{remote(ipA, vtep1), remote(ipB, vtep1)}})
	node1.reconcile(t, Desired{Networks: []Network{overlayNetwork()},
		Local:  []LocalEndpoint{local("task-a", ipA, taskA), local("task-c", ipB, taskC)},
		Remote: []RemoteEndpoint{remote(ipD, vtep2)}})
	t.Run("a new task on a new IP", func(t *testing.T) {
		for _, from := range []string{taskA, taskC} {
			if err := ping(from, ipD, 56); err != nil {
				t.Error(err)
			}
		}
		if err := ping(taskD, ipB, 56); err != nil {
			t.Error(err)
		}
	})

	// Clean-up: with nothing desired, nothing of ours is left on either node.
	node1.reconcile(t, Desired{})
	node2.reconcile(t, Desired{})
	t.Run("nothing left", func(t *testing.T) {
		for _, n := range []*testNode{node1, node2} {
			sandboxes, err := netns.List(n.kernel.cfg.SandboxPrefix)
			if err != nil {
				t.Fatal(err)
			}
			if len(sandboxes) > 0 {
				t.Errorf("%s: sandboxes left: %v", n.name, sandboxes)
			}
			if got := linkNames(t, n.path); !slices.Equal(got, []string{"lo", underlayLink}) {
				t.Errorf("%s: links %v, want only lo and %s", n.name, got, underlayLink)
			}
		}
		for _, task := range []string{taskA, taskB, taskC, taskD} {
			if got := linkNames(t, task); !slices.Equal(got, []string{"lo"}) {
				t.Errorf("task namespace %s: links %v, want only lo", task, got)
			}
		}
	})
}
