package cli

import (
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"
)

func TestInfoGolden(t *testing.T) {
	d := newClusterDaemon(t)
	assertGolden(t, "info", mustRun(t, d, "info"))
}

func TestInfoInactiveGolden(t *testing.T) {
	d := newClusterDaemon(t)
	d.info.Swarm = swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive}
	out := mustRun(t, d, "info")
	assertGolden(t, "info-inactive", out)
	if !strings.Contains(out, "\n Swarm: inactive\n Kernel Version:") {
		t.Errorf("want Swarm: inactive with no swarm details, got\n%s", out)
	}
}

func TestInfoFormat(t *testing.T) {
	d := newClusterDaemon(t)
	if out := mustRun(t, d, "info", "--format", "{{.Swarm.NodeID}} {{.Swarm.ControlAvailable}}"); out != idManager1+" true\n" {
		t.Errorf("output %q", out)
	}
	if out := mustRun(t, d, "info", "-f", "json"); !strings.HasPrefix(out, "{") || !strings.Contains(out, `"ClientInfo":{"Debug":false,"Version":"0.1.0-test"`) {
		t.Errorf("json output %q", out)
	}
}

// A template over client fields only works without asking the daemon.
func TestInfoClientOnlyFormatSkipsDaemon(t *testing.T) {
	d := newClusterDaemon(t)
	if out := mustRun(t, d, "info", "--format", "{{.ClientInfo.Version}}"); out != "0.1.0-test\n" {
		t.Errorf("output %q", out)
	}
	if r := d.all(); len(r) != 0 {
		t.Errorf("requests %v, want none", r)
	}
}

func TestVersionGolden(t *testing.T) {
	d := newClusterDaemon(t)
	assertGolden(t, "version", mustRun(t, d, "version"))
	if out := mustRun(t, d, "version", "--format", "{{.Server.Version}} {{.Client.APIVersion}}"); out != "0.1.0-test 1.56\n" {
		t.Errorf("--format output %q", out)
	}
}

// The daemon's version without components still shows an Engine section.
func TestVersionWithoutComponents(t *testing.T) {
	d := newClusterDaemon(t)
	d.version.Components = nil
	out := mustRun(t, d, "version")
	if !strings.Contains(out, "Server: Shoal\n Engine:\n  Version:          0.1.0-test\n  API version:      1.56 (minimum version 1.40)\n") {
		t.Errorf("output\n%s", out)
	}
}
