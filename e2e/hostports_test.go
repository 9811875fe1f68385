package e2e

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal/shoal/lab"
)

// TestHostModePorts: a port published with mode=host answers only on the nodes running a
// task of the service, one task per node and port; a third replica has nowhere to go;
// the task's status lists the port; removing the service closes it.
func TestHostModePorts(t *testing.T) {
	l := startLab(t, lab.Options{Name: "e2ehostport", Managers: 1, Workers: 2})
	images := sampleImages(t)
	for _, n := range l.Nodes() {
		mustRun(t, l, n.Name, "image", "load", "-q", "-i", filepath.Join(images, "sleepy-1.docker.tar"))
	}
	mustRun(t, l, "manager-1", "service", "create", "-d", "--name", "hostweb", "--replicas", "2",
		"--constraint", "node.role==worker", "--publish", "mode=host,published=8081,target=8080", "sleepy:1")

	getPort := func(n, port string) (string, error) {
		return httpGet("http://" + net.JoinHostPort(node(t, l, n).Addr.String(), port) + "/")
	}
	get := func(n string) (string, error) { return getPort(n, "8081") }
	eventually(t, 60*time.Second, "hostweb answering on both workers' port 8081", func() error {
		for _, n := range []string{"worker-1", "worker-2"} {
			if _, err := get(n); err != nil {
				return fmt.Errorf("%s: %v", n, err)
			}
		}
		return nil
	})
	if body, err := get("manager-1"); err == nil {
		t.Errorf("the manager runs no hostweb task but answered on 8081: %q", body)
	}

	ports := mustRun(t, l, "manager-1", "service", "ps", "hostweb", "--format", "{{.Ports}}")
	if got := strings.Fields(ports); len(got) != 2 || got[0] != "*:8081->8080/tcp" || got[1] != got[0] {
		t.Errorf("service ps ports = %q, want *:8081->8080/tcp for each task", ports)
	}

	// Changing the published port moves what each task serves, without a restart.
	mustRun(t, l, "manager-1", "service", "update", "-d", "--publish-rm", "mode=host,target=8080", "--publish-add", "mode=host,published=8083,target=8080", "hostweb")
	eventually(t, 30*time.Second, "hostweb on 8083 and no longer on 8081", func() error {
		for _, n := range []string{"worker-1", "worker-2"} {
			if _, err := getPort(n, "8083"); err != nil {
				return fmt.Errorf("%s:8083: %v", n, err)
			}
			if body, err := getPort(n, "8081"); err == nil {
				return fmt.Errorf("%s still answers on 8081: %q", n, body)
			}
		}
		if ports := mustRun(t, l, "manager-1", "service", "ps", "hostweb", "--format", "{{.Ports}}"); strings.Count(ports, "*:8083->8080/tcp") != 2 {
			return fmt.Errorf("service ps ports = %q", ports)
		}
		return nil
	})
	mustRun(t, l, "manager-1", "service", "update", "-d", "--publish-rm", "mode=host,target=8080", "--publish-add", "mode=host,published=8081,target=8080", "hostweb")
	eventually(t, 30*time.Second, "hostweb back on 8081", func() error {
		for _, n := range []string{"worker-1", "worker-2"} {
			if _, err := get(n); err != nil {
				return fmt.Errorf("%s:8081: %v", n, err)
			}
		}
		return nil
	})

	// Both workers hold the port: a third task cannot be placed.
	mustRun(t, l, "manager-1", "service", "scale", "-d", "hostweb=3")
	eventually(t, 30*time.Second, "the third task pending for lack of a free host port", func() error {
		out := mustRun(t, l, "manager-1", "service", "ps", "hostweb", "--filter", "desired-state=running", "--format", "{{.CurrentState}}|{{.Error}}", "--no-trunc")
		if !strings.Contains(out, "Pending") || !strings.Contains(strings.ToLower(out), "port") {
			return fmt.Errorf("tasks: %s", out)
		}
		return nil
	})

	mustRun(t, l, "manager-1", "service", "rm", "hostweb")
	eventually(t, 30*time.Second, "port 8081 closed on every worker", func() error {
		for _, n := range []string{"worker-1", "worker-2"} {
			if body, err := get(n); err == nil {
				return fmt.Errorf("%s still answers: %q", n, body)
			}
		}
		return nil
	})
}
