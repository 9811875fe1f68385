package overlay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// VXLANPort is the UDP port of the VXLAN underlay, as in Docker swarm.
const VXLANPort = 4789

// VXLANOverhead is what VXLAN encapsulation adds to a frame on an IPv4 underlay: outer IPv4
// (20), UDP (8), VXLAN (8) and the inner Ethernet header (14).
const VXLANOverhead = 50

// defaultUnderlayMTU stands in when the underlay link's MTU is unknown.
const defaultUnderlayMTU = 1500

// maxVNI is the largest 24-bit VXLAN network identifier.
const maxVNI = 1<<24 - 1

// Desired is what the cluster state wants on this node.
type Desired struct {
	// UnderlayIP is this node's address on the underlay: the local VTEP. Required when
	// any network is listed.
	UnderlayIP netip.Addr
	// Networks are the overlay networks this node may need. A network gets devices on the
	// node only while a local endpoint uses it, or when it is Pinned.
	Networks []Network
	// Local are the endpoints of tasks running on this node.
	Local []LocalEndpoint
	// Remote are the endpoints of tasks running on other nodes. Entries on this node's
	// own VTEP, on networks not realised here, or with the IP of a local endpoint are
	// ignored; of two remote endpoints with one IP, the one on the lower VTEP wins.
	Remote []RemoteEndpoint
}

// Network is one overlay network.
type Network struct {
	ID      string
	VNI     uint32       // 1..16777215, unique per network
	Subnet  netip.Prefix // IPv4, e.g. 10.99.0.0/24
	Gateway netip.Addr   // optional; put on the network's bridge
	// MTU of the network's devices and task interfaces; 0 derives it from the underlay
	// link (its MTU less VXLANOverhead).
	MTU int
	// Pinned keeps the network's devices on this node even when no local task uses it (the
	// ingress network, which every node's routing mesh needs).
	Pinned bool
}

// LocalEndpoint is a task on this node attached to a network.
type LocalEndpoint struct {
	TaskID    string
	NetworkID string
	IP        netip.Addr
	// MAC of the task's interface; zero means MACFromIP(IP), which is what everyone
	// should use so that an IP always has one MAC.
	MAC MAC
	// IfName is the interface's name inside the task (eth0, eth1, ...), chosen by the
	// caller because only it knows the order of the task's networks.
	IfName string
	// NetnsPath is the task's network namespace (a pinned namespace or /proc/PID/ns/net).
	// A task keeps one namespace for its life; (TaskID, IP, IfName) identify the endpoint.
	NetnsPath string
}

// RemoteEndpoint is a task on another node attached to a network.
type RemoteEndpoint struct {
	NetworkID string
	IP        netip.Addr
	MAC       MAC        // zero means MACFromIP(IP)
	VTEP      netip.Addr // the other node's underlay address
}

// MAC is an Ethernet address, comparable so that it can key maps.
type MAC [6]byte

// MACFromIP derives a task's MAC from its IPv4 address the way Docker does: 02:42 and then
// the four bytes of the address (locally administered, unicast).
func MACFromIP(ip netip.Addr) MAC {
	a := ip.As4()
	return MAC{0x02, 0x42, a[0], a[1], a[2], a[3]}
}

func (m MAC) String() string { return net.HardwareAddr(m[:]).String() }

// IsZero reports whether m is unset.
func (m MAC) IsZero() bool { return m == MAC{} }

// HardwareAddr converts m for netlink.
func (m MAC) HardwareAddr() net.HardwareAddr { return net.HardwareAddr(m[:]) }

// macFrom converts a netlink address; ok is false unless it is 6 bytes long.
func macFrom(hw net.HardwareAddr) (MAC, bool) {
	var m MAC
	if len(hw) != len(m) {
		return m, false
	}
	copy(m[:], hw)
	return m, true
}

func (e LocalEndpoint) mac() MAC {
	if e.MAC.IsZero() {
		return MACFromIP(e.IP)
	}
	return e.MAC
}

func (e RemoteEndpoint) mac() MAC {
	if e.MAC.IsZero() {
		return MACFromIP(e.IP)
	}
	return e.MAC
}

// Device names. The VNI makes a sandbox's devices recognisable in `ip -all netns exec` and
// the IP makes a local endpoint's veth unique within its network.
func bridgeName(vni uint32) string { return fmt.Sprintf("sbr%d", vni) }
func vxlanName(vni uint32) string  { return fmt.Sprintf("svx%d", vni) }
func vethName(ip netip.Addr) string {
	a := ip.As4()
	return fmt.Sprintf("sve%02x%02x%02x%02x", a[0], a[1], a[2], a[3])
}
func bridgeAlias(networkID string) string { return "shoal network=" + networkID }
func vethAlias(taskID, ifName string) string {
	return "shoal task=" + taskID + " if=" + ifName
}

// parseVethName returns the IP a veth name encodes.
func parseVethName(name string) (netip.Addr, bool) {
	hex, ok := strings.CutPrefix(name, "sve")
	if !ok || len(hex) != 8 {
		return netip.Addr{}, false
	}
	var a [4]byte
	if _, err := fmt.Sscanf(hex, "%02x%02x%02x%02x", &a[0], &a[1], &a[2], &a[3]); err != nil {
		return netip.Addr{}, false
	}
	ip := netip.AddrFrom4(a)
	if vethName(ip) != name {
		return netip.Addr{}, false
	}
	return ip, true
}

