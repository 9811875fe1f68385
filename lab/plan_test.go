package lab

import (
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"lab", true},
		{"a", true},
		{"ci-42", true},
		{strings.Repeat("x", maxNameLen), true},
		{"", false},
		{strings.Repeat("x", maxNameLen+1), false},
		{"Lab", false},
		{"-lab", false},
		{"lab-", false},
		{"my_lab", false},
		{"a/b", false},
		{"a.b", false},
	} {
		err := ValidateName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%t", tc.name, err, tc.ok)
		}
	}
}

func TestDerivedNamesFitInterfaceNames(t *testing.T) {
	longest := strings.Repeat("z", maxNameLen)
	for _, lab := range []string{"a", "lab", "ci-42", longest} {
		link := hostLinkName(lab)
		if len(link) > ifNameMax {
			t.Errorf("hostLinkName(%q) = %q: %d characters, more than %d", lab, link, len(link), ifNameMax)
		}
		if !strings.HasPrefix(link, hostLinkPrefix) {
			t.Errorf("hostLinkName(%q) = %q: want prefix %q", lab, link, hostLinkPrefix)
		}
		if hostLinkName(lab) != link {
			t.Errorf("hostLinkName(%q) is not stable", lab)
		}
	}
	if hostLinkName("a") == hostLinkName("b") {
		t.Error("two lab names share a host link name")
	}
	for _, iface := range []string{bridgeName, switchHostPort, nodeIface} {
		if len(iface) > ifNameMax {
			t.Errorf("interface name %q is longer than %d", iface, ifNameMax)
		}
	}
}

func TestParseNetnsName(t *testing.T) {
	for _, tc := range []struct {
		ns         string
		lab, node  string
		ok         bool
		comeFromUs bool // made by netnsName, so it must parse back
	}{
		{ns: "shoal-lab-sw", lab: "lab", node: "sw", ok: true},
		{ns: "shoal-lab-manager-1", lab: "lab", node: "manager-1", ok: true},
		{ns: "shoal-lab-worker-12", lab: "lab", node: "worker-12", ok: true},
		{ns: "shoal-a-b-worker-1", lab: "a-b", node: "worker-1", ok: true},
		{ns: "shoal-a-manager-1-sw", lab: "a-manager-1", node: "sw", ok: true},
		{ns: "shoal-a-sw-manager-2", lab: "a-sw", node: "manager-2", ok: true},
		{ns: "shoal-lab-worker-0", ok: false},
		{ns: "shoal-lab-runner-1", ok: false},
		{ns: "shoal-lab", ok: false},
		{ns: "shoal--sw", ok: false},
		{ns: "other-lab-manager-1", ok: false},
		{ns: "shoal-Lab-manager-1", ok: false},
	} {
		lab, node, ok := parseNetnsName(tc.ns)
		if ok != tc.ok || lab != tc.lab || node != tc.node {
			t.Errorf("parseNetnsName(%q) = %q, %q, %t; want %q, %q, %t", tc.ns, lab, node, ok, tc.lab, tc.node, tc.ok)
		}
		if tc.ok && netnsName(tc.lab, tc.node) != tc.ns {
			t.Errorf("netnsName(%q, %q) = %q, want %q", tc.lab, tc.node, netnsName(tc.lab, tc.node), tc.ns)
		}
	}
}

// A lab whose name is another's plus a suffix must never claim the other's namespaces.
func TestNetnsNamesDoNotCrossLabs(t *testing.T) {
	labs := []string{"a", "a-b", "a-sw", "a-manager", "a-manager-1", "a-worker-1-sw"}
	nodes := []string{switchNode, "manager-1", "manager-2", "worker-1", "worker-10"}
	for _, owner := range labs {
		for _, node := range nodes {
			ns := netnsName(owner, node)
			lab, got, ok := parseNetnsName(ns)
			if !ok || lab != owner || got != node {
				t.Errorf("parseNetnsName(%q) = %q, %q, %t; want lab %q node %q", ns, lab, got, ok, owner, node)
			}
		}
	}
}

func TestPlanNodes(t *testing.T) {
	subnet := netip.MustParsePrefix("172.16.3.0/24")
	p, err := planNodes(subnet, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	if p.HostAddr != netip.MustParseAddr("172.16.3.1") {
		t.Errorf("host address %s, want 172.16.3.1", p.HostAddr)
	}
	want := []nodeSpec{
		{"manager-1", RoleManager, netip.MustParseAddr("172.16.3.2")},
		{"manager-2", RoleManager, netip.MustParseAddr("172.16.3.3")},
		{"manager-3", RoleManager, netip.MustParseAddr("172.16.3.4")},
		{"worker-1", RoleWorker, netip.MustParseAddr("172.16.3.5")},
		{"worker-2", RoleWorker, netip.MustParseAddr("172.16.3.6")},
	}
	if !slices.Equal(p.Nodes, want) {
		t.Errorf("nodes = %v, want %v", p.Nodes, want)
	}

	for _, tc := range []struct {
		subnet            string
		managers, workers int
		wantErr           string
	}{
		{"172.16.0.0/24", 0, 1, "at least 1"},
		{"172.16.0.0/24", 1, -1, "0 or more"},
		{"172.16.0.0/24", 200, 53, ""},
		{"172.16.0.0/24", 200, 54, "do not fit"},
		{"172.16.0.0/29", 3, 2, ""}, // 6 hosts: the machine and 5 nodes
		{"172.16.0.0/29", 3, 3, "do not fit"},
		{"172.16.0.0/16", 1, 300, ""},
	} {
		_, err := planNodes(netip.MustParsePrefix(tc.subnet), tc.managers, tc.workers)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("planNodes(%s, %d, %d) = %v, want error containing %q", tc.subnet, tc.managers, tc.workers, err, tc.wantErr)
		}
	}
}

