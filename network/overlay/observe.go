package overlay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/shoal/shoal/network/netns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// dumpAttempts bounds the retries of a netlink dump that the kernel interrupted because
// the table changed under it.
const dumpAttempts = 5

// retryDump runs a netlink dump until it is consistent.
func retryDump[T any](what string, dump func() ([]T, error)) ([]T, error) {
	var err error
	for range dumpAttempts {
		var out []T
		if out, err = dump(); err == nil {
			return out, nil
		}
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return nil, fmt.Errorf("list %s: %w", what, err)
}

func listLinks(h *netlink.Handle) ([]netlink.Link, error) {
	return retryDump("links", h.LinkList)
}

// Observe reads every sandbox with this node's prefix, and the MTU of the link that holds
// underlay (skipped when underlay is not set, as when everything is being removed).
func (k *Netlink) Observe(underlay netip.Addr) (Observed, error) {
	var o Observed
	if underlay.IsValid() {
		mtu, err := k.underlayMTU(underlay)
		if err != nil {
			return Observed{}, err
		}
		o.UnderlayMTU = mtu
	}
	names, err := netns.List(k.cfg.SandboxPrefix)
	if err != nil {
		return Observed{}, err
	}
	for _, name := range names {
		vni, ok := k.sandboxVNI(name)
		if !ok {
			continue // not one of ours, only a similar name
		}
		n, err := observeSandbox(netns.Path(name), vni)
		if err != nil {
			return Observed{}, fmt.Errorf("sandbox %s: %w", name, err)
		}
		o.Networks = append(o.Networks, n)
	}
	return o, nil
}

func (k *Netlink) underlayMTU(underlay netip.Addr) (int, error) {
	h, err := netns.Handle(k.cfg.HostNetns)
	if err != nil {
		return 0, err
	}
	defer h.Close()
	addrs, err := retryDump("addresses", func() ([]netlink.Addr, error) { return h.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return 0, err
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == underlay {
			l, err := h.LinkByIndex(a.LinkIndex)
			if err != nil {
				return 0, fmt.Errorf("find the underlay link: %w", err)
			}
			return l.Attrs().MTU, nil
		}
	}
	return 0, fmt.Errorf("underlay address %s is on no link of the node", underlay)
}

// observeSandbox reads one sandbox. A sandbox that cannot be entered (an unpinned file) is
// reported unusable, which makes Plan rebuild or delete it.
func observeSandbox(path string, vni uint32) (ObservedNetwork, error) {
	n := ObservedNetwork{VNI: vni}
	h, err := netns.Handle(path)
	if err != nil {
		n.Unusable = true
		return n, nil
	}
	defer h.Close()
	links, err := listLinks(h)
	if err != nil {
		return n, err
	}
	bridgeIndex := 0
	for _, l := range links {
		if l.Attrs().Name == bridgeName(vni) && l.Type() == "bridge" {
			bridgeIndex = l.Attrs().Index
		}
	}
	var vxlan netlink.Link
	for _, l := range links {
		a := l.Attrs()
		up := a.Flags&net.FlagUp != 0
		switch {
		case a.Name == "lo":
		case a.Index == bridgeIndex:
			b := &ObservedBridge{MTU: a.MTU, Up: up}
			b.NetworkID, _ = parseBridgeAlias(a.Alias)
			if b.Addrs, err = ipv4Addrs(h, l); err != nil {
				return n, err
			}
			n.Bridge = b
		case a.Name == vxlanName(vni) && l.Type() == "vxlan":
			vxlan = l
			n.VXLAN = observeVXLAN(h, l.(*netlink.Vxlan), bridgeIndex)
		case l.Type() == "veth" && isVethName(a.Name):
			ip, _ := parseVethName(a.Name)
			e := ObservedEndpoint{Veth: a.Name, IP: ip, MTU: a.MTU, Up: up, OnBridge: bridgeIndex != 0 && a.MasterIndex == bridgeIndex}
			e.TaskID, e.IfName, _ = parseVethAlias(a.Alias)
			n.Endpoints = append(n.Endpoints, e)
		default:
			n.StrayLinks = append(n.StrayLinks, a.Name)
		}
	}
	if vxlan != nil {
		if err := observeEntries(h, vxlan.Attrs().Index, &n); err != nil {
			return n, err
		}
	}
	slices.Sort(n.StrayLinks)
	slices.SortFunc(n.Endpoints, func(a, b ObservedEndpoint) int { return strings.Compare(a.Veth, b.Veth) })
	return n, nil
}

func isVethName(name string) bool {
	_, ok := parseVethName(name)
	return ok
}

func observeVXLAN(h *netlink.Handle, vx *netlink.Vxlan, bridgeIndex int) *ObservedVXLAN {
	a := vx.Attrs()
	v := &ObservedVXLAN{
		VNI: uint32(vx.VxlanId), Port: vx.Port, Learning: vx.Learning, Proxy: vx.Proxy,
		OnBridge: bridgeIndex != 0 && a.MasterIndex == bridgeIndex, Up: a.Flags&net.FlagUp != 0, MTU: a.MTU,
	}
	if ip, ok := netip.AddrFromSlice(vx.SrcAddr); ok {
		v.Local = ip.Unmap()
	}
	if v.OnBridge {
		// Unknown counts as learning, so that Plan replaces the device.
		v.PortLearning = true
		if p, err := h.LinkGetProtinfo(vx); err == nil {
			v.PortLearning = p.Learning
		}
	}
	return v
}

func ipv4Addrs(h *netlink.Handle, l netlink.Link) ([]netip.Prefix, error) {
	addrs, err := retryDump("addresses", func() ([]netlink.Addr, error) { return h.AddrList(l, netlink.FAMILY_V4) })
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		bits, _ := a.Mask.Size()
		out = append(out, netip.PrefixFrom(ip.Unmap(), bits))
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return out, nil
}

// observeEntries reads the VXLAN device's forwarding entries (its own and the bridge's on
// its port) and its IPv4 neighbour entries.
func observeEntries(h *netlink.Handle, vxIndex int, n *ObservedNetwork) error {
	fdb, err := retryDump("forwarding entries", func() ([]netlink.Neigh, error) { return h.NeighList(vxIndex, unix.AF_BRIDGE) })
	if err != nil {
		return err
	}
	for _, e := range fdb {
		mac, ok := macFrom(e.HardwareAddr)
		if !ok {
			continue
		}
		switch {
		case e.Flags&netlink.NTF_SELF != 0:
			vtep, _ := netip.AddrFromSlice(e.IP)
			n.FDB = append(n.FDB, FDBEntry{MAC: mac, VTEP: vtep.Unmap()})
		case e.MasterIndex != 0 && e.State&netlink.NUD_PERMANENT == 0:
			// The bridge's entries on the port come with the bridge as master (and no
			// NTF_MASTER flag). Its permanent one is the port's own address; everything
			// else on the port is ours to judge.
			n.BridgeFDB = append(n.BridgeFDB, BridgeFDBEntry{MAC: mac, Static: e.State&netlink.NUD_NOARP != 0})
		}
	}
	neigh, err := retryDump("neighbour entries", func() ([]netlink.Neigh, error) { return h.NeighList(vxIndex, netlink.FAMILY_V4) })
	if err != nil {
		return err
	}
	for _, e := range neigh {
		ip, ok := netip.AddrFromSlice(e.IP)
		if !ok {
			continue
		}
		mac, _ := macFrom(e.HardwareAddr)
		n.Neigh = append(n.Neigh, NeighEntry{IP: ip.Unmap(), MAC: mac, Permanent: e.State&netlink.NUD_PERMANENT != 0})
	}
	return nil
}
