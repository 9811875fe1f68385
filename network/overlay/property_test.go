package overlay

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// TestReconcileProperties checks, from random kernels (drifted, half-built, stale) towards
// random desired states, on the kernel model:
//   - the plan applies without an error;
//   - planning again afterwards gives nothing (one pass converges);
//   - exactly the networks with a local task (or pinned) have a sandbox;
//   - every local endpoint is there, and no stale entry is: each remote entry points at the
//     desired VTEP, comes as the full triple (VXLAN FDB, bridge FDB, neighbour), and no
//     local task's MAC is sent into the tunnel.
func TestReconcileProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := genDesired(t)
		if err := d.Validate(); err != nil {
			t.Fatalf("generated an invalid desired state: %v", err)
		}
		k := newFakeKernel(0)
		k.load(genObserved(t))
		if _, err := Reconcile(k, d); err != nil {
			t.Fatalf("Reconcile: %v", err)
		}
		o, _ := k.Observe(d.UnderlayIP)
		if again := Plan(d, o); len(again) > 0 {
			t.Fatalf("planning again gives:\n%s", joinLines(opStrings(again)))
		}
		checkMatches(t, d, o)
	})
}

func checkMatches(t *rapid.T, d Desired, o Observed) {
	nets := map[string]Network{}
	needed := map[uint32]bool{}
	for _, n := range d.Networks {
		nets[n.ID] = n
		if n.Pinned {
			needed[n.VNI] = true
		}
	}
	locals := map[uint32]map[netip.Addr]LocalEndpoint{}
	for _, e := range d.Local {
		vni := nets[e.NetworkID].VNI
		needed[vni] = true
		if locals[vni] == nil {
			locals[vni] = map[netip.Addr]LocalEndpoint{}
		}
		locals[vni][e.IP] = e
	}
	remoteVTEPs := map[uint32]map[netip.Addr][]netip.Addr{}
	for _, r := range d.Remote {
		vni := nets[r.NetworkID].VNI
		if remoteVTEPs[vni] == nil {
			remoteVTEPs[vni] = map[netip.Addr][]netip.Addr{}
		}
		remoteVTEPs[vni][r.IP] = append(remoteVTEPs[vni][r.IP], r.VTEP)
	}
	var have []uint32
	for _, n := range o.Networks {
		have = append(have, n.VNI)
		if !needed[n.VNI] {
			t.Fatalf("network %d has a sandbox but no local task", n.VNI)
		}
		if len(n.Endpoints) != len(locals[n.VNI]) {
			t.Fatalf("network %d: %d endpoints, want %d", n.VNI, len(n.Endpoints), len(locals[n.VNI]))
		}
		for _, e := range n.Endpoints {
			want, ok := locals[n.VNI][e.IP]
			if !ok || want.TaskID != e.TaskID {
				t.Fatalf("network %d: endpoint %+v is not desired", n.VNI, e)
			}
		}
		localMACs := map[MAC]bool{}
		for _, e := range locals[n.VNI] {
			localMACs[e.mac()] = true
		}
		if len(n.FDB) != len(n.Neigh) || len(n.FDB) != len(n.BridgeFDB) {
			t.Fatalf("network %d: entries are not whole triples: fdb %v, bridge %v, neigh %v", n.VNI, n.FDB, n.BridgeFDB, n.Neigh)
		}
		for _, nb := range n.Neigh {
			if _, local := locals[n.VNI][nb.IP]; local {
				t.Fatalf("network %d: neighbour entry for local task %s", n.VNI, nb.IP)
			}
			vteps := remoteVTEPs[n.VNI][nb.IP]
			i := slices.IndexFunc(n.FDB, func(f FDBEntry) bool { return f.MAC == nb.MAC })
			if i < 0 || !slices.Contains(vteps, n.FDB[i].VTEP) || n.FDB[i].VTEP == d.UnderlayIP {
				t.Fatalf("network %d: %s is tunnelled to %v, want one of %v", n.VNI, nb.IP, n.FDB, vteps)
			}
			if localMACs[nb.MAC] {
				t.Fatalf("network %d: a local MAC %s goes to the tunnel", n.VNI, nb.MAC)
			}
		}
	}
	for vni := range needed {
		if !slices.Contains(have, vni) {
			t.Fatalf("network %d is needed but has no sandbox", vni)
		}
	}
}

// Small pools so that random states collide: same IPs, same VNIs, moved tasks.
var (
	genVNIs  = []uint32{1, 2, 3}
	genVTEPs = []netip.Addr{planVTEP2, planVTEP3, planVTEP2, planVTEP3, planUnderlay} // mostly other nodes
)

func genNetwork(vni uint32) Network {
	return Network{ID: fmt.Sprintf("net-%d", vni), VNI: vni, Subnet: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(vni), 0}), 24)}
}

func genHost(vni uint32, host int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 0, byte(vni), byte(host)})
}

