package controlapi

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/internal/apierr"
	"github.com/shoal/shoal/internal/ids"
	"github.com/shoal/shoal/internal/portspec"
	"github.com/shoal/shoal/manager/allocator"
	"github.com/shoal/shoal/manager/store"
)

// VXLANIDOption is the driver option that records a network's VXLAN ID, as Docker's
// overlay driver names it.
const VXLANIDOption = "com.docker.network.driver.overlay.vxlanid_list"

// firstVNI is the first VXLAN ID handed out (Docker's overlay driver starts at 4097).
const firstVNI = 4097

// NewNetwork checks a create request and makes the network it asks for, with a subnet
// (given or from the pool) that overlaps no other network's and a VXLAN ID of its own.
// pool and size are the cluster's default address pool.
func NewNetwork(req network.CreateRequest, existing []*swarm.Network, pool []netip.Prefix, size uint32) (*swarm.Network, error) {
	if req.Name == "" {
		return nil, apierr.Invalidf("a network needs a name")
	}
	if len(req.Name) > 63 || !serviceNameRE.MatchString(req.Name) {
		return nil, apierr.Invalidf("invalid network name %q: must be 1-63 characters of letters, digits, '_', '.', '-', starting and ending with a letter or digit", req.Name)
	}
	switch req.Driver {
	case "", "overlay":
	default:
		return nil, apierr.Invalidf("only the overlay driver is supported in a swarm (got %s)", req.Driver)
	}
	switch req.Scope {
	case "", "swarm":
	default:
		return nil, apierr.Invalidf("invalid scope %q: overlay networks are swarm-scoped", req.Scope)
	}
	if req.ConfigOnly || req.ConfigFrom != nil {
		return nil, apierr.NotImplementedf("config-only networks are not implemented yet")
	}
	if req.EnableIPv6 != nil && *req.EnableIPv6 {
		return nil, apierr.NotImplementedf("IPv6 overlay networks are not implemented yet")
	}
	for _, n := range existing {
		if n.Spec.Name == req.Name {
			return nil, apierr.Conflictf("network with name %s already exists", req.Name)
		}
		if req.Ingress && n.Spec.Ingress {
			return nil, apierr.Forbiddenf("an ingress network (%s) already exists; remove it first", n.Spec.Name)
		}
	}
	var subnet, gateway string
	if req.IPAM != nil {
		if len(req.IPAM.Config) > 1 {
			return nil, apierr.Invalidf("only one IPAM configuration (one IPv4 subnet) per network is supported")
		}
		if len(req.IPAM.Config) == 1 {
			c := req.IPAM.Config[0]
			if c.IPRange.IsValid() {
				return nil, apierr.NotImplementedf("--ip-range is not implemented yet")
			}
			if c.Subnet.IsValid() {
				subnet = c.Subnet.String()
			}
			if c.Gateway.IsValid() {
				gateway = c.Gateway.String()
			}
		}
	}
	alloc, err := allocator.New(allocator.Config{DefaultAddrPool: pool, SubnetSize: size})
	if err != nil {
		return nil, apierr.Invalidf("%v", err)
	}
	usedVNI := map[int]bool{}
	for _, n := range existing {
		if err := addExisting(alloc, n); err != nil {
			return nil, err
		}
		if v, err := strconv.Atoi(n.DriverState.Options[VXLANIDOption]); err == nil {
			usedVNI[v] = true
		}
	}
	id := ids.New()
	nreq := allocator.NetworkRequest{ID: id, Name: req.Name}
	if subnet != "" || gateway != "" {
		if subnet == "" {
			return nil, apierr.Invalidf("--gateway needs --subnet")
		}
		if nreq.Subnet, nreq.Gateway, err = allocator.ParseSubnet(subnet, gateway); err != nil {
			return nil, allocErr(err)
		}
	}
	got, err := alloc.AddNetwork(nreq)
	if err != nil {
		return nil, allocErr(err)
	}
	vni := firstVNI
	for usedVNI[vni] {
		vni++
	}
	ipam := &swarm.IPAMOptions{
		Driver:  swarm.Driver{Name: "default"},
		Configs: []swarm.IPAMConfig{{Subnet: got.Subnet, Gateway: got.Gateway}},
	}
	labels := req.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return &swarm.Network{
		ID: id,
		Spec: swarm.NetworkSpec{
			Annotations:         swarm.Annotations{Name: req.Name, Labels: labels},
			DriverConfiguration: &swarm.Driver{Name: "overlay", Options: req.Options},
			Internal:            req.Internal,
			Attachable:          req.Attachable,
			Ingress:             req.Ingress,
			IPAMOptions:         ipam,
			Scope:               "swarm",
		},
		DriverState: swarm.Driver{Name: "overlay", Options: map[string]string{VXLANIDOption: strconv.Itoa(vni)}},
		IPAMOptions: ipam,
	}, nil
}

