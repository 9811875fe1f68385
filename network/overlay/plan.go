package overlay

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
)

// wantNetwork is a network as it must be on this node, everything derived.
type wantNetwork struct {
	VNI       uint32
	ID        string
	MTU       int
	Local     netip.Addr   // underlay IP
	Gateway   netip.Prefix // invalid when the network has none
	Endpoints map[string]EndpointConfig
	FDB       map[MAC]netip.Addr
	Neigh     map[netip.Addr]MAC
}

// Plan returns the ops that turn observed into desired, deletions before additions within
// each network, networks in VNI order. It is pure and deterministic, and it never fails:
// entries it cannot use (see Desired.Validate) are skipped. Planning again after the ops
// succeeded yields no ops.
func Plan(d Desired, o Observed) []Op {
	want := realise(d, o.UnderlayMTU)
	have := map[uint32]*ObservedNetwork{}
	for i := range o.Networks {
		have[o.Networks[i].VNI] = &o.Networks[i]
	}
	var vnis []uint32
	for vni := range want {
		vnis = append(vnis, vni)
	}
	for vni := range have {
		if _, ok := want[vni]; !ok {
			vnis = append(vnis, vni)
		}
	}
	slices.Sort(vnis)
	var ops []Op
	for _, vni := range vnis {
		w, ok := want[vni]
		if !ok {
			ops = append(ops, DeleteNetwork{VNI: vni})
			continue
		}
		ops = append(ops, planNetwork(w, have[vni])...)
	}
	return ops
}

// realise derives the networks this node needs: those with a local endpoint, and pinned ones.
func realise(d Desired, underlayMTU int) map[uint32]*wantNetwork {
	if underlayMTU <= 0 {
		underlayMTU = defaultUnderlayMTU
	}
	byID := map[string]Network{}
	for _, n := range d.Networks {
		if n.validate() != nil {
			continue
		}
		if _, dup := byID[n.ID]; !dup {
			byID[n.ID] = n
		}
	}
	want := map[uint32]*wantNetwork{}
	need := func(n Network) *wantNetwork {
		if w, ok := want[n.VNI]; ok {
			if w.ID != n.ID {
				return nil // a second network with the same VNI
			}
			return w
		}
		w := &wantNetwork{
			VNI: n.VNI, ID: n.ID, MTU: n.MTU, Local: d.UnderlayIP,
			Endpoints: map[string]EndpointConfig{}, FDB: map[MAC]netip.Addr{}, Neigh: map[netip.Addr]MAC{},
		}
		if w.MTU == 0 {
			w.MTU = underlayMTU - VXLANOverhead
		}
		if n.Gateway.IsValid() {
			w.Gateway = netip.PrefixFrom(n.Gateway, n.Subnet.Bits())
		}
		want[n.VNI] = w
		return w
	}
	for _, n := range d.Networks {
		if byID[n.ID] == n && n.Pinned {
			need(n)
		}
	}
	for _, e := range d.Local {
		n, ok := byID[e.NetworkID]
		if !ok || !e.IP.Is4() || !n.Subnet.Contains(e.IP) || !validIfName(e.IfName) || e.TaskID == "" {
			continue
		}
		w := need(n)
		if w == nil {
			continue
		}
		veth := vethName(e.IP)
		if _, dup := w.Endpoints[veth]; dup {
			continue
		}
		w.Endpoints[veth] = EndpointConfig{
			Veth: veth, TaskID: e.TaskID, IfName: e.IfName, NetnsPath: e.NetnsPath,
			Addr: netip.PrefixFrom(e.IP, n.Subnet.Bits()), MAC: e.mac(), MTU: w.MTU,
		}
	}
	// Remote endpoints in a fixed order so that conflicts resolve the same way every time:
	// of two with one IP (or one MAC), the one on the lower VTEP wins.
	remotes := slices.Clone(d.Remote)
	slices.SortFunc(remotes, func(a, b RemoteEndpoint) int {
		return cmp.Or(
			cmp.Compare(a.NetworkID, b.NetworkID),
			a.IP.Compare(b.IP),
			a.VTEP.Compare(b.VTEP),
			a.mac().Compare(b.mac()),
		)
	})
	for _, r := range remotes {
		n, ok := byID[r.NetworkID]
		if !ok || !r.IP.Is4() || !r.VTEP.Is4() || !n.Subnet.Contains(r.IP) || r.VTEP == d.UnderlayIP {
			continue
		}
		w, ok := want[n.VNI]
		if !ok || w.ID != n.ID {
			continue // no local task needs the network
		}
		mac := r.mac()
		if _, local := w.Endpoints[vethName(r.IP)]; local {
			continue // the task is here now; the cluster state has not caught up
		}
		if _, dup := w.Neigh[r.IP]; dup {
			continue
		}
		if _, dup := w.FDB[mac]; dup {
			continue
		}
		w.Neigh[r.IP] = mac
		w.FDB[mac] = r.VTEP
	}
	// A local endpoint's MAC never goes to the tunnel.
	for _, w := range want {
		for _, e := range w.Endpoints {
			if _, clash := w.FDB[e.MAC]; clash {
				for ip, mac := range w.Neigh {
					if mac == e.MAC {
						delete(w.Neigh, ip)
					}
				}
				delete(w.FDB, e.MAC)
			}
		}
	}
	return want
}