// parseBridgeAlias returns the network ID a bridge alias names.
func parseBridgeAlias(alias string) (string, bool) {
	id, ok := strings.CutPrefix(alias, "shoal network=")
	return id, ok && id != ""
}

// parseVethAlias returns the task and interface name a veth alias names.
func parseVethAlias(alias string) (taskID, ifName string, ok bool) {
	rest, ok := strings.CutPrefix(alias, "shoal task=")
	if !ok {
		return "", "", false
	}
	taskID, ifName, ok = strings.Cut(rest, " if=")
	return taskID, ifName, ok && taskID != "" && ifName != ""
}

// Validate reports everything wrong with d, or nil. Plan never fails, but it skips what it
// cannot make sense of; callers validate first (Reconcile does).
func (d Desired) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(d.Networks) > 0 && !d.UnderlayIP.Is4() {
		bad("underlay IP %q: must be an IPv4 address when networks are listed", d.UnderlayIP)
	}
	nets := map[string]Network{}
	vnis := map[uint32]string{}
	for _, n := range d.Networks {
		if err := n.validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := nets[n.ID]; dup {
			bad("network %s: listed twice", n.ID)
		}
		if other, dup := vnis[n.VNI]; dup {
			bad("network %s: VNI %d is also network %s's", n.ID, n.VNI, other)
		}
		nets[n.ID], vnis[n.VNI] = n, n.ID
	}
	type key struct{ a, b string }
	tasks := map[key]bool{}
	ifaces := map[key]bool{}
	ips := map[key]string{}
	for _, e := range d.Local {
		what := fmt.Sprintf("task %s on network %s", e.TaskID, e.NetworkID)
		n, ok := nets[e.NetworkID]
		switch {
		case e.TaskID == "" || len(e.TaskID) > 128 || strings.ContainsAny(e.TaskID, " \t\n"):
			bad("%s: task ID must be 1 to 128 characters without spaces", what)
		case !ok:
			bad("%s: no such network in the desired state", what)
		case !validIfName(e.IfName):
			bad("%s: interface name %q must be 1 to 15 characters, no '/', ':' or spaces", what, e.IfName)
		case !strings.HasPrefix(e.NetnsPath, "/"):
			bad("%s: network namespace path %q must be absolute", what, e.NetnsPath)
		case !e.IP.Is4() || !n.Subnet.Contains(e.IP):
			bad("%s: IP %s must be an IPv4 address in %s", what, e.IP, n.Subnet)
		case e.IP == n.Gateway:
			bad("%s: IP %s is the network's gateway", what, e.IP)
		case e.mac()[0]&1 != 0:
			bad("%s: MAC %s is a multicast address", what, e.MAC)
		}
		if tasks[key{e.TaskID, e.NetworkID}] {
			bad("%s: listed twice", what)
		}
		if ifaces[key{e.NetnsPath, e.IfName}] {
			bad("%s: interface %s in %s is taken by another endpoint", what, e.IfName, e.NetnsPath)
		}
		if other, dup := ips[key{e.NetworkID, e.IP.String()}]; dup {
			bad("%s: IP %s is also local task %s's", what, e.IP, other)
		}
		tasks[key{e.TaskID, e.NetworkID}] = true
		ifaces[key{e.NetnsPath, e.IfName}] = true
		ips[key{e.NetworkID, e.IP.String()}] = e.TaskID
	}
	for _, r := range d.Remote {
		what := fmt.Sprintf("remote endpoint %s on network %s", r.IP, r.NetworkID)
		n, ok := nets[r.NetworkID]
		switch {
		case !ok:
			bad("%s: no such network in the desired state", what)
		case !r.IP.Is4() || !n.Subnet.Contains(r.IP):
			bad("%s: IP must be an IPv4 address in %s", what, n.Subnet)
		case !r.VTEP.Is4():
			bad("%s: VTEP %q must be an IPv4 address", what, r.VTEP)
		case r.mac()[0]&1 != 0:
			bad("%s: MAC %s is a multicast address", what, r.MAC)
		}
	}
	return errors.Join(errs...)
}

func (n Network) validate() error {
	what := fmt.Sprintf("network %q", n.ID)
	switch {
	case n.ID == "":
		return fmt.Errorf("%s: ID is empty", what)
	case n.VNI < 1 || n.VNI > maxVNI:
		return fmt.Errorf("%s: VNI %d must be in 1..%d", what, n.VNI, maxVNI)
	case !n.Subnet.IsValid() || !n.Subnet.Addr().Is4() || n.Subnet != n.Subnet.Masked() || n.Subnet.Bits() > 30:
		return fmt.Errorf("%s: subnet %s must be an IPv4 network address with a prefix of at most /30", what, n.Subnet)
	case n.Gateway.IsValid() && !n.Subnet.Contains(n.Gateway):
		return fmt.Errorf("%s: gateway %s is outside %s", what, n.Gateway, n.Subnet)
	case n.MTU != 0 && (n.MTU < 68 || n.MTU > 65535-VXLANOverhead):
		return fmt.Errorf("%s: MTU %d must be 0 (derived from the underlay) or in 68..%d", what, n.MTU, 65535-VXLANOverhead)
	}
	return nil
}

// validIfName accepts what the kernel accepts as an interface name.
func validIfName(name string) bool {
	return name != "" && len(name) < 16 && name != "." && name != ".." && !strings.ContainsAny(name, "/: \t\n")
}
