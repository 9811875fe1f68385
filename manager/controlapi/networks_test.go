package controlapi

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
)

func TestNewNetwork(t *testing.T) {
	ingress, err := NewNetwork(network.CreateRequest{Name: "ingress", Ingress: true}, nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := ingress.IPAMOptions.Configs[0].Subnet.String(); got != "10.0.0.0/24" {
		t.Fatalf("ingress subnet = %s, want the pool's first /24", got)
	}
	existing := []*swarm.Network{ingress}
	web, err := NewNetwork(network.CreateRequest{Name: "webnet", Driver: "overlay"}, existing, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := web.IPAMOptions.Configs[0].Subnet.String(); got != "10.0.1.0/24" {
		t.Fatalf("webnet subnet = %s, want 10.0.1.0/24", got)
	}
	if web.DriverState.Options[VXLANIDOption] == ingress.DriverState.Options[VXLANIDOption] {
		t.Fatal("two networks share a VXLAN ID")
	}
	existing = append(existing, web)
	tests := []struct {
		name string
		req  network.CreateRequest
		want string
	}{
		{"duplicate name", network.CreateRequest{Name: "webnet"}, "already exists"},
		{"bridge driver", network.CreateRequest{Name: "x", Driver: "bridge"}, "only the overlay driver"},
		{"second ingress", network.CreateRequest{Name: "x", Ingress: true}, "ingress network (ingress) already exists"},
		{"overlapping subnet", network.CreateRequest{Name: "x", IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: netip.MustParsePrefix("10.0.1.0/24")}}}}, "overlaps"},
		{"gateway outside", network.CreateRequest{Name: "x", IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: netip.MustParsePrefix("192.168.50.0/24"), Gateway: netip.MustParseAddr("192.168.51.1")}}}}, "gateway"},
		{"no name", network.CreateRequest{}, "needs a name"},
	}
	for _, tc := range tests {
		if _, err := NewNetwork(tc.req, existing, nil, 0); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	custom, err := NewNetwork(network.CreateRequest{Name: "custom", IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: netip.MustParsePrefix("192.168.50.0/24"), Gateway: netip.MustParseAddr("192.168.50.254")}}}}, existing, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c := custom.IPAMOptions.Configs[0]; c.Subnet.String() != "192.168.50.0/24" || c.Gateway.String() != "192.168.50.254" {
		t.Fatalf("custom IPAM = %+v", c)
	}
}