// planNetwork returns the ops for one network this node needs; h is nil when it has no
// sandbox yet.
func planNetwork(w *wantNetwork, h *ObservedNetwork) []Op {
	var removals, additions []Op
	vni := w.VNI
	if h != nil && (h.Unusable || h.Bridge != nil && !bridgeOK(w, h.Bridge)) {
		// A sandbox we cannot use, or another network's (or a broken) bridge: start over.
		removals = append(removals, DeleteNetwork{VNI: vni})
		h = nil
	}
	if h == nil {
		additions = append(additions, CreateSandbox{VNI: vni})
		h = &ObservedNetwork{VNI: vni}
	}
	var addrs []netip.Prefix
	if h.Bridge == nil {
		additions = append(additions, CreateBridge{VNI: vni, NetworkID: w.ID, MTU: w.MTU})
	} else {
		addrs = h.Bridge.Addrs
	}

	for _, name := range h.StrayLinks {
		removals = append(removals, DeleteLink{VNI: vni, Name: name})
	}

	// The VXLAN device; its entries go with it when it is replaced.
	fdb, bridgeFDB, neigh := h.FDB, h.BridgeFDB, h.Neigh
	vx := h.VXLAN
	if vx != nil && (!vxlanOK(w, vx) || h.Bridge == nil) {
		removals = append(removals, DeleteLink{VNI: vni, Name: vxlanName(vni)})
		vx = nil
	}
	var mtus []Op
	if vx == nil {
		additions = append(additions, CreateVXLAN{VNI: vni, Local: w.Local, MTU: w.MTU})
		fdb, bridgeFDB, neigh = nil, nil, nil
	} else if vx.MTU != w.MTU {
		mtus = append(mtus, SetMTU{VNI: vni, Name: vxlanName(vni), MTU: w.MTU})
	}

	// Endpoints.
	var newEndpoints []Op
	seen := map[string]bool{}
	for _, e := range h.Endpoints {
		want, ok := w.Endpoints[e.Veth]
		seen[e.Veth] = true
		switch {
		case !ok || !endpointOK(want, e) || h.Bridge == nil:
			removals = append(removals, DeleteLink{VNI: vni, Name: e.Veth})
			if ok {
				newEndpoints = append(newEndpoints, AddEndpoint{VNI: vni, Endpoint: want})
			}
		case e.MTU != want.MTU:
			mtus = append(mtus, SetEndpointMTU{VNI: vni, Endpoint: want})
		}
	}
	for _, veth := range sortedKeys(w.Endpoints, strings.Compare) {
		if _, ok := seen[veth]; !ok {
			newEndpoints = append(newEndpoints, AddEndpoint{VNI: vni, Endpoint: w.Endpoints[veth]})
		}
	}
	slices.SortFunc(newEndpoints, func(a, b Op) int {
		return cmp.Compare(a.(AddEndpoint).Endpoint.Veth, b.(AddEndpoint).Endpoint.Veth)
	})
	// Ports before the bridge, so the bridge never has a larger MTU than they do.
	if h.Bridge != nil && h.Bridge.MTU != w.MTU {
		mtus = append(mtus, SetMTU{VNI: vni, Name: bridgeName(vni), MTU: w.MTU})
	}

	// The gateway address.
	var addAddrs []Op
	for _, a := range addrs {
		if a != w.Gateway {
			removals = append(removals, DeleteAddress{VNI: vni, Addr: a})
		}
	}
	if w.Gateway.IsValid() && !slices.Contains(addrs, w.Gateway) {
		addAddrs = append(addAddrs, AddAddress{VNI: vni, Addr: w.Gateway})
	}

	// Remote entries.
	entryRemovals, entryAdditions := planEntries(w, fdb, bridgeFDB, neigh)
	removals = append(entryRemovals, removals...)

	additions = append(additions, mtus...)
	additions = append(additions, addAddrs...)
	additions = append(additions, newEndpoints...)
	additions = append(additions, entryAdditions...)
	return append(removals, additions...)
}

