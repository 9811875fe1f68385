package allocator

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// A small world, so that collisions, exhaustion and reuse happen within a few steps: a pool
// of eight /29s (5 addresses each), user subnets that overlap it and each other, a couple
// of dozen owners and a handful of ports.
var (
	propConfig     = Config{DefaultAddrPool: []netip.Prefix{pfx("10.0.0.0/26")}, SubnetSize: 29}
	propNetworks   = []string{"n0", "n1", "n2", "n3", "n4"}
	propSubnets    = []string{"", "", "", "10.0.0.0/29", "10.0.0.8/29", "10.0.0.16/28", "10.0.0.0/27", "10.0.0.32/27", "10.0.0.0/30", "10.0.0.20/30", "192.168.0.0/29", "192.168.0.8/30", "192.168.0.0/28"}
	propOwners     = []string{"s0", "s1", "s2", "t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9", "t10", "t11", "t12", "t13"}
	propPortOwners = []string{"web0", "web1", "web2"}
	propPorts      = []uint32{80, 8080, 30000, 30001, 30002, 32767}
	propProtos     = []string{"tcp", "udp"}
)

// model is what the allocator should hold, kept the obvious way.
type model struct {
	nets  map[string]netip.Prefix
	addrs map[string]map[string]netip.Addr // network → owner → address
	ports map[Port]string
}

func newModel() *model {
	return &model{nets: map[string]netip.Prefix{}, addrs: map[string]map[string]netip.Addr{}, ports: map[Port]string{}}
}

func firstUsable(p netip.Prefix) netip.Addr { return p.Addr().Next() }
func broadcast(p netip.Prefix) netip.Addr   { return fromU32(spanLast(p)) }
func usableCount(p netip.Prefix) int        { return 1<<(32-p.Bits()) - 3 }

// heldBy returns who in the model holds the address on the network.
func (m *model) heldBy(network string, a netip.Addr) (string, bool) {
	for owner, held := range m.addrs[network] {
		if held == a {
			return owner, true
		}
	}
	return "", false
}

// state is the cluster state a leader would read if every allocation had been written
// back: owners s* are services' VIPs, t* tasks' IPs, port owners services of their own.
func (m *model) state() State {
	var s State
	svcs := map[string]*ServiceState{}
	tasks := map[string]*TaskState{}
	for id, sub := range m.nets {
		s.Networks = append(s.Networks, NetworkState{ID: id, Name: id, Subnet: sub, Gateway: firstUsable(sub)})
		for owner, a := range m.addrs[id] {
			att := Attachment{Network: id, Addr: netip.PrefixFrom(a, sub.Bits())}
			if strings.HasPrefix(owner, "s") {
				if svcs[owner] == nil {
					svcs[owner] = &ServiceState{ID: owner, Name: "vip-" + owner}
				}
				svcs[owner].VIPs = append(svcs[owner].VIPs, att)
			} else {
				if tasks[owner] == nil {
					tasks[owner] = &TaskState{ID: owner}
				}
				tasks[owner].Addresses = append(tasks[owner].Addresses, att)
			}
		}
	}
	for p, owner := range m.ports {
		id := "p-" + owner
		if svcs[id] == nil {
			svcs[id] = &ServiceState{ID: id, Name: owner}
		}
		svcs[id].Ports = append(svcs[id].Ports, PublishedPort{Protocol: p.Protocol, Port: p.Port, Mode: "ingress"})
	}
	for _, svc := range svcs {
		s.Services = append(s.Services, *svc)
	}
	for _, t := range tasks {
		s.Tasks = append(s.Tasks, *t)
	}
	return s
}

// wantKind fails unless err is of the kind (nil for success).
func wantKind(t *rapid.T, what string, err, kind error) {
	t.Helper()
	if kind == nil && err != nil {
		t.Fatalf("%s: unexpected error %v", what, err)
	}
	if kind != nil && !errors.Is(err, kind) {
		t.Fatalf("%s: error %v, want %v", what, err, kind)
	}
}

