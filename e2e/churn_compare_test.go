package e2e

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/clusterapi"
	"github.com/shoal/shoal/network/overlay"
)

// The comparison itself, on a handmade cluster: two nodes, the ingress network, one
// overlay network, a vip service publishing a port with a task on each node, a dnsrr
// service, an ended task and a task of a removed service.

func churnFixture() clusterState {
	a := netip.MustParseAddr
	return clusterState{
		Nodes: []csNode{
			{ID: "m1", Name: "manager-1", Addr: a("192.168.7.2"), Ready: true},
			{ID: "w1", Name: "worker-1", Addr: a("192.168.7.3"), Ready: true},
		},
		Networks: []csNetwork{
			{ID: "ing", Name: "ingress", VNI: 4096, Ingress: true, Subnet: netip.MustParsePrefix("10.0.0.0/24"), Gateway: a("10.0.0.1")},
			{ID: "app", Name: "app", VNI: 4097, Subnet: netip.MustParsePrefix("10.0.1.0/24"), Gateway: a("10.0.1.1")},
		},
		Services: []csService{
			{ID: "s-web", Name: "web", Networks: []string{"app"}, VIPs: map[string]netip.Addr{"app": a("10.0.1.2"), "ing": a("10.0.0.2")}, Ports: []uint32{8080}},
			{ID: "s-rr", Name: "rr", DNSRR: true, Networks: []string{"app"}, VIPs: map[string]netip.Addr{}},
		},
		Tasks: []csTask{
			{ID: "web1aaaaaaaaaaaa", ServiceID: "s-web", NodeID: "m1", Slot: 1, State: swarm.TaskStateRunning, Desired: swarm.TaskStateRunning,
				Networks: []string{"app", "ing"}, Addrs: map[string]netip.Addr{"app": a("10.0.1.3"), "ing": a("10.0.0.3")}},
			{ID: "web2bbbbbbbbbbbb", ServiceID: "s-web", NodeID: "w1", Slot: 2, State: swarm.TaskStateRunning, Desired: swarm.TaskStateRunning,
				Networks: []string{"app", "ing"}, Addrs: map[string]netip.Addr{"app": a("10.0.1.4"), "ing": a("10.0.0.4")}},
			{ID: "rr1ccccccccccccc", ServiceID: "s-rr", NodeID: "w1", Slot: 1, State: swarm.TaskStateRunning, Desired: swarm.TaskStateRunning,
				Networks: []string{"app"}, Addrs: map[string]netip.Addr{"app": a("10.0.1.5")}},
			// An old task of web, stopped: nothing of it may remain.
			{ID: "web2oldddddddddd", ServiceID: "s-web", NodeID: "w1", Slot: 2, State: swarm.TaskStateShutdown, Desired: swarm.TaskStateShutdown,
				Networks: []string{"app", "ing"}, Addrs: map[string]netip.Addr{"app": a("10.0.1.6"), "ing": a("10.0.0.6")}},
			// A task of a removed service still stopping on w1: still a peer, no name.
			{ID: "gone1eeeeeeeeeee", ServiceID: "s-gone", NodeID: "w1", Slot: 1, State: swarm.TaskStateRunning, Desired: swarm.TaskStateRemove,
				Networks: []string{"app"}, Addrs: map[string]netip.Addr{"app": a("10.0.1.7")}},
		},
		Ingress: map[string]netip.Addr{"m1": a("10.0.0.10"), "w1": a("10.0.0.11")},
	}
}

