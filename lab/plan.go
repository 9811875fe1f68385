package lab

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// This file holds the lab's pure decisions: names, the node list, the address plan and the
// choice of subnet. Nothing here touches the kernel, the disk or a clock.

// Role is what a node is in the cluster.
type Role string

const (
	RoleManager Role = "manager"
	RoleWorker  Role = "worker"
)

const (
	// maxNameLen bounds a lab name so that every derived name stays short and readable.
	maxNameLen = 32
	// ifNameMax is the longest Linux interface name (IFNAMSIZ 16 minus the NUL).
	ifNameMax = 15
	// netnsPrefix starts every namespace a lab creates; Down and List find leftovers by it.
	netnsPrefix = "shoal-"
	// hostLinkPrefix starts the root-namespace end of a lab's uplink veth.
	hostLinkPrefix = "shoal"
	// switchNode names the switch namespace in place of a node name.
	switchNode = "sw"
	// Interface names inside the lab's own namespaces. They need no uniqueness beyond their
	// namespace, so they are fixed.
	bridgeName     = "br0"
	switchHostPort = "machine" // the switch end of the veth from the machine's root namespace
	nodeIface      = "eth0"    // a node's end of its veth into the switch
	// overlayPool is the cluster's default overlay address pool; a lab subnet inside it would
	// shadow overlay networks on every node.
	overlayPool = "10.0.0.0/8"
)

var (
	labNameRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	nodeNameRE = regexp.MustCompile(`^(manager|worker)-[1-9][0-9]*$`)
)

// ValidateName checks a lab name: lower-case letters, digits and inner hyphens, at most 32
// characters.
func ValidateName(name string) error {
	if name == "" {
		return errors.New("lab name is empty")
	}
	if len(name) > maxNameLen || !labNameRE.MatchString(name) {
		return fmt.Errorf("invalid lab name %q: use at most %d lower-case letters, digits and inner hyphens", name, maxNameLen)
	}
	return nil
}

// netnsName is the network namespace of one node (or of the switch) of a lab.
func netnsName(lab, node string) string { return netnsPrefix + lab + "-" + node }

// switchNetnsName is the namespace holding a lab's bridge.
func switchNetnsName(lab string) string { return netnsName(lab, switchNode) }

// hostLinkName is the root-namespace end of the veth into a lab's switch. Root-namespace
// names are global, so it carries a hash of the lab name: "shoal" plus 8 hex digits, 13
// characters, within IFNAMSIZ for any lab name.
func hostLinkName(lab string) string {
	sum := sha256.Sum256([]byte(lab))
	return hostLinkPrefix + hex.EncodeToString(sum[:4])
}

// parseNetnsName splits a namespace name made by netnsName back into lab and node. The node
// part must be a node name or the switch, which keeps "shoal-a-b-worker-1" (lab "a-b") from
// being taken for a namespace of lab "a".
func parseNetnsName(ns string) (lab, node string, ok bool) {
	rest, ok := strings.CutPrefix(ns, netnsPrefix)
	if !ok {
		return "", "", false
	}
	if l, found := strings.CutSuffix(rest, "-"+switchNode); found && ValidateName(l) == nil {
		return l, switchNode, true
	}
	// A node name has exactly one hyphen: split before the second-to-last hyphen.
	i := strings.LastIndex(rest, "-")
	if i <= 0 {
		return "", "", false
	}
	j := strings.LastIndex(rest[:i], "-")
	if j <= 0 {
		return "", "", false
	}
	lab, node = rest[:j], rest[j+1:]
	if ValidateName(lab) != nil || !nodeNameRE.MatchString(node) {
		return "", "", false
	}
	return lab, node, true
}

// nodeSpec is one planned node.
type nodeSpec struct {
	Name string
	Role Role
	Addr netip.Addr
}

// plan is the whole network layout of a lab.
type plan struct {
	Subnet   netip.Prefix
	HostAddr netip.Addr // the machine's address on the lab segment: the subnet's first host
	Nodes    []nodeSpec
}