// TestPropertyAllocatorMatchesModel runs random interleavings of every operation,
// Rebuild included (with and without the cursors carried over), against the model. After
// every step: no address is held twice on a network, none is the network, gateway or
// broadcast address, no two subnets overlap, no port has two owners, and the allocator
// holds exactly what the model says; every refusal is one the model agrees with.
func TestPropertyAllocatorMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := newAllocator(t, propConfig)
		m := newModel()
		for _, id := range []string{"n0", "n1"} {
			n, err := a.AddNetwork(NetworkRequest{ID: id, Name: id})
			if err != nil {
				t.Fatal(err)
			}
			m.nets[id], m.addrs[id] = n.Subnet, map[string]netip.Addr{}
		}
		t.Repeat(map[string]func(*rapid.T){
			"addNetwork": func(t *rapid.T) {
				id := rapid.SampledFrom(propNetworks).Draw(t, "network")
				sub := rapid.SampledFrom(propSubnets).Draw(t, "subnet")
				req := NetworkRequest{ID: id, Name: id}
				if sub != "" {
					req.Subnet = pfx(sub)
				}
				n, err := a.AddNetwork(req)
				if prev, ok := m.nets[id]; ok {
					if sub == "" || pfx(sub) == prev {
						wantKind(t, "AddNetwork again", err, nil)
						if n.Subnet != prev {
							t.Fatalf("AddNetwork again gave %s, had %s", n.Subnet, prev)
						}
					} else {
						wantKind(t, "AddNetwork with another subnet", err, ErrConflict)
					}
					return
				}
				free := m.lowestFreeSlot()
				switch {
				case sub == "" && !free.IsValid():
					wantKind(t, "AddNetwork from a full pool", err, ErrExhausted)
					return
				case sub == "":
					wantKind(t, "AddNetwork from the pool", err, nil)
					if n.Subnet != free {
						t.Fatalf("pool gave %s, the lowest free is %s", n.Subnet, free)
					}
				case m.overlaps(pfx(sub)):
					wantKind(t, "AddNetwork overlapping", err, ErrConflict)
					return
				default:
					wantKind(t, "AddNetwork "+sub, err, nil)
					if n.Subnet != pfx(sub) {
						t.Fatalf("asked for %s, got %s", sub, n.Subnet)
					}
				}
				if n.Gateway != firstUsable(n.Subnet) {
					t.Fatalf("gateway %s, want %s", n.Gateway, firstUsable(n.Subnet))
				}
				m.nets[id] = n.Subnet
				m.addrs[id] = map[string]netip.Addr{}
			},
			"removeNetwork": func(t *rapid.T) {
				id := rapid.SampledFrom(propNetworks).Draw(t, "network")
				a.RemoveNetwork(id)
				delete(m.nets, id)
				delete(m.addrs, id)
			},
			"allocate": func(t *rapid.T) {
				id := rapid.SampledFrom(propNetworks).Draw(t, "network")
				for range rapid.IntRange(1, 6).Draw(t, "count") {
					m.allocate(t, a, id, rapid.SampledFrom(propOwners).Draw(t, "owner"))
				}
			},
			"reserve": func(t *rapid.T) {
				id := rapid.SampledFrom(propNetworks).Draw(t, "network")
				owner := rapid.SampledFrom(propOwners).Draw(t, "owner")
				sub, known := m.nets[id]
				want := netip.MustParseAddr("172.16.0.9")
				if known && rapid.IntRange(0, 9).Draw(t, "inside") > 0 {
					off := rapid.IntRange(0, 1<<(32-sub.Bits())-1).Draw(t, "offset")
					want = fromU32(toU32(sub.Addr()) + uint32(off))
				}
				err := a.Reserve(id, owner, want)
				prev, held := m.addrs[id][owner]
				other, taken := m.heldBy(id, want)
				switch {
				case !known:
					wantKind(t, "Reserve on an unknown network", err, ErrNotFound)
				case !sub.Contains(want) || want == sub.Addr() || want == broadcast(sub):
					wantKind(t, "Reserve "+want.String(), err, ErrInvalid)
				case want == firstUsable(sub):
					wantKind(t, "Reserve the gateway", err, ErrConflict)
				case held && prev == want:
					wantKind(t, "Reserve again", err, nil)
				case held:
					wantKind(t, "Reserve a second address", err, ErrConflict)
				case taken:
					wantKind(t, "Reserve "+other+"'s address", err, ErrConflict)
				default:
					wantKind(t, "Reserve", err, nil)
					m.addrs[id][owner] = want
				}
			},
			"release": func(t *rapid.T) {
				id := rapid.SampledFrom(propNetworks).Draw(t, "network")
				owner := rapid.SampledFrom(propOwners).Draw(t, "owner")
				a.Release(id, owner)
				delete(m.addrs[id], owner)
			},
			"reservePort": func(t *rapid.T) {
				p := Port{rapid.SampledFrom(propProtos).Draw(t, "proto"), rapid.SampledFrom(propPorts).Draw(t, "port")}
				owner := rapid.SampledFrom(propPortOwners).Draw(t, "owner")
				err := a.ReservePort(p.Protocol, p.Port, owner)
				if other, ok := m.ports[p]; ok && other != owner {
					wantKind(t, "ReservePort "+p.String(), err, ErrConflict)
					return
				}
				wantKind(t, "ReservePort "+p.String(), err, nil)
				m.ports[p] = owner
			},
			"autoPort": func(t *rapid.T) {
				proto := rapid.SampledFrom(propProtos).Draw(t, "proto")
				owner := rapid.SampledFrom(propPortOwners).Draw(t, "owner")
				port, err := a.AutoPort(proto, owner)
				wantKind(t, "AutoPort", err, nil)
				p := Port{proto, port}
				if other, ok := m.ports[p]; ok || port < AutoPortFirst || port > AutoPortLast {
					t.Fatalf("AutoPort gave %s, held by %q or outside the range", p, other)
				}
				m.ports[p] = owner
			},
			"releasePort": func(t *rapid.T) {
				p := Port{rapid.SampledFrom(propProtos).Draw(t, "proto"), rapid.SampledFrom(propPorts).Draw(t, "port")}
				owner := rapid.SampledFrom(propPortOwners).Draw(t, "owner")
				a.ReleasePort(p.Protocol, p.Port, owner)
				if m.ports[p] == owner {
					delete(m.ports, p)
				}
			},
			"releasePorts": func(t *rapid.T) {
				owner := rapid.SampledFrom(propPortOwners).Draw(t, "owner")
				a.ReleasePorts(owner)
				for p, o := range m.ports {
					if o == owner {
						delete(m.ports, p)
					}
				}
			},
			"rebuild": func(t *rapid.T) {
				s := m.state()
				withCursors := rapid.Bool().Draw(t, "withCursors")
				cursors := map[string]netip.Addr{}
				if withCursors {
					for i := range s.Networks {
						s.Networks[i].Cursor, _ = a.Cursor(s.Networks[i].ID)
						cursors[s.Networks[i].ID] = s.Networks[i].Cursor
					}
					s.NextAutoPort = map[string]uint32{"tcp": a.NextAutoPort("tcp"), "udp": a.NextAutoPort("udp")}
				}
				if problems := a.Rebuild(s); len(problems) != 0 {
					t.Fatalf("problems rebuilding a healthy state: %v", problems)
				}
				for id, want := range cursors {
					if got, _ := a.Cursor(id); got != want {
						t.Fatalf("cursor of %s is %s after Rebuild, was %s", id, got, want)
					}
				}
				if withCursors && (a.NextAutoPort("tcp") != s.NextAutoPort["tcp"] || a.NextAutoPort("udp") != s.NextAutoPort["udp"]) {
					t.Fatalf("port cursors not carried over")
				}
			},
			"": func(t *rapid.T) {
				checkConsistent(t, a)
				m.check(t, a)
			},
		})
	})
}

