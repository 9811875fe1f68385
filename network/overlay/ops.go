package overlay

import (
	"errors"
	"fmt"
	"net/netip"
)

// Op is one change to the kernel, as Plan decides it. Every Op concerns one network's
// sandbox, named by its VNI. Ops are plain data: tests compare them, Kernels run them.
type Op interface {
	fmt.Stringer
	vni() uint32
	// foundational ops are those the rest of a network's ops need: when one fails,
	// Apply skips that network's later ops.
	foundational() bool
}

// EndpointConfig is a local endpoint as the kernel needs it.
type EndpointConfig struct {
	Veth      string       // sandbox end, sve<hex IP>
	TaskID    string       // recorded in the veth's alias
	IfName    string       // task end, inside NetnsPath
	NetnsPath string       // the task's namespace
	Addr      netip.Prefix // the task's IP with the subnet's length
	MAC       MAC          // of the task end
	MTU       int          // of both ends
}

// CreateSandbox creates the network's namespace.
type CreateSandbox struct{ VNI uint32 }

// DeleteNetwork removes the network's namespace and everything in it: bridge, VXLAN
// device, entries, and the task veths (with their ends inside the tasks).
type DeleteNetwork struct{ VNI uint32 }

// CreateBridge creates and brings up the network's bridge.
type CreateBridge struct {
	VNI       uint32
	NetworkID string
	MTU       int
}

// CreateVXLAN creates the network's VXLAN device on the underlay, in the sandbox, as a port
// of the bridge, and brings it up.
type CreateVXLAN struct {
	VNI   uint32
	Local netip.Addr
	MTU   int
}

// DeleteLink deletes one link of the sandbox; deleting a veth removes its task end too.
type DeleteLink struct {
	VNI  uint32
	Name string
}

// SetMTU sets the MTU of the bridge or the VXLAN device.
type SetMTU struct {
	VNI  uint32
	Name string
	MTU  int
}

// AddAddress puts an address on the bridge.
type AddAddress struct {
	VNI  uint32
	Addr netip.Prefix
}

// DeleteAddress removes an address from the bridge.
type DeleteAddress struct {
	VNI  uint32
	Addr netip.Prefix
}

// AddEndpoint connects a local task: a veth from the bridge to its namespace.
type AddEndpoint struct {
	VNI      uint32
	Endpoint EndpointConfig
}

// SetEndpointMTU sets the MTU of both ends of a task's veth.
type SetEndpointMTU struct {
	VNI      uint32
	Endpoint EndpointConfig
}

// AddFDB adds (or replaces) the VXLAN entry sending MAC to VTEP.
type AddFDB struct {
	VNI uint32
	FDBEntry
}

// DeleteFDB removes one VXLAN entry.
type DeleteFDB struct {
	VNI uint32
	FDBEntry
}

// AddBridgeFDB adds the static bridge entry sending MAC to the VXLAN port.
type AddBridgeFDB struct {
	VNI uint32
	MAC MAC
}

// DeleteBridgeFDB removes the bridge's entry for MAC on the VXLAN port.
type DeleteBridgeFDB struct {
	VNI uint32
	MAC MAC
}

// AddNeigh adds (or replaces) the permanent neighbour entry IP → MAC on the VXLAN device.
type AddNeigh struct {
	VNI uint32
	IP  netip.Addr
	MAC MAC
}

// DeleteNeigh removes the neighbour entry for IP on the VXLAN device.
type DeleteNeigh struct {
	VNI uint32
	IP  netip.Addr
}

func (o CreateSandbox) vni() uint32   { return o.VNI }
func (o DeleteNetwork) vni() uint32   { return o.VNI }
func (o CreateBridge) vni() uint32    { return o.VNI }
func (o CreateVXLAN) vni() uint32     { return o.VNI }
func (o DeleteLink) vni() uint32      { return o.VNI }
func (o SetMTU) vni() uint32          { return o.VNI }
func (o AddAddress) vni() uint32      { return o.VNI }
func (o DeleteAddress) vni() uint32   { return o.VNI }
func (o AddEndpoint) vni() uint32     { return o.VNI }
func (o SetEndpointMTU) vni() uint32  { return o.VNI }
func (o AddFDB) vni() uint32          { return o.VNI }
func (o DeleteFDB) vni() uint32       { return o.VNI }
func (o AddBridgeFDB) vni() uint32    { return o.VNI }
func (o DeleteBridgeFDB) vni() uint32 { return o.VNI }
func (o AddNeigh) vni() uint32        { return o.VNI }
func (o DeleteNeigh) vni() uint32     { return o.VNI }

