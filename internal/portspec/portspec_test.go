package portspec

import (
	"testing"

	"github.com/moby/moby/api/types/swarm"
)

func TestHostPorts(t *testing.T) {
	s := &swarm.Service{Spec: swarm.ServiceSpec{EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{
		{TargetPort: 80, PublishedPort: 8080},
		{TargetPort: 81, PublishedPort: 8081, PublishMode: swarm.PortConfigPublishModeHost},
	}}}}
	if got := HostPorts(s); len(got) != 1 || got[0].TargetPort != 81 {
		t.Errorf("HostPorts = %v, want the mode=host port only", got)
	}
	if HostPorts(nil) != nil || HostPorts(&swarm.Service{}) != nil {
		t.Error("a service without ports publishes some")
	}
}

func TestDefaults(t *testing.T) {
	if Protocol(swarm.PortConfig{}) != "tcp" || Protocol(swarm.PortConfig{Protocol: "udp"}) != "udp" {
		t.Error("an empty protocol is not tcp, or a given one is not kept")
	}
	if !Ingress(swarm.PortConfig{}) || !Ingress(swarm.PortConfig{PublishMode: swarm.PortConfigPublishModeIngress}) || Ingress(swarm.PortConfig{PublishMode: swarm.PortConfigPublishModeHost}) {
		t.Error("an empty mode is not ingress, or host counts as ingress")
	}
}
