package overlay

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
)

// fakeKernel models what Netlink does to the kernel, closely enough to check that applying
// a plan converges: creating what exists or touching what is missing fails as the kernel
// would, and deleting a device takes what hangs off it along.
type fakeKernel struct {
	underlayMTU int
	sandboxes   map[uint32]*fakeSandbox
	applied     []Op
}

type fakeSandbox struct {
	unusable  bool
	bridge    *ObservedBridge
	vxlan     *ObservedVXLAN
	endpoints map[string]ObservedEndpoint
	strays    map[string]bool
	fdb       map[MAC]netip.Addr
	bridgeFDB map[MAC]bool // MAC → static
	neigh     map[netip.Addr]NeighEntry
}

func newFakeKernel(underlayMTU int) *fakeKernel {
	return &fakeKernel{underlayMTU: underlayMTU, sandboxes: map[uint32]*fakeSandbox{}}
}

func newFakeSandbox() *fakeSandbox {
	return &fakeSandbox{
		endpoints: map[string]ObservedEndpoint{}, strays: map[string]bool{},
		fdb: map[MAC]netip.Addr{}, bridgeFDB: map[MAC]bool{}, neigh: map[netip.Addr]NeighEntry{},
	}
}

// load makes the fake hold exactly o, as if Observe had read it.
func (k *fakeKernel) load(o Observed) {
	k.underlayMTU = o.UnderlayMTU
	k.sandboxes = map[uint32]*fakeSandbox{}
	for _, n := range o.Networks {
		s := newFakeSandbox()
		s.unusable = n.Unusable
		if n.Bridge != nil {
			b := *n.Bridge
			b.Addrs = slices.Clone(b.Addrs)
			s.bridge = &b
		}
		if n.VXLAN != nil {
			v := *n.VXLAN
			s.vxlan = &v
			for _, f := range n.FDB {
				s.fdb[f.MAC] = f.VTEP
			}
			for _, b := range n.BridgeFDB {
				s.bridgeFDB[b.MAC] = b.Static
			}
			for _, e := range n.Neigh {
				s.neigh[e.IP] = e
			}
		}
		for _, e := range n.Endpoints {
			s.endpoints[e.Veth] = e
		}
		for _, l := range n.StrayLinks {
			s.strays[l] = true
		}
		k.sandboxes[n.VNI] = s
	}
}

func (k *fakeKernel) Observe(netip.Addr) (Observed, error) {
	o := Observed{UnderlayMTU: k.underlayMTU}
	for _, vni := range slices.Sorted(maps.Keys(k.sandboxes)) {
		s := k.sandboxes[vni]
		n := ObservedNetwork{VNI: vni, Unusable: s.unusable}
		if s.unusable {
			o.Networks = append(o.Networks, n)
			continue
		}
		if s.bridge != nil {
			b := *s.bridge
			b.Addrs = slices.Clone(b.Addrs)
			slices.SortFunc(b.Addrs, func(x, y netip.Prefix) int { return x.Addr().Compare(y.Addr()) })
			n.Bridge = &b
		}
		if s.vxlan != nil {
			v := *s.vxlan
			n.VXLAN = &v
			for _, mac := range slices.SortedFunc(maps.Keys(s.fdb), MAC.Compare) {
				n.FDB = append(n.FDB, FDBEntry{MAC: mac, VTEP: s.fdb[mac]})
			}
			for _, mac := range slices.SortedFunc(maps.Keys(s.bridgeFDB), MAC.Compare) {
				n.BridgeFDB = append(n.BridgeFDB, BridgeFDBEntry{MAC: mac, Static: s.bridgeFDB[mac]})
			}
			for _, ip := range slices.SortedFunc(maps.Keys(s.neigh), netip.Addr.Compare) {
				n.Neigh = append(n.Neigh, s.neigh[ip])
			}
		}
		for _, veth := range slices.Sorted(maps.Keys(s.endpoints)) {
			n.Endpoints = append(n.Endpoints, s.endpoints[veth])
		}
		n.StrayLinks = slices.Sorted(maps.Keys(s.strays))
		o.Networks = append(o.Networks, n)
	}
	return o, nil
}

func (k *fakeKernel) Apply(op Op) error {
	k.applied = append(k.applied, op)
	s := k.sandboxes[op.vni()]
	if _, ok := op.(CreateSandbox); ok {
		if s != nil {
			return fmt.Errorf("file exists")
		}
		k.sandboxes[op.vni()] = newFakeSandbox()
		return nil
	}
	if _, ok := op.(DeleteNetwork); ok {
		delete(k.sandboxes, op.vni())
		return nil
	}
	if s == nil || s.unusable {
		return fmt.Errorf("no such sandbox")
	}
	return s.apply(op)
}

