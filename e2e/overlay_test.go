package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal/shoal/lab"
)

// TestOverlayAcrossNodes: tasks on different nodes reach each other over an overlay
// network (VXLAN between the lab's hosts); a 1 MB response crosses intact; removing the
// services and the network leaves no namespace or device of ours.
func TestOverlayAcrossNodes(t *testing.T) {
	l := startLab(t, lab.Options{Name: "e2eoverlay", Managers: 1, Workers: 2})
	images := sampleImages(t)
	root := filepath.Dir(images)
	busybox := filepath.Join(images, "busybox.docker.tar")
	if _, err := os.Stat(busybox); err != nil {
		cmd := exec.Command("make", "busybox-image")
		cmd.Dir = filepath.Dir(root)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make busybox-image: %v\n%s", err, out)
		}
	}
	for _, n := range []string{"manager-1", "worker-1", "worker-2"} {
		mustRun(t, l, n, "image", "load", "-q", "-i", filepath.Join(images, "sleepy-1.docker.tar"))
		mustRun(t, l, n, "image", "load", "-q", "-i", busybox)
	}
	mustRun(t, l, "manager-1", "network", "create", "-d", "overlay", "webnet")
	mustRun(t, l, "manager-1", "service", "create", "-d", "--name", "web", "--replicas", "2",
		"--constraint", "node.role==worker", "--replicas-max-per-node", "1", "--network", "webnet", "sleepy:1")
	mustRun(t, l, "manager-1", "service", "create", "-d", "--name", "shell",
		"--constraint", "node.role==manager", "--network", "webnet", "busybox", "sleep", "1000000")

	// The shell runs on the manager, the web tasks on the two workers.
	var shellNS string
	var webIPs []string
	eventually(t, 60*time.Second, "both services running with addresses on webnet", func() error {
		ps := mustRun(t, l, "manager-1", "service", "ps", "shell", "--filter", "desired-state=running", "--format", "{{.ID}} {{.CurrentState}}", "--no-trunc")
		f := strings.Fields(ps)
		if len(f) < 2 || f[1] != "Running" {
			return fmt.Errorf("shell not running yet: %q", ps)
		}
		shellNS = node(t, l, "manager-1").Netns + ".t" + f[0][:12]
		out := mustRun(t, l, "manager-1", "network", "inspect", "-v", "webnet", "--format", "{{range .Services.web.Tasks}}{{.EndpointIP}} {{end}}")
		webIPs = strings.Fields(out)
		if len(webIPs) != 2 {
			return fmt.Errorf("web task addresses = %q, want 2", out)
		}
		running := mustRun(t, l, "manager-1", "service", "ls", "--filter", "name=web", "--format", "{{.Replicas}}")
		if !strings.HasPrefix(strings.TrimSpace(running), "2/2") {
			return fmt.Errorf("web replicas %s", running)
		}
		return nil
	})
	for _, ip := range webIPs {
		var body string
		eventually(t, 20*time.Second, "web task "+ip+" answers over the overlay", func() error {
			out, err := exec.Command("ip", "netns", "exec", shellNS, "/bin/busybox", "wget", "-qO-", "http://"+ip+":8080/").CombinedOutput()
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			body = string(out)
			return nil
		})
		if len(strings.Split(strings.TrimSpace(body), ",")) != 2 {
			t.Fatalf("answer from %s = %q, want two times", ip, body)
		}
	}
	// Service discovery from the task's own resolver (127.0.0.11 in its namespace): the
	// service name gives its VIP, tasks.web the task addresses.
	vip := strings.TrimSpace(mustRun(t, l, "manager-1", "network", "inspect", "-v", "webnet", "--format", "{{.Services.web.VIP}}"))
	lookup := func(name string) string {
		out, err := exec.Command("ip", "netns", "exec", shellNS, "/bin/busybox", "nslookup", name, "127.0.0.11").CombinedOutput()
		if err != nil {
			t.Fatalf("nslookup %s: %v\n%s", name, err, out)
		}
		return string(out)
	}
	if out := lookup("web"); !strings.Contains(out, "Address: "+vip) || strings.Contains(out, webIPs[0]) {
		t.Fatalf("nslookup web = %s\nwant only the VIP %s", out, vip)
	}
	if out := lookup("tasks.web"); !strings.Contains(out, webIPs[0]) || !strings.Contains(out, webIPs[1]) {
		t.Fatalf("nslookup tasks.web = %s\nwant %v", out, webIPs)
	}

	// Connections to the VIP are spread over the running tasks.
	hosts := map[string]bool{}
	for i := 0; i < 20; i++ {
		out, err := exec.Command("ip", "netns", "exec", shellNS, "/bin/busybox", "wget", "-S", "-O", "/dev/null", "http://"+vip+":8080/").CombinedOutput()
		if err != nil {
			t.Fatalf("wget through the VIP %s: %v\n%s", vip, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if h, ok := strings.CutPrefix(strings.TrimSpace(line), "X-Sleepy-Host: "); ok {
				hosts[h] = true
			}
		}
	}
	if len(hosts) != 2 {
		t.Fatalf("the VIP reached tasks %v over 20 connections, want both", hosts)
	}

	big, err := exec.Command("ip", "netns", "exec", shellNS, "/bin/busybox", "wget", "-qO-", "http://"+webIPs[0]+":8080/bytes?n=1048576").Output()
	if err != nil {
		t.Fatalf("1 MB across nodes: %v", err)
	}
	if len(big) != 1<<20 {
		t.Fatalf("1 MB across nodes arrived as %d bytes", len(big))
	}
	for i, b := range big {
		if b != "abcdefghijklmnopqrstuvwxyz"[i%26] {
			t.Fatalf("1 MB across nodes corrupted at byte %d", i)
		}
	}

	mustRun(t, l, "manager-1", "service", "rm", "web", "shell")
	eventually(t, 30*time.Second, "network rm once the tasks are gone", func() error {
		_, errOut, err := run(t, l, "manager-1", "network", "rm", "webnet")
		if err != nil {
			return fmt.Errorf("%v: %s", err, errOut)
		}
		return nil
	})
	eventually(t, 30*time.Second, "no task or overlay namespace left on any node", func() error {
		entries, _ := os.ReadDir("/run/netns")
		for _, e := range entries {
			for _, n := range l.Nodes() {
				if strings.HasPrefix(e.Name(), n.Netns+".") {
					return fmt.Errorf("namespace %s is still there", e.Name())
				}
			}
		}
		return nil
	})
}