// planNodes names the nodes, managers first, and gives them consecutive addresses after
// the machine's. It fails when the subnet cannot hold them.
func planNodes(subnet netip.Prefix, managers, workers int) (plan, error) {
	if managers < 1 {
		return plan{}, fmt.Errorf("invalid number of managers %d: a lab needs at least 1", managers)
	}
	if workers < 0 {
		return plan{}, fmt.Errorf("invalid number of workers %d: must be 0 or more", workers)
	}
	if !subnet.IsValid() || !subnet.Addr().Is4() {
		return plan{}, fmt.Errorf("invalid subnet %s: must be an IPv4 prefix", subnet)
	}
	total := managers + workers
	if room := hostCapacity(subnet) - 1; total > room {
		return plan{}, fmt.Errorf("%d nodes do not fit in %s: it has room for %d besides the machine's address", total, subnet, room)
	}
	p := plan{Subnet: subnet, HostAddr: subnet.Addr().Next()}
	addr := p.HostAddr
	add := func(role Role, n int) {
		for i := 1; i <= n; i++ {
			addr = addr.Next()
			p.Nodes = append(p.Nodes, nodeSpec{Name: string(role) + "-" + strconv.Itoa(i), Role: role, Addr: addr})
		}
	}
	add(RoleManager, managers)
	add(RoleWorker, workers)
	for _, n := range p.Nodes {
		if len(n.Name) > ifNameMax {
			// The node name is also the switch-side interface name.
			return plan{}, fmt.Errorf("node name %q is longer than %d characters", n.Name, ifNameMax)
		}
	}
	return p, nil
}

// hostCapacity is the number of usable host addresses in an IPv4 prefix (network and
// broadcast excluded).
func hostCapacity(p netip.Prefix) int { return 1<<(32-p.Bits()) - 2 }

// takenPrefix is an address range the machine or another lab already uses, with where it was
// seen so an error can say what collided.
type takenPrefix struct {
	Prefix netip.Prefix
	Source string
}

// overlaps reports the first taken range that shares an address with p.
func overlaps(p netip.Prefix, taken []takenPrefix) (takenPrefix, bool) {
	for _, t := range taken {
		if t.Prefix.Overlaps(p) {
			return t, true
		}
	}
	return takenPrefix{}, false
}

// candidateRanges are searched in order, one /24 at a time, for an automatic lab subnet.
// 10.0.0.0/8 is never used: it is the overlay pool.
var candidateRanges = []netip.Prefix{
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
}

// pickSubnet returns the first /24 of the candidate ranges that overlaps nothing taken.
func pickSubnet(taken []takenPrefix) (netip.Prefix, error) {
	for _, r := range candidateRanges {
		for a := r.Addr(); r.Contains(a); a = nextSlash24(a) {
			p := netip.PrefixFrom(a, 24)
			if _, hit := overlaps(p, taken); !hit {
				return p, nil
			}
		}
	}
	return netip.Prefix{}, errors.New("no free /24 left in 172.16.0.0/12 or 192.168.0.0/16: choose one with --subnet")
}

func nextSlash24(a netip.Addr) netip.Addr {
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8
	v += 1 << 8
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0})
}

// parseSubnet reads a subnet the user chose. It must be a canonical IPv4 prefix of ordinary
// unicast addresses outside the overlay pool; collisions are checked apart, by checkSubnet.
func parseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("invalid subnet %q: must be an IPv4 prefix such as 172.20.0.0/24", s)
	}
	if p.Bits() < 16 || p.Bits() > 29 {
		return netip.Prefix{}, fmt.Errorf("invalid subnet %q: prefix length must be between /16 and /29", s)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("invalid subnet %q: host bits are set; did you mean %s?", s, m)
	}
	a := p.Addr()
	switch {
	case a.IsLoopback(), a.IsMulticast(), a.IsLinkLocalUnicast(), a.IsUnspecified(),
		netip.MustParsePrefix("0.0.0.0/8").Overlaps(p), netip.MustParsePrefix("240.0.0.0/4").Overlaps(p):
		return netip.Prefix{}, fmt.Errorf("invalid subnet %q: must be ordinary unicast addresses (private ranges such as 172.16.0.0/12 or 192.168.0.0/16 are best)", s)
	case netip.MustParsePrefix(overlayPool).Overlaps(p):
		return netip.Prefix{}, fmt.Errorf("invalid subnet %q: it overlaps %s, the overlay address pool", s, overlayPool)
	}
	return p, nil
}

// checkSubnet refuses a subnet that overlaps anything taken.
func checkSubnet(p netip.Prefix, taken []takenPrefix) error {
	if t, hit := overlaps(p, taken); hit {
		return fmt.Errorf("subnet %s collides with %s (%s): choose another with --subnet", p, t.Prefix, t.Source)
	}
	return nil
}

// isCatchAllRoute tells default-like routes apart: 0.0.0.0/0, or the 0/1 + 128/1 pair VPNs
// install. They overlap every candidate, yet a lab's connected /24 is more specific than
// them, so they are no collision.
func isCatchAllRoute(p netip.Prefix) bool { return p.Bits() < 8 }