// churnFixtureObserved is manager-1's data plane as it should be for churnFixture.
func churnFixtureObserved() nodeObservation {
	a := netip.MustParseAddr
	mac := func(ip string) overlay.MAC { return overlay.MACFromIP(a(ip)) }
	remote := func(ips ...string) ([]overlay.FDBEntry, []overlay.BridgeFDBEntry, []overlay.NeighEntry) {
		var fdb []overlay.FDBEntry
		var br []overlay.BridgeFDBEntry
		var neigh []overlay.NeighEntry
		for _, ip := range ips {
			fdb = append(fdb, overlay.FDBEntry{MAC: mac(ip), VTEP: a("192.168.7.3")})
			br = append(br, overlay.BridgeFDBEntry{MAC: mac(ip), Static: true})
			neigh = append(neigh, overlay.NeighEntry{IP: a(ip), MAC: mac(ip), Permanent: true})
		}
		return fdb, br, neigh
	}
	vx := func(vni uint32) *overlay.ObservedVXLAN {
		return &overlay.ObservedVXLAN{VNI: vni, Local: a("192.168.7.2"), Port: 4789, Proxy: true, OnBridge: true, Up: true}
	}
	ingFDB, ingBr, ingNeigh := remote("10.0.0.4", "10.0.0.11")
	appFDB, appBr, appNeigh := remote("10.0.1.4", "10.0.1.5", "10.0.1.7")
	return nodeObservation{
		NodeID: "m1", Name: "manager-1",
		Namespaces: []string{"ingress", "tweb1aaaaaaaa", "ov4096", "ov4097"},
		State: clusterapi.NetState{
			NodeID: "m1",
			Mesh:   []clusterapi.MeshState{{Protocol: "tcp", PublishedPort: 8080, Backends: []string{"web1aaaaaaaaaaaa", "web2bbbbbbbbbbbb"}}},
			Tasks: []clusterapi.TaskNetState{{
				TaskID:   "web1aaaaaaaaaaaa",
				Networks: []string{"app", "ing"},
				Names: map[string][]netip.Addr{
					"web": {a("10.0.1.2")}, "tasks.web": {a("10.0.1.4"), a("10.0.1.3")},
					"rr": {a("10.0.1.5")}, "tasks.rr": {a("10.0.1.5")},
					"web.1.web1aaaaaaaaaaaa": {a("10.0.1.3")}, "web.2.web2bbbbbbbbbbbb": {a("10.0.1.4")},
					"rr.1.rr1ccccccccccccc": {a("10.0.1.5")},
				},
				VIPs: map[netip.Addr][]netip.Addr{a("10.0.1.2"): {a("10.0.1.3"), a("10.0.1.4")}},
			}},
			Overlay: overlay.Observed{Networks: []overlay.ObservedNetwork{
				{VNI: 4096, Bridge: &overlay.ObservedBridge{NetworkID: "ing", Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}}, VXLAN: vx(4096),
					Endpoints: []overlay.ObservedEndpoint{
						{Veth: "sve0a000003", IP: a("10.0.0.3"), TaskID: "web1aaaaaaaaaaaa", OnBridge: true, Up: true},
						{Veth: "sve0a00000a", IP: a("10.0.0.10"), TaskID: "ingress-sbox", OnBridge: true, Up: true},
					},
					FDB: ingFDB, BridgeFDB: ingBr, Neigh: ingNeigh},
				{VNI: 4097, Bridge: &overlay.ObservedBridge{NetworkID: "app", Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.1.1/24")}}, VXLAN: vx(4097),
					Endpoints: []overlay.ObservedEndpoint{{Veth: "sve0a010103", IP: a("10.0.1.3"), TaskID: "web1aaaaaaaaaaaa", OnBridge: true, Up: true}},
					FDB:       appFDB, BridgeFDB: appBr, Neigh: appNeigh},
			}},
		},
	}
}

func TestChurnComparisonAgreesOnAnExactNode(t *testing.T) {
	cs := churnFixture()
	if problems := checkNodesExact(cs, []nodeObservation{churnFixtureObserved()}); len(problems) > 0 {
		t.Fatalf("an exact node was reported:\n%s", strings.Join(problems, "\n"))
	}
	want := expectedFacts(cs, "m1")
	for _, line := range []string{
		`task web.1.web1aaaaaaaa: resolves "web" → [10.0.1.2]`,
		`task web.1.web1aaaaaaaa: resolves "tasks.web" → [10.0.1.3 10.0.1.4]`,
		`task web.1.web1aaaaaaaa: resolves "rr" → [10.0.1.5]`,
		`task web.1.web1aaaaaaaa: VIP 10.0.1.2 → [10.0.1.3 10.0.1.4]`,
		`mesh 8080/tcp → [web.1.web1aaaaaaaa web.2.web2bbbbbbbb]`,
		`overlay 4097 (app): fdb 02:42:0a:00:01:07 (10.0.1.7) → 192.168.7.3 (worker-1)`,
		`overlay 4096 (ingress): neigh 10.0.0.11 → 02:42:0a:00:00:0b (10.0.0.11) permanent=true`,
	} {
		if !want[line] {
			t.Errorf("expected facts lack %q", line)
		}
	}
	for line := range want {
		for _, never := range []string{"10.0.1.6", "10.0.0.6", "VIP 10.0.0.2", `"gone`} {
			if strings.Contains(line, never) {
				t.Errorf("expected facts mention %s, which must be gone or never resolve: %q", never, line)
			}
		}
	}
	w1 := expectedFacts(cs, "w1")
	for _, id := range []string{"gone1eeeeeeeeeee", "rr1ccccccccccccc", "web2bbbbbbbbbbbb"} {
		if !w1["netns t"+short(id)] {
			t.Errorf("worker-1's expected namespaces lack task %s's", id)
		}
	}
	if w1["netns t"+short("web2oldddddddddd")] {
		t.Errorf("worker-1's expected namespaces include the ended task's")
	}
}

