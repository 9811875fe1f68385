package agent

import (
	"testing"

	"github.com/shoal/shoal/clusterapi"
	"github.com/shoal/shoal/network/lb"
)

func TestBalanceModeDefaultsToAuto(t *testing.T) {
	for balance, want := range map[string]lb.Mode{
		"":                         lb.Auto,
		clusterapi.MeshBalanceAuto: lb.Auto,
		clusterapi.MeshBalanceHTTP: lb.HTTP,
		clusterapi.MeshBalanceTCP:  lb.TCP,
	} {
		if got := balanceMode(balance); got != want {
			t.Errorf("balanceMode(%q) = %v, want %v", balance, got, want)
		}
	}
}