func taken(sources ...string) []takenPrefix {
	var out []takenPrefix
	for _, s := range sources {
		out = append(out, takenPrefix{Prefix: netip.MustParsePrefix(s), Source: "test " + s})
	}
	return out
}

func TestPickSubnet(t *testing.T) {
	// Every /24 of 172.16.0.0/12, as a list of /16s.
	var all172 []string
	for i := 16; i < 32; i++ {
		all172 = append(all172, "172."+strconv.Itoa(i)+".0.0/16")
	}
	for _, tc := range []struct {
		name  string
		taken []takenPrefix
		want  string
	}{
		{"nothing taken", nil, "172.16.0.0/24"},
		{"first /24 taken", taken("172.16.0.0/24"), "172.16.1.0/24"},
		{"host address inside", taken("172.16.0.77/32"), "172.16.1.0/24"},
		{"uplink /16", taken("172.16.0.0/16"), "172.17.0.0/24"},
		{"docker and kind", taken("172.16.0.0/24", "172.17.0.0/16", "172.18.0.0/16"), "172.16.1.0/24"},
		{"all of 172.16/12 by one route", taken("172.16.0.0/12"), "192.168.0.0/24"},
		{"all of 172.16/12 by /16s", taken(all172...), "192.168.0.0/24"},
		{"uplink in documentation range", taken("192.0.2.0/24", "127.0.0.0/8"), "172.16.0.0/24"},
		{"a broad route", taken("172.0.0.0/8"), "192.168.0.0/24"},
		{"unrelated 10/8", taken("10.0.0.0/8"), "172.16.0.0/24"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pickSubnet(tc.taken)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tc.want {
				t.Errorf("pickSubnet = %s, want %s", got, tc.want)
			}
		})
	}
	if got, err := pickSubnet(taken("172.16.0.0/12", "192.168.0.0/16")); err == nil {
		t.Errorf("pickSubnet with every candidate taken = %s, want an error", got)
	}
}

func TestParseSubnet(t *testing.T) {
	for _, tc := range []struct {
		in      string
		wantErr string
	}{
		{"172.20.0.0/24", ""},
		{"192.168.77.0/24", ""},
		{"198.18.0.0/16", ""},
		{"172.20.0.0/29", ""},
		{"172.20.0.5/24", "did you mean 172.20.0.0/24"},
		{"172.20.0.0", "IPv4 prefix"},
		{"fd00::/64", "IPv4 prefix"},
		{"auto", "IPv4 prefix"},
		{"10.1.0.0/24", "overlay address pool"},
		{"127.1.0.0/24", "unicast"},
		{"169.254.3.0/24", "unicast"},
		{"224.1.1.0/24", "unicast"},
		{"0.0.0.0/16", "unicast"},
		{"172.0.0.0/8", "between /16 and /29"},
		{"172.20.0.0/30", "between /16 and /29"},
	} {
		_, err := parseSubnet(tc.in)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("parseSubnet(%q) = %v, want error containing %q", tc.in, err, tc.wantErr)
		}
	}
}

func TestCheckSubnet(t *testing.T) {
	tk := []takenPrefix{
		{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Source: "address 192.0.2.2/24 on eth0"},
		{Prefix: netip.MustParsePrefix("172.20.0.0/24"), Source: "lab other"},
	}
	for _, tc := range []struct {
		subnet  string
		wantErr string
	}{
		{"172.21.0.0/24", ""},
		{"172.20.0.0/24", "lab other"},
		{"172.20.0.0/16", "lab other"},
		{"172.20.0.128/25", "lab other"},
		{"192.0.2.0/24", "address 192.0.2.2/24 on eth0"},
	} {
		err := checkSubnet(netip.MustParsePrefix(tc.subnet), tk)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("checkSubnet(%s) = %v, want error containing %q", tc.subnet, err, tc.wantErr)
		}
	}
}

func TestIsCatchAllRoute(t *testing.T) {
	for _, tc := range []struct {
		route string
		want  bool
	}{
		{"0.0.0.0/0", true},
		{"0.0.0.0/1", true},
		{"128.0.0.0/1", true},
		{"172.0.0.0/8", false},
		{"172.16.0.0/12", false},
		{"192.0.2.0/24", false},
	} {
		if got := isCatchAllRoute(netip.MustParsePrefix(tc.route)); got != tc.want {
			t.Errorf("isCatchAllRoute(%s) = %t, want %t", tc.route, got, tc.want)
		}
	}
}