func (CreateSandbox) foundational() bool   { return true }
func (DeleteNetwork) foundational() bool   { return true }
func (CreateBridge) foundational() bool    { return true }
func (CreateVXLAN) foundational() bool     { return false }
func (DeleteLink) foundational() bool      { return false }
func (SetMTU) foundational() bool          { return false }
func (AddAddress) foundational() bool      { return false }
func (DeleteAddress) foundational() bool   { return false }
func (AddEndpoint) foundational() bool     { return false }
func (SetEndpointMTU) foundational() bool  { return false }
func (AddFDB) foundational() bool          { return false }
func (DeleteFDB) foundational() bool       { return false }
func (AddBridgeFDB) foundational() bool    { return false }
func (DeleteBridgeFDB) foundational() bool { return false }
func (AddNeigh) foundational() bool        { return false }
func (DeleteNeigh) foundational() bool     { return false }

func (o CreateSandbox) String() string { return fmt.Sprintf("vni %d: create sandbox", o.VNI) }
func (o DeleteNetwork) String() string { return fmt.Sprintf("vni %d: delete network", o.VNI) }
func (o CreateBridge) String() string {
	return fmt.Sprintf("vni %d: create bridge %s network=%s mtu %d", o.VNI, bridgeName(o.VNI), o.NetworkID, o.MTU)
}
func (o CreateVXLAN) String() string {
	return fmt.Sprintf("vni %d: create vxlan %s local %s mtu %d", o.VNI, vxlanName(o.VNI), o.Local, o.MTU)
}
func (o DeleteLink) String() string { return fmt.Sprintf("vni %d: delete link %s", o.VNI, o.Name) }
func (o SetMTU) String() string     { return fmt.Sprintf("vni %d: set %s mtu %d", o.VNI, o.Name, o.MTU) }
func (o AddAddress) String() string {
	return fmt.Sprintf("vni %d: add address %s to %s", o.VNI, o.Addr, bridgeName(o.VNI))
}
func (o DeleteAddress) String() string {
	return fmt.Sprintf("vni %d: delete address %s from %s", o.VNI, o.Addr, bridgeName(o.VNI))
}
func (o AddEndpoint) String() string {
	e := o.Endpoint
	return fmt.Sprintf("vni %d: add endpoint %s task=%s %s@%s %s %s mtu %d", o.VNI, e.Veth, e.TaskID, e.IfName, e.NetnsPath, e.Addr, e.MAC, e.MTU)
}
func (o SetEndpointMTU) String() string {
	return fmt.Sprintf("vni %d: set endpoint %s mtu %d", o.VNI, o.Endpoint.Veth, o.Endpoint.MTU)
}
func (o AddFDB) String() string {
	return fmt.Sprintf("vni %d: add fdb %s dst %s", o.VNI, o.MAC, o.VTEP)
}
func (o DeleteFDB) String() string {
	return fmt.Sprintf("vni %d: delete fdb %s dst %s", o.VNI, o.MAC, o.VTEP)
}
func (o AddBridgeFDB) String() string {
	return fmt.Sprintf("vni %d: add bridge fdb %s port %s", o.VNI, o.MAC, vxlanName(o.VNI))
}
func (o DeleteBridgeFDB) String() string {
	return fmt.Sprintf("vni %d: delete bridge fdb %s port %s", o.VNI, o.MAC, vxlanName(o.VNI))
}
func (o AddNeigh) String() string {
	return fmt.Sprintf("vni %d: add neigh %s lladdr %s", o.VNI, o.IP, o.MAC)
}
func (o DeleteNeigh) String() string { return fmt.Sprintf("vni %d: delete neigh %s", o.VNI, o.IP) }

// Kernel is what the data plane needs from the machine: read our state, run one op. Netlink
// is the real one; tests use a model. Implementations treat deleting something already
// gone as done.
type Kernel interface {
	Observe(underlay netip.Addr) (Observed, error)
	Apply(op Op) error
}

// Apply runs ops in order and returns every failure. A failure does not stop other
// networks' ops; after a foundational op fails, the rest of that network's ops are skipped
// (they would fail too), and the next Reconcile tries again.
func Apply(k Kernel, ops []Op) error {
	var errs []error
	broken := map[uint32]bool{}
	for _, op := range ops {
		if broken[op.vni()] {
			continue
		}
		if err := k.Apply(op); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", op, err))
			if op.foundational() {
				broken[op.vni()] = true
			}
		}
	}
	return errors.Join(errs...)
}

// Reconcile makes the kernel match d: validate, observe, plan, apply. It returns the ops it
// ran. Callers serialise calls for one node; Reconcile(k, Desired{}) removes every network.
func Reconcile(k Kernel, d Desired) ([]Op, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("invalid desired overlay state: %w", err)
	}
	observed, err := k.Observe(d.UnderlayIP)
	if err != nil {
		return nil, fmt.Errorf("observe overlay state: %w", err)
	}
	ops := Plan(d, observed)
	return ops, Apply(k, ops)
}
