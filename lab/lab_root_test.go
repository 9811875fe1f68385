package lab

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These tests build real labs: namespaces, bridge, veths, detached stand-in daemons. They
// need root and iproute2, and touch nothing outside the namespaces and links they make
// (every address they reach is a lab address).

func requireLabHost(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds network namespaces; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces and links")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2)")
	}
}

// testLabName is unique per test process so parallel runs do not meet.
func testLabName(suffix string) string { return fmt.Sprintf("t%d-%s", os.Getpid(), suffix) }

// fakeDaemon runs this test binary as every node's daemon.
func fakeDaemon(t *testing.T) func(Node) []string {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return func(n Node) []string {
		return []string{self, fakeDaemonArg, "--data-root", n.DataRoot, "-H", n.Host(), "--hostname", n.Name}
	}
}

// upForTest builds a lab and removes it when the test ends, pass or fail.
func upForTest(t *testing.T, opts Options) (*Lab, string) {
	t.Helper()
	t.Cleanup(func() {
		if err := Down(opts.Name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	l, err := Up(ctx, opts, &progress)
	if err != nil {
		t.Fatalf("Up: %v\nprogress:\n%s", err, progress.String())
	}
	return l, progress.String()
}

func readForwarding(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// reaches reports whether argv-prefix (a command runner) gets an answer from addr: by ping
// when the machine has it, else by a TCP connection to the stand-in daemon's port.
func reaches(ctx context.Context, run func(argv ...string) *exec.Cmd, addr netip.Addr) bool {
	if _, err := exec.LookPath("ping"); err == nil {
		return run("ping", "-c1", "-W1", addr.String()).Run() == nil
	}
	self, _ := os.Executable()
	return run(self, probeArg, net.JoinHostPort(addr.String(), "2377")).Run() == nil
}

func fromNode(ctx context.Context, l *Lab, node string) func(argv ...string) *exec.Cmd {
	return func(argv ...string) *exec.Cmd { return l.Exec(ctx, node, argv...) }
}

func fromMachine(ctx context.Context) func(argv ...string) *exec.Cmd {
	return func(argv ...string) *exec.Cmd { return exec.CommandContext(ctx, argv[0], argv[1:]...) }
}

func TestLabNetworkAndLifecycle(t *testing.T) {
	requireLabHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	forwarding := readForwarding(t)
	name := testLabName("net")
	l, progress := upForTest(t, Options{
		Name: name, Managers: 2, Workers: 1,
		DispatcherHeartbeat: 2 * time.Second, CertExpiry: 48 * time.Hour,
		DaemonCommand: fakeDaemon(t),
	})
	for _, want := range []string{"creating network", "starting manager-1 ... ok", "starting worker-1 ... ok",
		"initializing swarm on manager-1 ... ok", "joining manager-2 ... ok", "joining worker-1 ... ok"} {
		if !strings.Contains(progress, want) {
			t.Errorf("progress lacks %q:\n%s", want, progress)
		}
	}
	nodes := l.Nodes()
	if len(nodes) != 3 {
		t.Fatalf("%d nodes, want 3", len(nodes))
	}
	if fi, err := os.Stat(l.Dir()); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("lab directory: %v, mode %v; want 0700", err, fi.Mode().Perm())
	}
	loaded, err := Load(name)
	if err != nil || !slices.EqualFunc(loaded.Nodes(), nodes, func(a, b Node) bool { return a.Name == b.Name && a.PID == b.PID && a.Addr == b.Addr }) {
		t.Errorf("Load: %v, nodes %+v", err, loaded)
	}

	t.Run("nodes reach each other", func(t *testing.T) {
		for _, from := range nodes {
			for _, to := range nodes {
				if !reaches(ctx, fromNode(ctx, l, from.Name), to.Addr) {
					t.Errorf("%s does not reach %s (%s)", from.Name, to.Name, to.Addr)
				}
			}
		}
	})
	t.Run("machine reaches each daemon in its namespace", func(t *testing.T) {
		for _, n := range nodes {
			if !reaches(ctx, fromMachine(ctx), n.Addr) {
				t.Errorf("machine does not reach %s (%s)", n.Name, n.Addr)
			}
			if got := greeting(t, n.Addr); got != n.Name {
				t.Errorf("%s:2377 answered as %q, want %q", n.Addr, got, n.Name)
			}
		}
	})
	t.Run("sealed", func(t *testing.T) {
		for _, n := range nodes {
			for _, family := range []string{"-4", "-6"} {
				out, err := l.Exec(ctx, n.Name, "ip", family, "route", "show", "default").CombinedOutput()
				if err != nil || len(bytes.TrimSpace(out)) != 0 {
					t.Errorf("%s: ip %s route show default: %v %q; want no default route", n.Name, family, err, out)
				}
			}
		}
		if got := readForwarding(t); got != forwarding {
			t.Errorf("root ip_forward changed from %s to %s", forwarding, got)
		}
		for _, n := range nodes {
			out, err := l.Exec(ctx, n.Name, "cat", "/etc/resolv.conf").Output()
			if err != nil || bytes.Contains(out, []byte("nameserver")) {
				t.Errorf("%s: /etc/resolv.conf = %q, %v; want no nameserver", n.Name, out, err)
			}
		}
	})
	t.Run("cluster formed through the API", func(t *testing.T) { checkSwarmCalls(t, l) })
	t.Run("env", func(t *testing.T) {
		env, err := l.Env("worker-1")
		w, _ := l.Node("worker-1")
		want := []string{"SHOAL_HOST=" + w.Host(), "DOCKER_HOST=" + w.Host(), "SHOAL_NODE_ADDR=" + w.Addr.String()}
		if err != nil || !slices.Equal(env, want) {
			t.Errorf("Env = %q, %v; want %q", env, err, want)
		}
		if _, err := l.Env("worker-9"); err == nil {
			t.Error("Env of an unknown node succeeded")
		}
		if err := l.Exec(ctx, "worker-9", "true").Run(); err == nil {
			t.Error("Exec on an unknown node succeeded")
		}
	})
	t.Run("stop cuts a node off and start brings it back", func(t *testing.T) {
		m1, _ := l.Node("manager-1")
		w, _ := l.Node("worker-1")
		if got := labStatus(t, name); got != "running" {
			t.Errorf("status %q, want running", got)
		}
		if err := l.Stop("worker-1", StopOptions{}); err != nil {
			t.Fatal(err)
		}
		if alive(w.PID, w.PIDStart) {
			t.Errorf("daemon %d of worker-1 survived Stop", w.PID)
		}
		if reaches(ctx, fromNode(ctx, l, "manager-1"), w.Addr) {
			t.Error("manager-1 still reaches the stopped worker-1")
		}
		if got := labStatus(t, name); got != "degraded (2/3 nodes up)" {
			t.Errorf("status %q, want degraded (2/3 nodes up)", got)
		}
		if err := l.Start(ctx, "worker-1"); err != nil {
			t.Fatal(err)
		}
		w, _ = l.Node("worker-1")
		if !alive(w.PID, w.PIDStart) || !inNetns(w.PID, w.Netns) {
			t.Errorf("daemon %d of worker-1 is not running in %s after Start", w.PID, w.Netns)
		}
		if !reaches(ctx, fromNode(ctx, l, "manager-1"), w.Addr) || !reaches(ctx, fromNode(ctx, l, "worker-1"), m1.Addr) {
			t.Error("worker-1 and manager-1 do not reach each other after Start")
		}
		if got := labStatus(t, name); got != "running" {
			t.Errorf("status %q, want running", got)
		}
	})

	pids := daemonPIDs(l)
	if err := l.Down(); err != nil {
		t.Fatalf("Down: %v", err)
	}
	assertGone(t, name, pids)
	if got := readForwarding(t); got != forwarding {
		t.Errorf("root ip_forward changed from %s to %s", forwarding, got)
	}
	if err := Down(name); err != nil {
		t.Errorf("second Down: %v", err)
	}
}

func checkSwarmCalls(t *testing.T, l *Lab) {
	m1, _ := l.Node("manager-1")
	remote := net.JoinHostPort(m1.Addr.String(), "2377")
	for _, n := range l.Nodes() {
		calls, err := fakeCalls(n.Log)
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) != 1 {
			t.Errorf("%s got %d swarm calls, want 1: %+v", n.Name, len(calls), calls)
			continue
		}
		c := calls[0]
		advertise := net.JoinHostPort(n.Addr.String(), "2377")
		switch {
		case n.Name == "manager-1":
			if c.Init == nil || c.Init.AdvertiseAddr != advertise || c.Init.ListenAddr != "0.0.0.0:2377" ||
				c.Init.Spec.Dispatcher.HeartbeatPeriod != 2*time.Second || c.Init.Spec.CAConfig.NodeCertExpiry != 48*time.Hour {
				t.Errorf("manager-1 init = %+v", c.Init)
			}
		default:
			token := "SWMTKN-1-fake-worker"
			if n.Role == RoleManager {
				token = "SWMTKN-1-fake-manager"
			}
			if c.Join == nil || c.Join.JoinToken != token || !slices.Equal(c.Join.RemoteAddrs, []string{remote}) ||
				c.Join.AdvertiseAddr != advertise || c.Join.ListenAddr != "0.0.0.0:2377" {
				t.Errorf("%s join = %+v", n.Name, c.Join)
			}
		}
	}
}

func greeting(t *testing.T, addr netip.Addr) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort(addr.String(), "2377"), 2*time.Second)
	if err != nil {
		t.Errorf("dial %s: %v", addr, err)
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

func labStatus(t *testing.T, name string) string {
	t.Helper()
	labs, err := List()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range labs {
		if s.Name == name {
			return s.Status
		}
	}
	return "absent"
}

func daemonPIDs(l *Lab) []int {
	var pids []int
	for _, n := range l.Nodes() {
		if n.PID > 0 {
			pids = append(pids, n.PID)
		}
	}
	return pids
}

// assertGone lists, the way a person would, what could remain of a lab: namespaces, the
// root link, the state directory, and processes (the recorded daemons, and any process
// whose command line names the lab's directory).
func assertGone(t *testing.T, name string, pids []int) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, netnsPrefix+name+"-") {
			t.Errorf("namespace left: %s", line)
		}
	}
	if etc, _ := filepath.Glob(filepath.Join(etcNetnsDir, netnsPrefix+name+"-*")); len(etc) > 0 {
		t.Errorf("resolver files left: %v", etc)
	}
	if err := exec.Command("ip", "link", "show", hostLinkName(name)).Run(); err == nil {
		t.Errorf("link %s left", hostLinkName(name))
	}
	if _, err := os.Stat(labDir(name)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state directory %s left (%v)", labDir(name), err)
	}
	for _, pid := range pids {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			t.Errorf("daemon process %d left", pid)
		}
	}
	marker := []byte(labDir(name) + "/")
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, marker) {
			t.Errorf("process %s left: %q", e.Name(), bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		}
	}
}