// allocate calls Allocate and checks the answer against the model.
func (m *model) allocate(t *rapid.T, a *Allocator, id, owner string) {
	t.Helper()
	got, err := a.Allocate(id, owner)
	sub, known := m.nets[id]
	if !known {
		wantKind(t, "Allocate on an unknown network", err, ErrNotFound)
		return
	}
	if prev, held := m.addrs[id][owner]; held {
		wantKind(t, "Allocate again", err, nil)
		if got != prev {
			t.Fatalf("%s had %s on %s, Allocate again gave %s", owner, prev, id, got)
		}
		return
	}
	if len(m.addrs[id]) == usableCount(sub) {
		wantKind(t, "Allocate on a full network", err, ErrExhausted)
		return
	}
	wantKind(t, "Allocate", err, nil)
	if !sub.Contains(got) || got == sub.Addr() || got == broadcast(sub) || got == firstUsable(sub) {
		t.Fatalf("Allocate gave %s, not a host address of %s besides the gateway", got, sub)
	}
	if other, dup := m.heldBy(id, got); dup {
		t.Fatalf("Allocate gave %s to %s on %s; %s holds it", got, owner, id, other)
	}
	m.addrs[id][owner] = got
}

func (m *model) overlaps(p netip.Prefix) bool {
	for _, s := range m.nets {
		if s.Overlaps(p) {
			return true
		}
	}
	return false
}