func TestChurnComparisonReportsEachDifference(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name            string
		spoil           func(*nodeObservation)
		wantMissing     []string
		wantUnexpected  []string
		wantDuplicates  int
		wantClashes     int
		wantVIPProblems int
		spoilCluster    func(*clusterState)
	}{{
		name:           "a stale name of a removed service",
		spoil:          func(o *nodeObservation) { o.State.Tasks[0].Names["old"] = []netip.Addr{a("10.0.1.9")} },
		wantUnexpected: []string{`task web.1.web1aaaaaaaa: resolves "old" → [10.0.1.9]`},
	}, {
		name:           "a missing running task in tasks.web",
		spoil:          func(o *nodeObservation) { o.State.Tasks[0].Names["tasks.web"] = []netip.Addr{a("10.0.1.3")} },
		wantMissing:    []string{`task web.1.web1aaaaaaaa: resolves "tasks.web" → [10.0.1.3 10.0.1.4]`},
		wantUnexpected: []string{`task web.1.web1aaaaaaaa: resolves "tasks.web" → [10.0.1.3]`},
	}, {
		name: "a stale forwarding entry of the ended task",
		spoil: func(o *nodeObservation) {
			n := &o.State.Overlay.Networks[1]
			n.FDB = append(n.FDB, overlay.FDBEntry{MAC: overlay.MACFromIP(a("10.0.1.6")), VTEP: a("192.168.7.3")})
		},
		wantUnexpected: []string{`overlay 4097 (app): fdb 02:42:0a:00:01:06 (10.0.1.6) → 192.168.7.3 (worker-1)`},
	}, {
		name:           "a backend missing from the mesh",
		spoil:          func(o *nodeObservation) { o.State.Mesh[0].Backends = o.State.Mesh[0].Backends[:1] },
		wantMissing:    []string{`mesh 8080/tcp → [web.1.web1aaaaaaaa web.2.web2bbbbbbbb]`},
		wantUnexpected: []string{`mesh 8080/tcp → [web.1.web1aaaaaaaa]`},
	}, {
		name:           "a sandbox left for a removed network",
		spoil:          func(o *nodeObservation) { o.Namespaces = append(o.Namespaces, "ov4100") },
		wantUnexpected: []string{`netns ov4100`},
	}, {
		name: "a VIP rule left pointing at a stopped task",
		spoil: func(o *nodeObservation) {
			o.State.Tasks[0].VIPs[a("10.0.1.2")] = []netip.Addr{a("10.0.1.3"), a("10.0.1.4"), a("10.0.1.6")}
		},
		wantMissing:    []string{`task web.1.web1aaaaaaaa: VIP 10.0.1.2 → [10.0.1.3 10.0.1.4]`},
		wantUnexpected: []string{`task web.1.web1aaaaaaaa: VIP 10.0.1.2 → [10.0.1.3 10.0.1.4 10.0.1.6]`},
	}, {
		name: "one address given to a new task while the old one still runs",
		spoilCluster: func(cs *clusterState) {
			cs.Tasks[3].State = swarm.TaskStateRunning // web2old, desired SHUTDOWN, not stopped yet
			cs.Tasks[3].Addrs["app"] = a("10.0.1.4")
		},
		wantDuplicates: 1,
		wantClashes:    1,
	}, {
		name:            "a vip service without a VIP on its network",
		spoilCluster:    func(cs *clusterState) { delete(cs.Services[0].VIPs, "app") },
		wantVIPProblems: 1,
	}, {
		name:           "one address given to a VIP and a task",
		spoilCluster:   func(cs *clusterState) { cs.Services[0].VIPs["app"] = a("10.0.1.5") },
		wantDuplicates: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := churnFixture()
			if tt.spoilCluster != nil {
				tt.spoilCluster(&cs)
				if got := duplicateAddresses(cs); len(got) != tt.wantDuplicates {
					t.Fatalf("duplicateAddresses = %v, want %d", got, tt.wantDuplicates)
				}
				if got := taskAddressClashes(cs); len(got) != tt.wantClashes {
					t.Fatalf("taskAddressClashes = %v, want %d", got, tt.wantClashes)
				}
				if got := vipProblems(cs); len(got) != tt.wantVIPProblems {
					t.Fatalf("vipProblems = %v, want %d", got, tt.wantVIPProblems)
				}
				return
			}
			o := churnFixtureObserved()
			tt.spoil(&o)
			missing, unexpected := diffFacts(expectedFacts(cs, "m1"), observedFacts(cs, o))
			if !slices.Equal(missing, tt.wantMissing) || !slices.Equal(unexpected, tt.wantUnexpected) {
				t.Fatalf("diff:\nmissing    %q\nunexpected %q\nwant\nmissing    %q\nunexpected %q", missing, unexpected, tt.wantMissing, tt.wantUnexpected)
			}
		})
	}
}

func TestChurnCyclesVary(t *testing.T) {
	var ports, dnsrr, api, two int
	for i := range churnCycles {
		s := churnCycle(i)
		if s.port != 0 {
			ports++
			if s.dnsrr {
				t.Errorf("cycle %d publishes a port on a dnsrr service, which Docker refuses", i)
			}
		}
		if s.dnsrr {
			dnsrr++
		}
		if s.viaAPI {
			api++
		}
		if s.replicas == 2 {
			two++
		}
	}
	if ports != churnCycles/2 || dnsrr == 0 || api == 0 || two == 0 {
		t.Errorf("cycles: %d publish, %d dnsrr, %d through the API, %d with 2 replicas of %d", ports, dnsrr, api, two, churnCycles)
	}
}
