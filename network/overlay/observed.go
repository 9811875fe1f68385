package overlay

import "net/netip"

// Observed is what the kernel holds of ours on this node, as Observe reads it.
type Observed struct {
	// UnderlayMTU is the MTU of the link holding the underlay IP; 0 when unknown.
	UnderlayMTU int
	// Networks are the sandboxes found, sorted by VNI.
	Networks []ObservedNetwork
}

// ObservedNetwork is one sandbox namespace and what is in it.
type ObservedNetwork struct {
	VNI uint32
	// Unusable says the sandbox's name exists but cannot be entered (a file left by an
	// interrupted create); nothing else is reported for it.
	Unusable bool
	Bridge   *ObservedBridge // nil when the sandbox has no sbr<VNI>
	VXLAN    *ObservedVXLAN  // nil when the sandbox has no svx<VNI>
	// Endpoints are the sandbox ends of task veths (sve<hex IP>).
	Endpoints []ObservedEndpoint
	// StrayLinks are links in the sandbox that are none of the above (lo aside).
	StrayLinks []string
	// FDB are the VXLAN device's own forwarding entries.
	FDB []FDBEntry
	// BridgeFDB are the bridge's non-local forwarding entries on the VXLAN port.
	BridgeFDB []BridgeFDBEntry
	// Neigh are the VXLAN device's IPv4 neighbour entries.
	Neigh []NeighEntry
}

// ObservedBridge is a network's bridge.
type ObservedBridge struct {
	NetworkID string // from the alias; "" when it has none of ours
	MTU       int
	Up        bool
	Addrs     []netip.Prefix // IPv4 addresses
}

// ObservedVXLAN is a network's VXLAN device and its settings that matter.
type ObservedVXLAN struct {
	VNI          uint32
	Local        netip.Addr
	Port         int
	Learning     bool
	Proxy        bool
	OnBridge     bool // a port of the network's bridge
	PortLearning bool // the bridge learns source MACs on this port
	Up           bool
	MTU          int
}

// ObservedEndpoint is the sandbox end of a task's veth.
type ObservedEndpoint struct {
	Veth     string
	IP       netip.Addr // from the name
	TaskID   string     // from the alias; "" when it has none of ours
	IfName   string     // from the alias
	MTU      int
	OnBridge bool
	Up       bool
}

// FDBEntry sends frames for MAC through the tunnel to VTEP.
type FDBEntry struct {
	MAC  MAC
	VTEP netip.Addr
}

// BridgeFDBEntry points the bridge at the VXLAN port for MAC.
type BridgeFDBEntry struct {
	MAC    MAC
	Static bool // false for an entry the bridge learned
}

// NeighEntry answers ARP for IP with MAC.
type NeighEntry struct {
	IP        netip.Addr
	MAC       MAC
	Permanent bool
}