// lowestFreeSlot is the first /29 of the pool that overlaps no network, or the zero Prefix.
func (m *model) lowestFreeSlot() netip.Prefix {
	for i := range 8 {
		slot := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(8 * i)}), 29)
		if !m.overlaps(slot) {
			return slot
		}
	}
	return netip.Prefix{}
}

// check compares everything the allocator holds with the model.
func (m *model) check(t *rapid.T, a *Allocator) {
	t.Helper()
	nets := a.Networks()
	if len(nets) != len(m.nets) {
		t.Fatalf("allocator has %d networks, model %d", len(nets), len(m.nets))
	}
	for i, n := range nets {
		if m.nets[n.ID] != n.Subnet {
			t.Fatalf("network %s has %s, model %s", n.ID, n.Subnet, m.nets[n.ID])
		}
		for _, other := range nets[:i] {
			if n.Subnet.Overlaps(other.Subnet) {
				t.Fatalf("subnets overlap: %s's %s and %s's %s", n.ID, n.Subnet, other.ID, other.Subnet)
			}
		}
		if len(a.networks[n.ID].owners) != len(m.addrs[n.ID]) {
			t.Fatalf("network %s: %d addresses held, model %d", n.ID, len(a.networks[n.ID].owners), len(m.addrs[n.ID]))
		}
		for owner, want := range m.addrs[n.ID] {
			if got, ok := a.Address(n.ID, owner); !ok || got != want {
				t.Fatalf("network %s: %s holds %s, model %s", n.ID, owner, got, want)
			}
		}
	}
	checkNoDuplicates(t, a)
	if len(a.ports.owners) != len(m.ports) {
		t.Fatalf("%d ports published, model %d", len(a.ports.owners), len(m.ports))
	}
	for p, want := range m.ports {
		if got, _ := a.PortOwner(p.Protocol, p.Port); got != want {
			t.Fatalf("port %s owned by %q, model %q", p, got, want)
		}
	}
}

// op is one call to the allocator, drawn as data so that two allocators can be given the
// same sequence.
type op struct {
	kind, network, owner, subnet, proto string
	port                                uint32
	offset                              int
}

var opGen = rapid.Custom(func(t *rapid.T) op {
	return op{
		kind:    rapid.SampledFrom([]string{"addNetwork", "addNetwork", "removeNetwork", "allocate", "allocate", "allocate", "allocate", "reserve", "release", "release", "reservePort", "autoPort", "autoPort", "releasePorts"}).Draw(t, "kind"),
		network: rapid.SampledFrom(propNetworks).Draw(t, "network"),
		owner:   rapid.SampledFrom(propOwners).Draw(t, "owner"),
		subnet:  rapid.SampledFrom(propSubnets).Draw(t, "subnet"),
		proto:   rapid.SampledFrom(propProtos).Draw(t, "proto"),
		port:    rapid.SampledFrom(propPorts).Draw(t, "port"),
		offset:  rapid.IntRange(0, 31).Draw(t, "offset"),
	}
})

// apply runs the op and says what came of it.
func (o op) apply(a *Allocator) string {
	switch o.kind {
	case "addNetwork":
		req := NetworkRequest{ID: o.network, Name: o.network}
		if o.subnet != "" {
			req.Subnet = pfx(o.subnet)
		}
		n, err := a.AddNetwork(req)
		return fmt.Sprint(n, err)
	case "removeNetwork":
		a.RemoveNetwork(o.network)
	case "allocate":
		got, err := a.Allocate(o.network, o.owner)
		return fmt.Sprint(got, err)
	case "reserve":
		want := netip.MustParseAddr("10.0.0.5")
		if n, ok := a.Network(o.network); ok {
			want = fromU32(toU32(n.Subnet.Addr()) + uint32(o.offset)%(1<<(32-n.Subnet.Bits())))
		}
		return fmt.Sprint(a.Reserve(o.network, o.owner, want))
	case "release":
		a.Release(o.network, o.owner)
	case "reservePort":
		return fmt.Sprint(a.ReservePort(o.proto, o.port, "web-"+o.owner[:1]))
	case "autoPort":
		port, err := a.AutoPort(o.proto, "web-"+o.owner[:1])
		return fmt.Sprint(port, err)
	case "releasePorts":
		a.ReleasePorts("web-" + o.owner[:1])
	}
	return ""
}

