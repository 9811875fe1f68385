package lab

import (
	"os"
	"slices"
	"testing"
)

func TestDaemonEnv(t *testing.T) {
	in := []string{"PATH=/usr/bin", "SHOAL_HOST=unix:///x.sock", "DOCKER_HOST=unix:///x.sock",
		"SHOAL_NODE_ADDR=172.16.0.2", "DOCKER_CONTEXT=lab", "HOME=/root", "SHOAL_HOSTNAME=kept"}
	want := []string{"PATH=/usr/bin", "HOME=/root", "SHOAL_HOSTNAME=kept"}
	if got := daemonEnv(in); !slices.Equal(got, want) {
		t.Errorf("daemonEnv = %q, want %q", got, want)
	}
	if in[1] != "SHOAL_HOST=unix:///x.sock" {
		t.Error("daemonEnv changed its argument")
	}
}

func TestProcStatOfSelf(t *testing.T) {
	state, start, err := procStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if state == 'Z' || start == 0 {
		t.Errorf("own state %q start %d", state, start)
	}
	if !alive(os.Getpid(), start) {
		t.Error("alive(self) = false")
	}
	if alive(os.Getpid(), start+1) {
		t.Error("alive with another start time = true: a reused pid would pass for the daemon")
	}
	if alive(0, 0) {
		t.Error("alive(0) = true")
	}
}
