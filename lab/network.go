package lab

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// This file is the thin shell between the lab's plan and the kernel: namespaces through
// `ip netns`, links and addresses through netlink. Nothing here switches the calling
// thread's namespace; every call in a lab namespace goes through a netlink handle opened in it.

const (
	// netnsDir is where `ip netns` keeps its named namespaces.
	netnsDir = "/run/netns"
	// etcNetnsDir holds per-namespace files that `ip netns exec` mounts over /etc.
	etcNetnsDir = "/etc/netns"
)

// sealedResolvConf replaces /etc/resolv.conf for everything run in a node: with no
// nameserver line, resolvers ask the node's own loopback, so no query leaves the lab
// through the machine's resolver.
const sealedResolvConf = "# shoal lab: no upstream resolver; the lab is sealed.\n"

// runIP runs the ip command and returns its error output in the error.
func runIP(args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.Command("ip", args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// nsHandle is a netlink handle inside a named namespace.
type nsHandle struct {
	*netlink.Handle
	ns netns.NsHandle
}

func openNetns(name string) (*nsHandle, error) {
	ns, err := netns.GetFromName(name)
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", name, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netlink in netns %s: %w", name, err)
	}
	return &nsHandle{Handle: h, ns: ns}, nil
}

func (h *nsHandle) Close() {
	h.Handle.Close()
	h.ns.Close()
}

// setUp brings a link of the handle's namespace up.
func (h *nsHandle) setUp(name string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find link %s: %w", name, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// addNetns creates a named namespace with its loopback up and returns a handle in it.
func addNetns(name string) (*nsHandle, error) {
	if err := runIP("netns", "add", name); err != nil {
		return nil, err
	}
	h, err := openNetns(name)
	if err != nil {
		return nil, err
	}
	if err := h.setUp("lo"); err != nil {
		h.Close()
		return nil, fmt.Errorf("netns %s: %w", name, err)
	}
	return h, nil
}

// delNetns removes a named namespace. A namespace file left without its bind mount (an
// interrupted `ip netns add`) is unmounted and removed by hand.
func delNetns(name string) error {
	path := filepath.Join(netnsDir, name)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := runIP("netns", "del", name); err == nil {
		return nil
	}
	_ = syscall.Unmount(path, syscall.MNT_DETACH)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove netns %s: %w", name, err)
	}
	return nil
}

// netnsExists reports whether a named namespace exists.
func netnsExists(name string) bool {
	_, err := os.Lstat(filepath.Join(netnsDir, name))
	return err == nil
}

// labNetns lists the namespaces that belong to a lab by name, whatever lab.json says.
func labNetns(lab string) []string { return labEntries(netnsDir, lab) }

// labEntries lists the entries of dir named like a namespace of lab.
func labEntries(dir, lab string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if l, _, ok := parseNetnsName(e.Name()); ok && l == lab {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// allLabNetns maps lab names to the namespaces found for them.
func allLabNetns() map[string][]string {
	entries, _ := os.ReadDir(netnsDir)
	found := map[string][]string{}
	for _, e := range entries {
		if l, _, ok := parseNetnsName(e.Name()); ok {
			found[l] = append(found[l], e.Name())
		}
	}
	return found
}

func ipNet(a netip.Addr, p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}
}

// buildNetwork creates the switch namespace with its bridge, the veth from the machine into
// it, and every node's namespace and veth, all as st describes.
func buildNetwork(st state) error {
	sw, err := addNetns(st.SwitchNetns)
	if err != nil {
		return err
	}
	defer sw.Close()
	bridge := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: st.Bridge}}
	if err := sw.LinkAdd(bridge); err != nil {
		return fmt.Errorf("create bridge %s in %s: %w", st.Bridge, st.SwitchNetns, err)
	}
	if err := sw.setUp(st.Bridge); err != nil {
		return err
	}
	if err := addHostLink(st, sw); err != nil {
		return err
	}
	for _, n := range st.Nodes {
		if err := addNode(st, n, sw); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	return nil
}

// addHostLink connects the machine's root namespace to the switch and gives it the lab
// segment's first address, so the machine reaches every node directly on one L2 segment.
func addHostLink(st state, sw *nsHandle) error {
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: st.HostLink},
		PeerName:      switchHostPort,
		PeerNamespace: netlink.NsFd(int(sw.ns)),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("create link %s: %w", st.HostLink, err)
	}
	if err := attachToBridge(sw, switchHostPort, st.Bridge); err != nil {
		return err
	}
	host, err := netlink.LinkByName(st.HostLink)
	if err != nil {
		return fmt.Errorf("find link %s: %w", st.HostLink, err)
	}
	if err := netlink.AddrAdd(host, &netlink.Addr{IPNet: ipNet(st.HostAddr, st.Subnet)}); err != nil {
		return fmt.Errorf("address %s on %s: %w", st.HostAddr, st.HostLink, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("set %s up: %w", st.HostLink, err)
	}
	return nil
}