// TestLabsSideBySide runs two labs at once with daemons that serve nothing (sleep), and
// checks they get distinct subnets, cannot reach each other, refuse a colliding subnet or a
// taken name, and that Down clears a lab whose lab.json is gone.
func TestLabsSideBySide(t *testing.T) {
	requireLabHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sleep := func(Node) []string { return []string{"sleep", "3600"} }
	a, _ := upForTest(t, Options{Name: testLabName("a"), Workers: 1, DaemonCommand: sleep, SkipPing: true})
	b, progress := upForTest(t, Options{Name: testLabName("b"), Workers: 1, DaemonCommand: sleep, SkipPing: true})
	if strings.Contains(progress, "swarm") {
		t.Errorf("SkipPing lab formed a swarm:\n%s", progress)
	}
	if a.Subnet().Overlaps(b.Subnet()) {
		t.Fatalf("labs share addresses: %s and %s", a.Subnet(), b.Subnet())
	}
	aw, _ := a.Node("worker-1")
	bw, _ := b.Node("worker-1")
	if !reaches(ctx, fromNode(ctx, a, "manager-1"), aw.Addr) {
		t.Error("lab a: manager-1 does not reach worker-1")
	}
	if reaches(ctx, fromNode(ctx, a, "manager-1"), bw.Addr) {
		t.Error("lab a reaches lab b: traffic crossed the machine")
	}

	_, err := Up(ctx, Options{Name: testLabName("c"), Subnet: a.Subnet().String(), DaemonCommand: sleep, SkipPing: true}, nil)
	if err == nil || !strings.Contains(err.Error(), "collides") {
		t.Errorf("Up on lab a's subnet: %v, want a collision error", err)
	}
	assertGone(t, testLabName("c"), nil)
	_, err = Up(ctx, Options{Name: a.Name(), DaemonCommand: sleep, SkipPing: true}, nil)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("Up of an existing name: %v, want already exists", err)
	}

	// Down without lab.json finds everything by name.
	pids := daemonPIDs(b)
	if err := os.Remove(filepath.Join(b.Dir(), stateFile)); err != nil {
		t.Fatal(err)
	}
	if got := labStatus(t, b.Name()); got != "incomplete" {
		t.Errorf("status without lab.json = %q, want incomplete", got)
	}
	if err := Down(b.Name()); err != nil {
		t.Fatalf("Down without lab.json: %v", err)
	}
	assertGone(t, b.Name(), pids)
	if !reaches(ctx, fromNode(ctx, a, "worker-1"), a.HostAddr()) {
		t.Error("lab a lost its network when lab b went down")
	}
}