// stateOf reads the allocator's holdings back as a store would hold them once every
// allocation was written back, optionally with the cursors.
func stateOf(a *Allocator, withCursors bool) State {
	var s State
	svcs := map[string]*ServiceState{}
	tasks := map[string]*TaskState{}
	for id, sp := range a.networks {
		ns := NetworkState{ID: id, Name: sp.name, Subnet: sp.subnet, Gateway: sp.gatewayAddr()}
		if withCursors {
			ns.Cursor, _ = a.Cursor(id)
		}
		s.Networks = append(s.Networks, ns)
		for owner := range sp.owners {
			got, _ := a.Address(id, owner)
			att := Attachment{Network: id, Addr: netip.PrefixFrom(got, sp.subnet.Bits())}
			if strings.HasPrefix(owner, "s") {
				if svcs[owner] == nil {
					svcs[owner] = &ServiceState{ID: owner}
				}
				svcs[owner].VIPs = append(svcs[owner].VIPs, att)
			} else {
				if tasks[owner] == nil {
					tasks[owner] = &TaskState{ID: owner}
				}
				tasks[owner].Addresses = append(tasks[owner].Addresses, att)
			}
		}
	}
	for p, owner := range a.ports.owners {
		id := "p-" + owner
		if svcs[id] == nil {
			svcs[id] = &ServiceState{ID: id, Name: owner}
		}
		svcs[id].Ports = append(svcs[id].Ports, PublishedPort{Protocol: p.Protocol, Port: p.Port})
	}
	for _, svc := range svcs {
		s.Services = append(s.Services, *svc)
	}
	for _, t := range tasks {
		s.Tasks = append(s.Tasks, *t)
	}
	if withCursors {
		s.NextAutoPort = map[string]uint32{"tcp": a.NextAutoPort("tcp"), "udp": a.NextAutoPort("udp"), "sctp": a.NextAutoPort("sctp")}
	}
	return s
}

// TestPropertyRebuildContinuesIdentically: an allocator rebuilt from the state a sequence
// of operations left behind, with the cursors carried over, answers every later operation
// exactly as the original does — a failover changes nothing.
func TestPropertyRebuildContinuesIdentically(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := newAllocator(t, propConfig)
		for _, o := range rapid.SliceOfN(opGen, 20, 200).Draw(t, "before") {
			o.apply(a)
		}
		b := newAllocator(t, propConfig)
		if problems := b.Rebuild(stateOf(a, true)); len(problems) != 0 {
			t.Fatalf("problems rebuilding a healthy state: %v", problems)
		}
		for i, o := range rapid.SliceOfN(opGen, 20, 200).Draw(t, "after") {
			if got, want := o.apply(b), o.apply(a); got != want {
				t.Fatalf("after the failover, op %d %+v: rebuilt allocator says %q, original %q", i, o, got, want)
			}
		}
		checkConsistent(t, b)
	})
}

// TestPropertyReleasedAddressesComeBack: in a network with addresses held and some
// released, allocating until the subnet is full hands out every released address again,
// and each free address exactly once; then, in the full network, an address released is
// the next one handed out, wherever the cursor stands.
func TestPropertyReleasedAddressesComeBack(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := newAllocator(t, Config{})
		bits := rapid.IntRange(24, 30).Draw(t, "bits")
		sub := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, 0, 0}), bits)
		if _, err := a.AddNetwork(NetworkRequest{ID: "net", Subnet: sub}); err != nil {
			t.Fatal(err)
		}
		usable := usableCount(sub)
		held := rapid.IntRange(1, usable).Draw(t, "held")
		var released []netip.Addr
		for i := range held {
			got, err := a.Allocate("net", fmt.Sprint("old", i))
			if err != nil {
				t.Fatal(err)
			}
			if rapid.IntRange(0, 3).Draw(t, fmt.Sprint("release", i)) == 0 {
				a.Release("net", fmt.Sprint("old", i))
				released = append(released, got)
			}
		}
		free := usable - held + len(released)
		seen := map[netip.Addr]bool{}
		owners := map[netip.Addr]string{}
		for i := range free {
			owner := fmt.Sprint("new", i)
			got, err := a.Allocate("net", owner)
			if err != nil {
				t.Fatalf("allocation %d of %d free: %v", i, free, err)
			}
			if seen[got] {
				t.Fatalf("%s handed out twice", got)
			}
			seen[got] = true
			owners[got] = owner
		}
		if _, err := a.Allocate("net", "one-too-many"); !errors.Is(err, ErrExhausted) {
			t.Fatalf("after every free address, Allocate says %v", err)
		}
		for _, r := range released {
			if !seen[r] {
				t.Fatalf("released %s never came back", r)
			}
		}
		if len(owners) == 0 {
			return
		}
		all := make([]netip.Addr, 0, len(owners))
		for x := range owners {
			all = append(all, x)
		}
		slices.SortFunc(all, netip.Addr.Compare)
		for i := range rapid.IntRange(1, 20).Draw(t, "churn") {
			x := rapid.SampledFrom(all).Draw(t, "x")
			a.Release("net", owners[x])
			owner := fmt.Sprint("churn", i)
			got, err := a.Allocate("net", owner)
			if err != nil || got != x {
				t.Fatalf("released %s in a full network, then Allocate gave %s, %v", x, got, err)
			}
			owners[x] = owner
		}
	})
}

