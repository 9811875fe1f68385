package overlay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/shoal/shoal/network/netns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// This file is the thin shell between ops and the kernel. It never switches a goroutine's
// thread itself: every call goes through a netlink handle opened in the namespace it
// concerns (network/netns does the switching, safely), and handles are opened per op and
// closed after it, so none outlives a namespace that someone else deleted.

// DefaultSandboxPrefix names sandbox namespaces when Config leaves it empty.
const DefaultSandboxPrefix = "shoal-ov-"

// Config places a node's data plane.
type Config struct {
	// HostNetns is the namespace holding the node's underlay, where VXLAN sockets live
	// (a path such as /run/netns/NAME); empty means the process's own namespace.
	HostNetns string
	// SandboxPrefix names each network's namespace: SandboxPrefix + VNI. Nodes that share
	// one machine (and so /run/netns) must use different prefixes. Default
	// DefaultSandboxPrefix.
	SandboxPrefix string
}

// Netlink programs the kernel through netlink. It is the Kernel of a real node.
type Netlink struct {
	cfg Config
}

// NewNetlink returns the kernel shell for cfg.
func NewNetlink(cfg Config) (*Netlink, error) {
	if cfg.SandboxPrefix == "" {
		cfg.SandboxPrefix = DefaultSandboxPrefix
	}
	if strings.ContainsAny(cfg.SandboxPrefix, "/\x00") || cfg.SandboxPrefix == "." || cfg.SandboxPrefix == ".." {
		return nil, fmt.Errorf("invalid sandbox prefix %q: must be usable as part of a file name", cfg.SandboxPrefix)
	}
	return &Netlink{cfg: cfg}, nil
}

// SandboxName is the namespace of a network on this node.
func (k *Netlink) SandboxName(vni uint32) string {
	return k.cfg.SandboxPrefix + strconv.FormatUint(uint64(vni), 10)
}

// sandboxVNI parses a namespace name made by SandboxName.
func (k *Netlink) sandboxVNI(name string) (uint32, bool) {
	rest, ok := strings.CutPrefix(name, k.cfg.SandboxPrefix)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(rest, 10, 32)
	if err != nil || v < 1 || v > maxVNI || strconv.FormatUint(v, 10) != rest {
		return 0, false
	}
	return uint32(v), true
}

// Apply runs one op.
func (k *Netlink) Apply(op Op) error {
	switch op := op.(type) {
	case CreateSandbox:
		if netns.Exists(k.SandboxName(op.VNI)) {
			return nil
		}
		return netns.Create(k.SandboxName(op.VNI))
	case DeleteNetwork:
		return k.deleteNetwork(op.VNI)
	case CreateBridge:
		return k.inSandbox(op.VNI, func(h *netlink.Handle) error { return createBridge(h, op) })
	case CreateVXLAN:
		return k.createVXLAN(op)
	case DeleteLink:
		return k.inSandbox(op.VNI, func(h *netlink.Handle) error { return deleteLink(h, op.Name) })
	case SetMTU:
		return k.inSandbox(op.VNI, func(h *netlink.Handle) error { return setMTU(h, op.Name, op.MTU) })
	case AddAddress:
		return k.inSandbox(op.VNI, func(h *netlink.Handle) error { return bridgeAddr(h, op.VNI, op.Addr, true) })
	case DeleteAddress:
		return k.inSandbox(op.VNI, func(h *netlink.Handle) error { return bridgeAddr(h, op.VNI, op.Addr, false) })
	case AddEndpoint:
		return k.inSandbox(op.VNI, func(h *netlink.Handle) error { return addEndpoint(h, op) })
	case SetEndpointMTU:
		return k.inSandbox(op.VNI, func(h *netlink.Handle) error { return setEndpointMTU(h, op.Endpoint) })
	case AddFDB, DeleteFDB, AddBridgeFDB, DeleteBridgeFDB, AddNeigh, DeleteNeigh:
		return k.inSandbox(op.vni(), func(h *netlink.Handle) error { return programEntry(h, op) })
	default:
		return fmt.Errorf("unknown op %T", op)
	}
}

// inSandbox runs fn with a netlink handle in the network's sandbox.
func (k *Netlink) inSandbox(vni uint32, fn func(*netlink.Handle) error) error {
	h, err := netns.Handle(netns.Path(k.SandboxName(vni)))
	if err != nil {
		return err
	}
	defer h.Close()
	return fn(h)
}

