package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every swarm, node, info and version command has help, reached with --help, that says
// what it does and how to call it.
func TestEveryCommandHasHelp(t *testing.T) {
	root := NewRootCommand(&Globals{})
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		for _, sub := range c.Commands() {
			p := append(append([]string(nil), path...), sub.Name())
			switch p[0] {
			case "swarm", "node", "info", "version":
				paths = append(paths, p)
				walk(sub, p)
			}
		}
	}
	walk(root, nil)
	// swarm and its 8 commands, node and its 7, info, version.
	if len(paths) != 19 {
		t.Fatalf("found %d commands, want 19: %v", len(paths), paths)
	}
	for _, p := range paths {
		t.Run(strings.Join(p, "_"), func(t *testing.T) {
			d := newFakeDaemon(t)
			out, _, err := runShoal(t, d, append(p, "--help")...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "Usage:\n  shoal "+strings.Join(p, " ")) {
				t.Errorf("help lacks the usage line:\n%s", out)
			}
			if strings.Contains(out, "not implemented") || strings.Contains(out, "docker swarm") {
				t.Errorf("help mentions a placeholder or docker:\n%s", out)
			}
			if len(d.all()) != 0 {
				t.Errorf("--help talked to the daemon: %v", d.all())
			}
		})
	}
}

func TestGroupCommandPrintsHelpToStderr(t *testing.T) {
	d := newFakeDaemon(t)
	out, errOut, err := runShoal(t, d, "node")
	if err != nil || out != "" || !strings.Contains(errOut, "Manage Swarm nodes") {
		t.Errorf("out %q err %v stderr %q", out, err, errOut)
	}
}

func TestDefaultsInHelp(t *testing.T) {
	d := newFakeDaemon(t)
	out := mustRun(t, d, "swarm", "init", "--help")
	for _, want := range []string{
		"--listen-addr node-addr", `Listen address (format: "<ip|interface>[:port]") (default 0.0.0.0:2377)`,
		"--cert-expiry duration", "(default 2160h0m0s)",
		"--dispatcher-heartbeat duration", "(default 5s)",
		"--task-history-limit int", "(default 5)",
		"--default-addr-pool-mask-length uint32", "(default 24)",
		`--availability string`, `(default "active")`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("swarm init --help lacks %q:\n%s", want, out)
		}
	}
}
