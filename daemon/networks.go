package daemon

import (
	"context"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/api"
)

// NetworkCreate makes an overlay network (managers only).
func (d *Daemon) NetworkCreate(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error) {
	m, err := d.manager()
	if err != nil {
		return network.CreateResponse{}, err
	}
	id, err := m.Control().CreateNetwork(ctx, req)
	return network.CreateResponse{ID: id}, err
}

// NetworkList lists the swarm's networks.
func (d *Daemon) NetworkList(ctx context.Context, f api.NetworkListFilters) ([]network.Summary, error) {
	m, err := d.manager()
	if err != nil {
		return nil, err
	}
	out := []network.Summary{}
	for _, n := range m.Store().Networks() {
		if networkMatches(n, f) {
			out = append(out, network.Summary{Network: dockerNetwork(n)})
		}
	}
	return out, nil
}

func networkMatches(n *swarm.Network, f api.NetworkListFilters) bool {
	kind := "custom"
	if n.Spec.Ingress {
		kind = "builtin"
	}
	return anyOf(f.ID, func(v string) bool { return strings.HasPrefix(n.ID, v) }) &&
		anyOf(f.Name, func(v string) bool { return strings.Contains(n.Spec.Name, v) }) &&
		anyOf(f.Driver, func(v string) bool { return v == "overlay" }) &&
		anyOf(f.Scope, func(v string) bool { return v == "swarm" }) &&
		anyOf(f.Type, func(v string) bool { return v == kind }) &&
		anyOf(f.Label, labelMatch(n.Spec.Labels))
}

// dockerNetwork shows a swarm network as Docker's network API does.
func dockerNetwork(n *swarm.Network) network.Network {
	out := network.Network{
		Name: n.Spec.Name, ID: n.ID, Created: n.CreatedAt, Scope: "swarm", Driver: "overlay",
		EnableIPv4: true, Internal: n.Spec.Internal, Attachable: n.Spec.Attachable, Ingress: n.Spec.Ingress,
		Options: map[string]string{}, Labels: n.Spec.Labels,
		IPAM: network.IPAM{Driver: "default", Options: map[string]string{}},
	}
	for k, v := range n.DriverState.Options {
		out.Options[k] = v
	}
	if n.Spec.DriverConfiguration != nil {
		for k, v := range n.Spec.DriverConfiguration.Options {
			out.Options[k] = v
		}
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if n.IPAMOptions != nil {
		for _, c := range n.IPAMOptions.Configs {
			out.IPAM.Config = append(out.IPAM.Config, network.IPAMConfig{Subnet: c.Subnet, Gateway: c.Gateway})
		}
	}
	return out
}

// NetworkInspect describes a network; verbose adds the services on it and their tasks.
func (d *Daemon) NetworkInspect(ctx context.Context, ref string, verbose bool) (network.Inspect, error) {
	m, err := d.manager()
	if err != nil {
		return network.Inspect{}, err
	}
	n, err := m.Control().ResolveNetwork(ref)
	if err != nil {
		return network.Inspect{}, err
	}
	out := network.Inspect{Network: dockerNetwork(n), Containers: map[string]network.EndpointResource{}}
	if !verbose {
		return out, nil
	}
	out.Services = map[string]network.ServiceInfo{}
	for _, s := range m.Store().Services() {
		if !usesNetwork(s, n) {
			continue
		}
		info := network.ServiceInfo{Ports: []string{}, Tasks: []network.Task{}}
		for _, vip := range s.Endpoint.VirtualIPs {
			if vip.NetworkID == n.ID && vip.Addr.IsValid() {
				info.VIP = vip.Addr.Addr()
			}
		}
		for _, t := range m.Store().TasksOfService(s.ID) {
			if t.DesiredState != swarm.TaskStateRunning {
				continue
			}
			task := network.Task{Name: taskName(t, s.Spec.Name) + "." + t.ID, EndpointID: t.ID, Info: map[string]string{"Host IP": ""}}
			for _, att := range t.NetworksAttachments {
				if att.Network.ID == n.ID && len(att.Addresses) > 0 {
					task.EndpointIP = att.Addresses[0].Addr()
				}
			}
			info.Tasks = append(info.Tasks, task)
		}
		out.Services[s.Spec.Name] = info
	}
	return out, nil
}

func usesNetwork(s *swarm.Service, n *swarm.Network) bool {
	for _, att := range s.Spec.TaskTemplate.Networks {
		if att.Target == n.ID || att.Target == n.Spec.Name {
			return true
		}
	}
	return false
}

// NetworkRemove removes a network nothing uses.
func (d *Daemon) NetworkRemove(ctx context.Context, ref string) error {
	m, err := d.manager()
	if err != nil {
		return err
	}
	return m.Control().RemoveNetwork(ctx, ref)
}