// deleteNetwork deletes the sandbox's links first, so that the VNI and the task ends of the
// veths are gone when it returns (a namespace's devices otherwise go when the kernel gets
// round to freeing it), then unpins the sandbox.
func (k *Netlink) deleteNetwork(vni uint32) error {
	name := k.SandboxName(vni)
	if !netns.Exists(name) {
		return nil
	}
	var errs []error
	h, err := netns.Handle(netns.Path(name))
	if err == nil {
		links, err := listLinks(h)
		if err != nil {
			errs = append(errs, err)
		}
		for _, l := range links {
			if l.Attrs().Name == "lo" {
				continue
			}
			if err := h.LinkDel(l); err != nil && !isGone(err) {
				errs = append(errs, fmt.Errorf("delete %s: %w", l.Attrs().Name, err))
			}
		}
		h.Close()
	}
	// A sandbox we cannot enter (a file left by an interrupted Create) is unpinned all the same.
	if err := netns.Delete(name); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func createBridge(h *netlink.Handle, op CreateBridge) error {
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: bridgeName(op.VNI), MTU: op.MTU}}
	if err := h.LinkAdd(br); err != nil {
		return fmt.Errorf("create bridge: %w", err)
	}
	// The kernel takes an alias only on an existing link. Until it is set, the bridge
	// belongs to no network, and Plan rebuilds the sandbox.
	if err := h.LinkSetAlias(br, bridgeAlias(op.NetworkID)); err != nil {
		return fmt.Errorf("name the bridge's network: %w", err)
	}
	return setUp(h, br.Name)
}

// createVXLAN creates the device from the node's namespace straight into the sandbox: its
// UDP socket belongs to the namespace it was created from (the underlay), while the device
// itself sits with the bridge.
func (k *Netlink) createVXLAN(op CreateVXLAN) error {
	sandbox := netns.Path(k.SandboxName(op.VNI))
	fd, err := unix.Open(sandbox, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open sandbox: %w", err)
	}
	defer unix.Close(fd)
	host, err := netns.Handle(k.cfg.HostNetns)
	if err != nil {
		return err
	}
	defer host.Close()
	name := vxlanName(op.VNI)
	vx := &netlink.Vxlan{
		LinkAttrs: netlink.LinkAttrs{Name: name, MTU: op.MTU, Namespace: netlink.NsFd(fd)},
		VxlanId:   int(op.VNI),
		SrcAddr:   op.Local.AsSlice(),
		Port:      VXLANPort,
		Learning:  false,
		Proxy:     true,
	}
	if err := host.LinkAdd(vx); err != nil {
		return fmt.Errorf("create vxlan: %w", err)
	}
	return k.inSandbox(op.VNI, func(h *netlink.Handle) error {
		l, err := h.LinkByName(name)
		if err != nil {
			return fmt.Errorf("find %s: %w", name, err)
		}
		br, err := h.LinkByName(bridgeName(op.VNI))
		if err != nil {
			return fmt.Errorf("find bridge: %w", err)
		}
		if err := h.LinkSetMaster(l, br); err != nil {
			return fmt.Errorf("attach %s to the bridge: %w", name, err)
		}
		if err := h.LinkSetLearning(l, false); err != nil {
			return fmt.Errorf("turn bridge learning off on %s: %w", name, err)
		}
		return setUp(h, name)
	})
}