// TestPropertyRebuildNeverAcceptsDuplicates feeds Rebuild random, often corrupt states:
// whatever comes in, nothing is recorded for two holders, and every address and ingress
// port of the input is either recorded for its owner or reported in a Problem naming it.
func TestPropertyRebuildNeverAcceptsDuplicates(t *testing.T) {
	subnets := []string{"10.0.0.0/29", "10.0.0.0/28", "10.0.0.8/29", "10.0.1.0/29"}
	rapid.Check(t, func(t *rapid.T) {
		var s State
		for i := range rapid.IntRange(0, 4).Draw(t, "networks") {
			s.Networks = append(s.Networks, NetworkState{ID: fmt.Sprint("n", i), Subnet: pfx(rapid.SampledFrom(subnets).Draw(t, "subnet"))})
		}
		attachments := func(label string) []Attachment {
			var out []Attachment
			for range rapid.IntRange(0, 3).Draw(t, label) {
				out = append(out, Attachment{
					Network: fmt.Sprint("n", rapid.IntRange(0, 4).Draw(t, "network")),
					Addr:    netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(rapid.IntRange(0, 1).Draw(t, "c")), byte(rapid.IntRange(0, 16).Draw(t, "d"))}), 29),
				})
			}
			return out
		}
		for i := range rapid.IntRange(0, 4).Draw(t, "services") {
			svc := ServiceState{ID: fmt.Sprint("s", rapid.IntRange(0, i).Draw(t, "sid")), Name: fmt.Sprint("svc", rapid.IntRange(0, 3).Draw(t, "name"))}
			svc.VIPs = attachments("vips")
			for range rapid.IntRange(0, 2).Draw(t, "ports") {
				svc.Ports = append(svc.Ports, PublishedPort{Protocol: rapid.SampledFrom(propProtos).Draw(t, "proto"), Port: rapid.SampledFrom(propPorts).Draw(t, "port")})
			}
			s.Services = append(s.Services, svc)
		}
		for i := range rapid.IntRange(0, 8).Draw(t, "tasks") {
			s.Tasks = append(s.Tasks, TaskState{ID: fmt.Sprint("t", rapid.IntRange(0, i).Draw(t, "tid")), Addresses: attachments("addrs")})
		}

		a := newAllocator(t, Config{})
		problems := a.Rebuild(s)
		checkConsistent(t, a)
		checkNoDuplicates(t, a)
		reported := map[string]bool{}
		for _, p := range problems {
			reported[p.Kind+" "+p.ID] = true
		}
		for _, svc := range s.Services {
			for _, v := range svc.VIPs {
				if got, ok := a.Address(v.Network, svc.ID); (!ok || got != v.Addr.Addr()) && !reported["service "+svc.ID] {
					t.Fatalf("service %s's VIP %s on %s neither recorded nor reported", svc.ID, v.Addr, v.Network)
				}
			}
			for _, p := range svc.Ports {
				if owner, _ := a.PortOwner(p.Protocol, p.Port); owner != svc.Name && !reported["service "+svc.ID] {
					t.Fatalf("service %s's port %d/%s neither recorded nor reported", svc.ID, p.Port, p.Protocol)
				}
			}
		}
		for _, task := range s.Tasks {
			for _, v := range task.Addresses {
				if got, ok := a.Address(v.Network, task.ID); (!ok || got != v.Addr.Addr()) && !reported["task "+task.ID] {
					t.Fatalf("task %s's address %s on %s neither recorded nor reported", task.ID, v.Addr, v.Network)
				}
			}
		}
	})
}