// TestDownClearsLeftovers makes the debris an interrupted `lab up` can leave (a namespace
// with a process in it, the machine's link, no state directory) and checks that List shows
// it, Up refuses the name, and Down clears it.
func TestDownClearsLeftovers(t *testing.T) {
	requireLabHost(t)
	name := testLabName("debris")
	ns := netnsName(name, "worker-3")
	t.Cleanup(func() {
		if err := Down(name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	if out, err := exec.Command("ip", "link", "add", hostLinkName(name), "type", "veth", "peer", "name", hostLinkName(name)+"p").CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v: %s", err, out)
	}
	sleeper := exec.Command("ip", "netns", "exec", ns, "sleep", "3600")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- sleeper.Wait() }()

	if got := labStatus(t, name); got != "leftover" {
		t.Errorf("status = %q, want leftover", got)
	}
	sleep := func(Node) []string { return []string{"sleep", "3600"} }
	_, err := Up(context.Background(), Options{Name: name, DaemonCommand: sleep, SkipPing: true}, nil)
	if err == nil || !strings.Contains(err.Error(), "leftovers") {
		t.Errorf("Up over leftovers: %v, want a leftovers error", err)
	}
	if err := Down(name); err != nil {
		t.Fatalf("Down: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Errorf("process %d in the leftover namespace survived Down", sleeper.Process.Pid)
	}
	assertGone(t, name, nil)
}