func (s *fakeSandbox) apply(op Op) error {
	switch op := op.(type) {
	case CreateBridge:
		if s.bridge != nil || s.strays[bridgeName(op.VNI)] {
			return fmt.Errorf("file exists")
		}
		s.bridge = &ObservedBridge{NetworkID: op.NetworkID, MTU: op.MTU, Up: true}
	case CreateVXLAN:
		if s.vxlan != nil || s.strays[vxlanName(op.VNI)] {
			return fmt.Errorf("file exists")
		}
		if s.bridge == nil {
			return fmt.Errorf("find bridge: not found")
		}
		s.vxlan = &ObservedVXLAN{VNI: op.VNI, Local: op.Local, Port: VXLANPort, Proxy: true, OnBridge: true, Up: true, MTU: op.MTU}
	case DeleteLink:
		switch {
		case op.Name == bridgeName(op.VNI) && s.bridge != nil:
			s.bridge = nil
			if s.vxlan != nil {
				s.vxlan.OnBridge = false
				clear(s.bridgeFDB)
			}
			for veth, e := range s.endpoints {
				e.OnBridge = false
				s.endpoints[veth] = e
			}
		case op.Name == vxlanName(op.VNI) && s.vxlan != nil:
			s.vxlan = nil
			clear(s.fdb)
			clear(s.bridgeFDB)
			clear(s.neigh)
		default:
			delete(s.endpoints, op.Name)
			delete(s.strays, op.Name)
		}
	case SetMTU:
		switch {
		case op.Name == bridgeName(op.VNI) && s.bridge != nil:
			s.bridge.MTU = op.MTU
		case op.Name == vxlanName(op.VNI) && s.vxlan != nil:
			s.vxlan.MTU = op.MTU
		default:
			return fmt.Errorf("find %s: not found", op.Name)
		}
	case AddAddress:
		if s.bridge == nil {
			return fmt.Errorf("find bridge: not found")
		}
		if !slices.Contains(s.bridge.Addrs, op.Addr) {
			s.bridge.Addrs = append(s.bridge.Addrs, op.Addr)
		}
	case DeleteAddress:
		if s.bridge == nil {
			return fmt.Errorf("find bridge: not found")
		}
		s.bridge.Addrs = slices.DeleteFunc(s.bridge.Addrs, func(a netip.Prefix) bool { return a == op.Addr })
	case AddEndpoint:
		e := op.Endpoint
		if s.bridge == nil {
			return fmt.Errorf("find bridge: not found")
		}
		if _, ok := s.endpoints[e.Veth]; ok || s.strays[e.Veth] {
			return fmt.Errorf("file exists")
		}
		s.endpoints[e.Veth] = ObservedEndpoint{Veth: e.Veth, IP: e.Addr.Addr(), TaskID: e.TaskID, IfName: e.IfName, MTU: e.MTU, OnBridge: true, Up: true}
	case SetEndpointMTU:
		e, ok := s.endpoints[op.Endpoint.Veth]
		if !ok {
			return fmt.Errorf("find %s: not found", op.Endpoint.Veth)
		}
		e.MTU = op.Endpoint.MTU
		s.endpoints[op.Endpoint.Veth] = e
	case AddFDB, DeleteFDB, AddBridgeFDB, DeleteBridgeFDB, AddNeigh, DeleteNeigh:
		if s.vxlan == nil {
			return fmt.Errorf("find vxlan: not found")
		}
		switch op := op.(type) {
		case AddFDB:
			s.fdb[op.MAC] = op.VTEP // replaces, as NeighSet does
		case DeleteFDB:
			if s.fdb[op.MAC] == op.VTEP {
				delete(s.fdb, op.MAC)
			}
		case AddBridgeFDB:
			if !s.vxlan.OnBridge {
				return fmt.Errorf("port has no bridge")
			}
			s.bridgeFDB[op.MAC] = true
		case DeleteBridgeFDB:
			delete(s.bridgeFDB, op.MAC)
		case AddNeigh:
			s.neigh[op.IP] = NeighEntry{IP: op.IP, MAC: op.MAC, Permanent: true}
		case DeleteNeigh:
			delete(s.neigh, op.IP)
		}
	default:
		return fmt.Errorf("unknown op %T", op)
	}
	return nil
}

func opStrings(ops []Op) []string {
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i] = op.String()
	}
	return out
}

func joinLines(lines []string) string {
	if len(lines) == 0 {
		return "  (none)\n"
	}
	return "  " + strings.Join(lines, "\n  ") + "\n"
}