func TestNewState(t *testing.T) {
	p, err := planNodes(netip.MustParsePrefix("172.16.9.0/24"), 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Name: "demo", Bin: "/usr/bin/shoal", DaemonArgs: []string{"--debug"},
		DispatcherHeartbeat: 2 * time.Second, StartTimeout: time.Minute}
	st := newState(opts, p)
	if st.SwitchNetns != "shoal-demo-sw" || st.HostLink != hostLinkName("demo") || st.HostAddr.String() != "172.16.9.1" {
		t.Errorf("switch %q, host link %q, host address %s", st.SwitchNetns, st.HostLink, st.HostAddr)
	}
	if time.Duration(st.DispatcherHeartbeat) != 2*time.Second || !st.WaitPing || st.Phase != phaseBuilding {
		t.Errorf("heartbeat %s, wait ping %t, phase %s", time.Duration(st.DispatcherHeartbeat), st.WaitPing, st.Phase)
	}
	w := st.Nodes[1]
	dir := filepath.Join(StateRoot, "demo", "worker-1")
	if w.Name != "worker-1" || w.Role != RoleWorker || w.Netns != "shoal-demo-worker-1" || w.Link != "worker-1" ||
		w.Dir != dir || w.Socket != dir+"/shoal.sock" || w.DataRoot != dir+"/data" || w.Log != dir+"/daemon.log" {
		t.Errorf("worker = %+v", w)
	}
	if w.Host() != "unix://"+dir+"/shoal.sock" {
		t.Errorf("Host() = %q", w.Host())
	}
	wantCmd := []string{"/usr/bin/shoal", "daemon", "--data-root", dir + "/data", "-H", "unix://" + dir + "/shoal.sock", "--hostname", "worker-1", "--netns-prefix", "shoal-demo-worker-1.", "--debug"}
	if !slices.Equal(w.Command, wantCmd) {
		t.Errorf("command = %q, want %q", w.Command, wantCmd)
	}
	// The socket path must fit a sockaddr_un (108 bytes) for the longest lab name.
	long := newState(Options{Name: strings.Repeat("z", maxNameLen)}, p)
	if n := len(long.Nodes[0].Socket); n >= 108 {
		t.Errorf("socket path %q is %d bytes, too long for a unix socket", long.Nodes[0].Socket, n)
	}

	opts.DaemonCommand = func(n Node) []string { return []string{"sleep", "1000", n.Name} }
	opts.SkipPing = true
	st = newState(opts, p)
	if got := st.Nodes[0].Command; !slices.Equal(got, []string{"sleep", "1000", "manager-1", "--debug"}) {
		t.Errorf("command with DaemonCommand = %q", got)
	}
	if st.WaitPing {
		t.Error("WaitPing set although SkipPing")
	}
}

func TestUnescapeMountPath(t *testing.T) {
	for in, want := range map[string]string{
		`/var/lib/x`:         "/var/lib/x",
		`/var/lib/a\040b`:    "/var/lib/a b",
		`/a\011b\134c`:       "/a\tb\\c",
		`/trailing\04`:       `/trailing\04`,
		`/ends-with\040`:     "/ends-with ",
		`/not\999an-escape/`: `/not\999an-escape/`,
	} {
		if got := unescapeMountPath(in); got != want {
			t.Errorf("unescapeMountPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOptionsComplete(t *testing.T) {
	stub := func(Node) []string { return []string{"sleep", "1"} }
	got, err := Options{DaemonCommand: stub}.complete()
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != DefaultName || got.Managers != 1 || got.DispatcherHeartbeat != DefaultDispatcherHeartbeat || got.StartTimeout != DefaultStartTimeout {
		t.Errorf("defaults: %+v", got)
	}
	if got, _ := (Options{DaemonCommand: stub, SkipPing: true}).complete(); !got.SkipSwarm {
		t.Error("SkipPing does not imply SkipSwarm")
	}
	if got, err := (Options{Bin: "sh"}).complete(); err != nil || !filepath.IsAbs(got.Bin) {
		t.Errorf("Bin sh resolved to %q, %v; want an absolute path", got.Bin, err)
	}
	for _, tc := range []struct {
		opts    Options
		wantErr string
	}{
		{Options{Name: "Bad Name", DaemonCommand: stub}, "invalid lab name"},
		{Options{Managers: -1, DaemonCommand: stub}, "must not be negative"},
		{Options{Workers: -2, DaemonCommand: stub}, "must not be negative"},
		{Options{DispatcherHeartbeat: -time.Second, DaemonCommand: stub}, "heartbeat"},
		{Options{CertExpiry: -time.Hour, DaemonCommand: stub}, "certificate expiry"},
		{Options{Subnet: "10.9.0.0/24", DaemonCommand: stub}, "overlay"},
		{Options{Subnet: "bogus", DaemonCommand: stub}, "invalid subnet"},
		{Options{Bin: "/nonexistent/shoal"}, "invalid shoal binary"},
	} {
		_, err := tc.opts.complete()
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("complete(%+v) = %v, want error containing %q", tc.opts, err, tc.wantErr)
		}
	}
}