// planEntries diffs the three entries every remote endpoint needs.
func planEntries(w *wantNetwork, fdb []FDBEntry, bridgeFDB []BridgeFDBEntry, neigh []NeighEntry) (removals, additions []Op) {
	vni := w.VNI
	haveNeigh := map[netip.Addr]bool{}
	for _, n := range sortedBy(neigh, func(n NeighEntry) netip.Addr { return n.IP }, netip.Addr.Compare) {
		if mac, ok := w.Neigh[n.IP]; ok && mac == n.MAC && n.Permanent && !haveNeigh[n.IP] {
			haveNeigh[n.IP] = true
			continue
		}
		removals = append(removals, DeleteNeigh{VNI: vni, IP: n.IP})
	}
	haveBridge := map[MAC]bool{}
	for _, b := range sortedBy(bridgeFDB, func(b BridgeFDBEntry) MAC { return b.MAC }, MAC.Compare) {
		if _, ok := w.FDB[b.MAC]; ok && b.Static && !haveBridge[b.MAC] {
			haveBridge[b.MAC] = true
			continue
		}
		removals = append(removals, DeleteBridgeFDB{VNI: vni, MAC: b.MAC})
	}
	haveFDB := map[MAC]bool{}
	for _, f := range sortedBy(fdb, func(f FDBEntry) MAC { return f.MAC }, MAC.Compare) {
		if vtep, ok := w.FDB[f.MAC]; ok && vtep == f.VTEP && !haveFDB[f.MAC] {
			haveFDB[f.MAC] = true
			continue
		}
		removals = append(removals, DeleteFDB{VNI: vni, FDBEntry: f})
	}
	for _, mac := range sortedKeys(w.FDB, MAC.Compare) {
		if !haveFDB[mac] {
			additions = append(additions, AddFDB{VNI: vni, FDBEntry: FDBEntry{MAC: mac, VTEP: w.FDB[mac]}})
		}
	}
	for _, mac := range sortedKeys(w.FDB, MAC.Compare) {
		if !haveBridge[mac] {
			additions = append(additions, AddBridgeFDB{VNI: vni, MAC: mac})
		}
	}
	for _, ip := range sortedKeys(w.Neigh, netip.Addr.Compare) {
		if !haveNeigh[ip] {
			additions = append(additions, AddNeigh{VNI: vni, IP: ip, MAC: w.Neigh[ip]})
		}
	}
	return removals, additions
}

func bridgeOK(w *wantNetwork, b *ObservedBridge) bool {
	return b.NetworkID == w.ID && b.Up
}

func vxlanOK(w *wantNetwork, v *ObservedVXLAN) bool {
	return v.VNI == w.VNI && v.Local == w.Local && v.Port == VXLANPort &&
		!v.Learning && v.Proxy && v.OnBridge && !v.PortLearning && v.Up
}

func endpointOK(want EndpointConfig, e ObservedEndpoint) bool {
	return e.TaskID == want.TaskID && e.IfName == want.IfName && e.IP == want.Addr.Addr() && e.OnBridge && e.Up
}

// sortedKeys returns m's keys in order.
func sortedKeys[K comparable, V any](m map[K]V, compare func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compare)
	return keys
}

// sortedBy returns a sorted copy of items.
func sortedBy[T, K any](items []T, key func(T) K, compare func(a, b K) int) []T {
	out := slices.Clone(items)
	slices.SortStableFunc(out, func(a, b T) int { return compare(key(a), key(b)) })
	return out
}

// Compare orders MACs bytewise.
func (m MAC) Compare(o MAC) int { return slices.Compare(m[:], o[:]) }