// NetworkSubnet is a network's (only) IPv4 subnet and gateway; zero values before the
// network has any.
func NetworkSubnet(n *swarm.Network) (netip.Prefix, netip.Addr) {
	if n.IPAMOptions == nil || len(n.IPAMOptions.Configs) == 0 {
		return netip.Prefix{}, netip.Addr{}
	}
	return n.IPAMOptions.Configs[0].Subnet, n.IPAMOptions.Configs[0].Gateway
}

// AllocatorRequest is how the allocator knows an existing network.
func AllocatorRequest(n *swarm.Network) allocator.NetworkRequest {
	req := allocator.NetworkRequest{ID: n.ID, Name: n.Spec.Name}
	req.Subnet, req.Gateway = NetworkSubnet(n)
	return req
}

func addExisting(a *allocator.Allocator, n *swarm.Network) error {
	if _, err := a.AddNetwork(AllocatorRequest(n)); err != nil {
		return fmt.Errorf("the swarm's networks are inconsistent: %w", err)
	}
	return nil
}

// allocErr maps the allocator's error kinds onto API errors.
func allocErr(err error) error {
	switch {
	case errors.Is(err, allocator.ErrInvalid):
		return apierr.Invalidf("%v", err)
	case errors.Is(err, allocator.ErrConflict):
		return apierr.Conflictf("%v", err)
	case errors.Is(err, allocator.ErrExhausted):
		return apierr.Unavailablef("%v", err)
	}
	return err
}

// CreateNetwork makes an overlay network.
func (a *API) CreateNetwork(ctx context.Context, req network.CreateRequest) (string, error) {
	c, err := a.store.Cluster()
	if err != nil {
		return "", err
	}
	n, err := NewNetwork(req, a.store.Networks(), c.DefaultAddrPool, c.SubnetSize)
	if err != nil {
		return "", err
	}
	if err := a.store.Write(ctx, store.Action{Op: store.OpCreate, Network: n}); err != nil {
		return "", err
	}
	return n.ID, nil
}

// RemoveNetwork removes a network no service or task uses, or says who uses it.
func (a *API) RemoveNetwork(ctx context.Context, ref string) error {
	n, err := a.ResolveNetwork(ref)
	if err != nil {
		return err
	}
	for _, s := range a.store.Services() {
		for _, att := range s.Spec.TaskTemplate.Networks {
			if att.Target == n.ID || att.Target == n.Spec.Name {
				return apierr.Forbiddenf("network %s is in use by service %s: remove the service or its network (service update --network-rm) first", n.Spec.Name, s.Spec.Name)
			}
		}
		if n.Spec.Ingress && s.Endpoint.Spec.Ports != nil {
			for _, p := range s.Endpoint.Spec.Ports {
				if portspec.Ingress(p) {
					return apierr.Forbiddenf("the ingress network is in use by service %s, which publishes ports through the routing mesh", s.Spec.Name)
				}
			}
		}
	}
	for _, t := range a.store.Tasks() {
		for _, att := range t.NetworksAttachments {
			if att.Network.ID == n.ID && t.DesiredState != swarm.TaskStateRemove {
				return apierr.Forbiddenf("network %s is in use by task %s", n.Spec.Name, t.ID)
			}
		}
	}
	return a.store.Write(ctx, store.Action{Op: store.OpDelete, Network: n})
}
