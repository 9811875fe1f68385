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
		"--constraint", "node.role==worker", "--replicas-max-per-node", "1", "--network", "webnet", "-p", "8080:8080", "sleepy:1")
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
		if !sleepyAnswered(body) {
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

	// The routing mesh: the published port answers at every node's address, also on the
	// manager, which runs no web task.
	for _, n := range l.Nodes() {
		url := "http://" + n.Addr.String() + ":8080/"
		eventually(t, 20*time.Second, "the mesh answering at "+n.Name, func() error {
			body, err := httpGet(url)
			if err != nil || !sleepyAnswered(body) {
				return fmt.Errorf("%s answered %q, %v", url, body, err)
			}
			return nil
		})
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

	// Changing the networks of a live service changes what resolves: web joins backnet,
	// where a second shell finds it, then leaves webnet, where the first one no longer does.
	mustRun(t, l, "manager-1", "network", "create", "-d", "overlay", "backnet")
	mustRun(t, l, "manager-1", "service", "create", "-d", "--name", "shell2",
		"--constraint", "node.role==manager", "--network", "backnet", "busybox", "sleep", "1000000")
	mustRun(t, l, "manager-1", "service", "update", "-d", "--network-add", "backnet", "web")
	var shell2NS string
	eventually(t, 60*time.Second, "web resolvable from backnet", func() error {
		ps := mustRun(t, l, "manager-1", "service", "ps", "shell2", "--filter", "desired-state=running", "--format", "{{.ID}} {{.CurrentState}}", "--no-trunc")
		f := strings.Fields(ps)
		if len(f) < 2 || f[1] != "Running" {
			return fmt.Errorf("shell2 not running yet: %q", ps)
		}
		shell2NS = node(t, l, "manager-1").Netns + ".t" + f[0][:12]
		out, err := exec.Command("ip", "netns", "exec", shell2NS, "/bin/busybox", "nslookup", "tasks.web", "127.0.0.11").CombinedOutput()
		if err != nil || strings.Count(string(out), "Address: 10.") < 2 {
			return fmt.Errorf("nslookup tasks.web from backnet: %v %s", err, out)
		}
		return nil
	})
	mustRun(t, l, "manager-1", "service", "update", "-d", "--network-rm", "webnet", "web")
	eventually(t, 60*time.Second, "web gone from webnet", func() error {
		out, _ := exec.Command("ip", "netns", "exec", shellNS, "/bin/busybox", "nslookup", "web", "127.0.0.11").CombinedOutput()
		if strings.Contains(string(out), "Address: "+vip) {
			return fmt.Errorf("web still resolves on webnet: %s", out)
		}
		return nil
	})

	vni := strings.TrimSpace(mustRun(t, l, "manager-1", "network", "inspect", "webnet", "--format", `{{index .Options "com.docker.network.driver.overlay.vxlanid_list"}}`))
	if vni == "" {
		t.Fatal("webnet has no VXLAN ID")
	}
	mustRun(t, l, "manager-1", "service", "rm", "web", "shell", "shell2")
	eventually(t, 30*time.Second, "network rm once the tasks are gone", func() error {
		_, errOut, err := run(t, l, "manager-1", "network", "rm", "webnet")
		if err != nil {
			return fmt.Errorf("%v: %s", err, errOut)
		}
		return nil
	})
	// What stays is each node's own ingress endpoint (and the ingress network under it),
	// as long as the node is in the swarm.
	eventually(t, 30*time.Second, "no task namespace and no webnet namespace left on any node", func() error {
		entries, _ := os.ReadDir("/run/netns")
		for _, e := range entries {
			for _, n := range l.Nodes() {
				rest, ok := strings.CutPrefix(e.Name(), n.Netns+".")
				if ok && (strings.HasPrefix(rest, "t") || rest == "ov"+vni) {
					return fmt.Errorf("namespace %s is still there", e.Name())
				}
			}
		}
		return nil
	})
}