func deleteLink(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if isGone(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if err := h.LinkDel(l); err != nil && !isGone(err) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

func setMTU(h *netlink.Handle, name string, mtu int) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if err := h.LinkSetMTU(l, mtu); err != nil {
		return fmt.Errorf("set %s mtu %d: %w", name, mtu, err)
	}
	return nil
}

func setUp(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

func bridgeAddr(h *netlink.Handle, vni uint32, p netip.Prefix, add bool) error {
	br, err := h.LinkByName(bridgeName(vni))
	if err != nil {
		return fmt.Errorf("find bridge: %w", err)
	}
	a := &netlink.Addr{IPNet: ipNet(p)}
	if add {
		err = h.AddrReplace(br, a)
	} else if err = h.AddrDel(br, a); errors.Is(err, unix.EADDRNOTAVAIL) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("address %s on the bridge: %w", p, err)
	}
	return nil
}

// addEndpoint creates a task's veth with its task end directly in the task's namespace,
// configures both ends, and removes the veth again if any step fails.
func addEndpoint(h *netlink.Handle, op AddEndpoint) (err error) {
	e := op.Endpoint
	task, err := unix.Open(e.NetnsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open task namespace: %w", err)
	}
	defer unix.Close(task)
	br, err := h.LinkByName(bridgeName(op.VNI))
	if err != nil {
		return fmt.Errorf("find bridge: %w", err)
	}
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: e.Veth, MTU: e.MTU},
		PeerName:         e.IfName,
		PeerHardwareAddr: e.MAC.HardwareAddr(),
		PeerNamespace:    netlink.NsFd(task),
		PeerMTU:          uint32(e.MTU),
	}
	if err := h.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s with %s in the task: %w", e.Veth, e.IfName, err)
	}
	defer func() {
		if err != nil {
			_ = deleteLink(h, e.Veth)
		}
	}()
	l, err := h.LinkByName(e.Veth)
	if err != nil {
		return fmt.Errorf("find %s: %w", e.Veth, err)
	}
	if err := h.LinkSetAlias(l, vethAlias(e.TaskID, e.IfName)); err != nil {
		return fmt.Errorf("name %s's task: %w", e.Veth, err)
	}
	if err := h.LinkSetMaster(l, br); err != nil {
		return fmt.Errorf("attach %s to the bridge: %w", e.Veth, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", e.Veth, err)
	}
	th, err := netns.Handle(e.NetnsPath)
	if err != nil {
		return err
	}
	defer th.Close()
	tl, err := th.LinkByName(e.IfName)
	if err != nil {
		return fmt.Errorf("find %s in the task: %w", e.IfName, err)
	}
	if err := th.AddrReplace(tl, &netlink.Addr{IPNet: ipNet(e.Addr)}); err != nil {
		return fmt.Errorf("address %s on %s in the task: %w", e.Addr, e.IfName, err)
	}
	if err := th.LinkSetUp(tl); err != nil {
		return fmt.Errorf("set %s up in the task: %w", e.IfName, err)
	}
	return nil
}

func setEndpointMTU(h *netlink.Handle, e EndpointConfig) error {
	if err := setMTU(h, e.Veth, e.MTU); err != nil {
		return err
	}
	th, err := netns.Handle(e.NetnsPath)
	if err != nil {
		return err
	}
	defer th.Close()
	if err := setMTU(th, e.IfName, e.MTU); err != nil {
		return fmt.Errorf("in the task: %w", err)
	}
	return nil
}

// programEntry adds or deletes one forwarding or neighbour entry of the VXLAN device.
// Adds replace, deletes of a missing entry succeed: both are idempotent.
func programEntry(h *netlink.Handle, op Op) error {
	vx, err := h.LinkByName(vxlanName(op.vni()))
	if err != nil {
		return fmt.Errorf("find vxlan: %w", err)
	}
	idx := vx.Attrs().Index
	fdb := func(e FDBEntry) *netlink.Neigh {
		return &netlink.Neigh{LinkIndex: idx, Family: unix.AF_BRIDGE, Flags: netlink.NTF_SELF,
			State: netlink.NUD_PERMANENT, HardwareAddr: e.MAC.HardwareAddr(), IP: e.VTEP.AsSlice()}
	}
	bridgeFDB := func(mac MAC) *netlink.Neigh {
		// Static (NUD_NOARP), not permanent: a permanent bridge entry means "this bridge's own
		// address" and would swallow the frames.
		return &netlink.Neigh{LinkIndex: idx, Family: unix.AF_BRIDGE, Flags: netlink.NTF_MASTER,
			State: netlink.NUD_NOARP, HardwareAddr: mac.HardwareAddr()}
	}
	neigh := func(ip netip.Addr, mac MAC) *netlink.Neigh {
		n := &netlink.Neigh{LinkIndex: idx, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT, IP: ip.AsSlice()}
		if !mac.IsZero() {
			n.HardwareAddr = mac.HardwareAddr()
		}
		return n
	}
	switch op := op.(type) {
	case AddFDB:
		err = h.NeighSet(fdb(op.FDBEntry))
	case DeleteFDB:
		err = ignoreGone(h.NeighDel(fdb(op.FDBEntry)))
	case AddBridgeFDB:
		err = h.NeighSet(bridgeFDB(op.MAC))
	case DeleteBridgeFDB:
		err = ignoreGone(h.NeighDel(bridgeFDB(op.MAC)))
	case AddNeigh:
		err = h.NeighSet(neigh(op.IP, op.MAC))
	case DeleteNeigh:
		err = ignoreGone(h.NeighDel(neigh(op.IP, MAC{})))
	}
	return err
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// isGone reports an error that says the thing is not there.
func isGone(err error) bool {
	var notFound netlink.LinkNotFoundError
	return errors.As(err, &notFound) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT)
}

func ignoreGone(err error) error {
	if isGone(err) {
		return nil
	}
	return err
}
