package runc

import (
	"slices"
	"testing"

	"github.com/moby/moby/api/types/swarm"
)

func TestResources(t *testing.T) {
	swap := int64(0)
	res := resources(&swarm.ResourceRequirements{
		Limits:       &swarm.Limit{NanoCPUs: 1_500_000_000, MemoryBytes: 64 << 20, Pids: 42},
		Reservations: &swarm.Resources{MemoryBytes: 32 << 20},
		SwapBytes:    &swap,
	})
	if *res.CPU.Quota != 150000 || *res.CPU.Period != 100000 {
		t.Errorf("cpu quota %d period %d", *res.CPU.Quota, *res.CPU.Period)
	}
	if *res.Memory.Limit != 64<<20 || *res.Memory.Reservation != 32<<20 || *res.Memory.Swap != 64<<20 {
		t.Errorf("memory %+v", res.Memory)
	}
	if *res.Pids.Limit != 42 {
		t.Errorf("pids %d", *res.Pids.Limit)
	}
	if r := resources(nil); r.CPU != nil || r.Memory != nil || r.Pids != nil || len(r.Devices) != 1 {
		t.Errorf("no limits gave %+v", r)
	}
}

func TestCapabilities(t *testing.T) {
	caps, err := capabilities([]string{"net_admin"}, []string{"CAP_KILL", "chown"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(caps, "CAP_NET_ADMIN") || slices.Contains(caps, "CAP_KILL") || slices.Contains(caps, "CAP_CHOWN") {
		t.Errorf("caps %v", caps)
	}
	if caps, _ := capabilities([]string{"SYS_TIME"}, []string{"ALL"}); !slices.Equal(caps, []string{"CAP_SYS_TIME"}) {
		t.Errorf("drop all then add: %v", caps)
	}
}
