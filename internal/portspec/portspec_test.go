package portspec

import (
	"testing"

	"github.com/moby/moby/api/types/swarm"
)

func TestDefaults(t *testing.T) {
	if Protocol(swarm.PortConfig{}) != "tcp" || Protocol(swarm.PortConfig{Protocol: "udp"}) != "udp" {
		t.Error("an empty protocol is not tcp, or a given one is not kept")
	}
	if !Ingress(swarm.PortConfig{}) || !Ingress(swarm.PortConfig{PublishMode: swarm.PortConfigPublishModeIngress}) || Ingress(swarm.PortConfig{PublishMode: swarm.PortConfigPublishModeHost}) {
		t.Error("an empty mode is not ingress, or host counts as ingress")
	}
}