func genDesired(t *rapid.T) Desired {
	d := Desired{UnderlayIP: planUnderlay}
	for _, vni := range genVNIs {
		if !rapid.Bool().Draw(t, "listed") {
			continue
		}
		n := genNetwork(vni)
		n.Pinned = rapid.IntRange(0, 4).Draw(t, "pinned") == 0
		if rapid.Bool().Draw(t, "gateway") {
			n.Gateway = genHost(vni, 1)
		}
		n.MTU = rapid.SampledFrom([]int{0, 0, 1400}).Draw(t, "mtu")
		d.Networks = append(d.Networks, n)
		hosts := rapid.SliceOfNDistinct(rapid.IntRange(2, 5), 0, 4, rapid.ID[int]).Draw(t, "local hosts")
		for _, h := range hosts {
			task := fmt.Sprintf("task-%d-%d-%d", vni, h, rapid.IntRange(0, 1).Draw(t, "incarnation"))
			d.Local = append(d.Local, LocalEndpoint{TaskID: task, NetworkID: n.ID, IP: genHost(vni, h),
				IfName: "eth0", NetnsPath: "/run/netns/" + task})
		}
		for range rapid.IntRange(0, 6).Draw(t, "remotes") {
			d.Remote = append(d.Remote, RemoteEndpoint{NetworkID: n.ID, IP: genHost(vni, rapid.IntRange(2, 5).Draw(t, "remote host")),
				VTEP: rapid.SampledFrom(genVTEPs).Draw(t, "vtep")})
		}
	}
	return d
}

// genObserved draws a kernel that is mostly right and sometimes wrong in each detail, so that
// kept devices with stale entries are as common as broken ones.
func genObserved(t *rapid.T) Observed {
	often := func(label string) bool { return rapid.IntRange(0, 9).Draw(t, label) != 0 }
	o := Observed{UnderlayMTU: rapid.SampledFrom([]int{0, 1500, 1500, 9000}).Draw(t, "underlay mtu")}
	for _, vni := range append(genVNIs, 9) {
		if !rapid.Bool().Draw(t, "sandbox") {
			continue
		}
		n := ObservedNetwork{VNI: vni, Unusable: !often("usable")}
		if often("bridge") {
			n.Bridge = &ObservedBridge{NetworkID: fmt.Sprintf("net-%d", vni), MTU: 1450, Up: often("bridge up")}
			if !often("right network") {
				n.Bridge.NetworkID = rapid.SampledFrom([]string{"", "other"}).Draw(t, "bridge network")
			}
			if !often("right mtu") {
				n.Bridge.MTU = 8950
			}
			if rapid.Bool().Draw(t, "address") {
				n.Bridge.Addrs = []netip.Prefix{netip.PrefixFrom(genHost(vni, rapid.IntRange(1, 3).Draw(t, "addr")), 24)}
			}
		}
		if often("vxlan") {
			n.VXLAN = &ObservedVXLAN{
				VNI: vni, Local: planUnderlay, Port: VXLANPort, Proxy: true,
				Learning: !often("no learning"), PortLearning: !often("no port learning"),
				OnBridge: n.Bridge != nil && often("attached"), Up: often("vxlan up"), MTU: 1450,
			}
			if !often("right local") {
				n.VXLAN.Local = planVTEP2
			}
			if !often("right vxlan mtu") {
				n.VXLAN.MTU = 1400
			}
			for range rapid.IntRange(0, 4).Draw(t, "entries") {
				h := genHost(vni, rapid.IntRange(2, 5).Draw(t, "entry host"))
				mac := MACFromIP(h)
				if often("fdb") {
					n.FDB = append(n.FDB, FDBEntry{MAC: mac, VTEP: rapid.SampledFrom(genVTEPs).Draw(t, "entry vtep")})
				}
				if often("bridge fdb") {
					n.BridgeFDB = append(n.BridgeFDB, BridgeFDBEntry{MAC: mac, Static: often("static")})
				}
				if often("neigh") {
					n.Neigh = append(n.Neigh, NeighEntry{IP: h, MAC: mac, Permanent: often("permanent")})
				}
			}
		}
		for _, h := range rapid.SliceOfNDistinct(rapid.IntRange(2, 5), 0, 3, rapid.ID[int]).Draw(t, "endpoint hosts") {
			ip := genHost(vni, h)
			n.Endpoints = append(n.Endpoints, ObservedEndpoint{
				Veth: vethName(ip), IP: ip, TaskID: fmt.Sprintf("task-%d-%d-%d", vni, h, rapid.IntRange(0, 1).Draw(t, "incarnation")),
				IfName: "eth0", MTU: 1450, OnBridge: n.Bridge != nil && often("endpoint attached"), Up: often("endpoint up"),
			})
		}
		if !often("no stray") {
			n.StrayLinks = []string{"junk0"}
		}
		o.Networks = append(o.Networks, n)
	}
	return o
}