// addNode creates a node's namespace and its veth into the switch. The node gets only its
// connected route: no default route, so nothing leaves the lab.
func addNode(st state, n Node, sw *nsHandle) error {
	node, err := addNetns(n.Netns)
	if err != nil {
		return err
	}
	defer node.Close()
	if err := sealResolver(n.Netns); err != nil {
		return err
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: n.Link},
		PeerName:      nodeIface,
		PeerNamespace: netlink.NsFd(int(node.ns)),
	}
	if err := sw.LinkAdd(veth); err != nil {
		return fmt.Errorf("create link %s in %s: %w", n.Link, st.SwitchNetns, err)
	}
	if err := attachToBridge(sw, n.Link, st.Bridge); err != nil {
		return err
	}
	eth, err := node.LinkByName(nodeIface)
	if err != nil {
		return fmt.Errorf("find %s in %s: %w", nodeIface, n.Netns, err)
	}
	if err := node.AddrAdd(eth, &netlink.Addr{IPNet: ipNet(n.Addr, st.Subnet)}); err != nil {
		return fmt.Errorf("address %s in %s: %w", n.Addr, n.Netns, err)
	}
	return node.setUp(nodeIface)
}

// sealResolver gives a namespace its own resolv.conf, which `ip netns exec` puts in place
// of the machine's.
func sealResolver(ns string) error {
	dir := filepath.Join(etcNetnsDir, ns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("seal resolver of %s: %w", ns, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte(sealedResolvConf), 0o644); err != nil {
		return fmt.Errorf("seal resolver of %s: %w", ns, err)
	}
	return nil
}

func attachToBridge(sw *nsHandle, port, bridge string) error {
	l, err := sw.LinkByName(port)
	if err != nil {
		return fmt.Errorf("find %s in switch: %w", port, err)
	}
	br, err := sw.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("find bridge %s: %w", bridge, err)
	}
	if err := sw.LinkSetMaster(l, br); err != nil {
		return fmt.Errorf("attach %s to %s: %w", port, bridge, err)
	}
	return sw.setUp(port)
}

// setNodeLink cuts (up=false) or restores a node's link by setting its switch-side veth
// down or up.
func setNodeLink(st state, n Node, up bool) error {
	sw, err := openNetns(st.SwitchNetns)
	if err != nil {
		return err
	}
	defer sw.Close()
	l, err := sw.LinkByName(n.Link)
	if err != nil {
		return fmt.Errorf("find %s in %s: %w", n.Link, st.SwitchNetns, err)
	}
	if up {
		err = sw.LinkSetUp(l)
	} else {
		err = sw.LinkSetDown(l)
	}
	if err != nil {
		return fmt.Errorf("set %s up=%t: %w", n.Link, up, err)
	}
	return nil
}

// nodeLinkUp reports whether a node's switch-side veth is administratively up.
func nodeLinkUp(st state, n Node) bool {
	sw, err := openNetns(st.SwitchNetns)
	if err != nil {
		return false
	}
	defer sw.Close()
	l, err := sw.LinkByName(n.Link)
	return err == nil && l.Attrs().Flags&net.FlagUp != 0
}

// delRootLink deletes a link of the root namespace by name, if it exists.
func delRootLink(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return nil
		}
		return fmt.Errorf("find link %s: %w", name, err)
	}
	if err := netlink.LinkDel(l); err != nil && !errors.Is(err, syscall.ENODEV) {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

func rootLinkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

// machinePrefixes lists the IPv4 ranges the machine's root namespace uses: every address's
// network and every route of every table, catch-all routes aside.
func machinePrefixes() ([]takenPrefix, error) {
	var taken []takenPrefix
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		p, ok := prefixOf(a.IPNet)
		if !ok {
			continue
		}
		taken = append(taken, takenPrefix{Prefix: p.Masked(), Source: fmt.Sprintf("address %s on %s", p, names[a.LinkIndex])})
	}
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: syscall.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		p, ok := prefixOf(r.Dst)
		if !ok || isCatchAllRoute(p) {
			continue
		}
		src := "route " + p.Masked().String()
		if name := names[r.LinkIndex]; name != "" {
			src += " dev " + name
		}
		if r.Table != syscall.RT_TABLE_MAIN {
			src += fmt.Sprintf(" table %d", r.Table)
		}
		taken = append(taken, takenPrefix{Prefix: p.Masked(), Source: src})
	}
	return taken, nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, _ := n.Mask.Size()
	if !a.Is4() {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, ones), true
}
