// Package portspec reads a service's published ports as Docker means them: an empty
// protocol is tcp and an empty publish mode is ingress (the routing mesh).
package portspec

import (
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
)

// Protocol is the port's protocol, tcp when left out.
func Protocol(p swarm.PortConfig) network.IPProtocol {
	if p.Protocol == "" {
		return network.TCP
	}
	return p.Protocol
}

// HostPorts are the ports a service's tasks publish on their own node (mode=host).
func HostPorts(s *swarm.Service) []swarm.PortConfig {
	if s == nil || s.Spec.EndpointSpec == nil {
		return nil
	}
	var out []swarm.PortConfig
	for _, p := range s.Spec.EndpointSpec.Ports {
		if p.PublishMode == swarm.PortConfigPublishModeHost {
			out = append(out, p)
		}
	}
	return out
}

// Ingress reports whether the port is published through the routing mesh (on every
// node), which is what a port without a mode is.
func Ingress(p swarm.PortConfig) bool {
	return p.PublishMode == "" || p.PublishMode == swarm.PortConfigPublishModeIngress
}
