package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal/shoal/lab"
)

// TestDaemonRestartReadoptsContainers: a worker's daemon is killed and started again
// while its containers keep running; the new daemon adopts them: the same tasks run, none
// is started twice, and no container is left over.
func TestDaemonRestartReadoptsContainers(t *testing.T) {
	l := startLab(t, lab.Options{Name: "e2ereadopt", Managers: 1, Workers: 1, DispatcherHeartbeat: 2 * time.Second})
	images := sampleImages(t)
	for _, n := range l.Nodes() {
		mustRun(t, l, n.Name, "image", "load", "-q", "-i", filepath.Join(images, "sleepy-1.docker.tar"))
	}
	mustRun(t, l, "manager-1", "service", "create", "-d", "--name", "web", "--replicas", "2",
		"--constraint", "node.hostname==worker-1", "sleepy:1")
	running := func() (string, error) {
		out := mustRun(t, l, "manager-1", "service", "ps", "web", "--filter", "desired-state=running", "--format", "{{.ID}} {{.CurrentState}}", "--no-trunc")
		var ids []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 || f[1] != "Running" {
				return "", fmt.Errorf("not all running: %q", out)
			}
			ids = append(ids, f[0])
		}
		if len(ids) != 2 {
			return "", fmt.Errorf("running tasks %v, want 2", ids)
		}
		return strings.Join(ids, ","), nil
	}
	var before string
	eventually(t, 60*time.Second, "2 tasks running on worker-1", func() (err error) {
		before, err = running()
		return err
	})
	bundles := filepath.Join(node(t, l, "worker-1").DataRoot, "containers", "containers")
	countBundles := func() int {
		entries, _ := os.ReadDir(bundles)
		return len(entries)
	}
	if n := countBundles(); n != 2 {
		t.Fatalf("worker-1 has %d containers, want 2", n)
	}

	if err := l.Stop("worker-1", lab.StopOptions{DaemonOnly: true}); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(t.Context(), "worker-1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(8 * time.Second) // several heartbeats with the new daemon
	after, err := running()
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("tasks after the restart %s, want the same as before %s", after, before)
	}
	if n := countBundles(); n != 2 {
		t.Fatalf("worker-1 has %d containers after the restart, want the same 2", n)
	}
}
