package e2e

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal/shoal/lab"
)

// TestFirstDayWalk is the walk a swarm user takes on a first day, on 1 manager + 3
// workers: an overlay network, a web service with three replicas and a published port,
// a busybox shell on the network on the manager (which runs no web task), and from
// inside it, through `shoal exec`: the service name gives one VIP, tasks.web the three
// task addresses, HTTP to web:8080 answers and a 1 MB response crosses nodes intact. The
// published port answers at every node's address. Then the same walk with the real docker
// CLI: network create, service create --network -p, exec -it on a terminal, network
// inspect -v, service rm, network rm.
func TestFirstDayWalk(t *testing.T) {
	l := startLab(t, lab.Options{Name: "e2ewalk", Managers: 1, Workers: 3})
	images := sampleImages(t)
	busybox := busyboxImage(t)
	for _, n := range l.Nodes() {
		mustRun(t, l, n.Name, "image", "load", "-q", "-i", filepath.Join(images, "sleepy-1.docker.tar"))
		mustRun(t, l, n.Name, "image", "load", "-q", "-i", busybox)
	}
	mustRun(t, l, "manager-1", "network", "create", "-d", "overlay", "webnet")
	mustRun(t, l, "manager-1", "service", "create", "-d", "--name", "web", "--replicas", "3",
		"--constraint", "node.role==worker", "--network", "webnet", "-p", "8080:8080", "sleepy:1")
	mustRun(t, l, "manager-1", "service", "create", "-d", "--name", "shell",
		"--constraint", "node.role==manager", "--network", "webnet", "busybox", "sleep", "1000000")
	mc := apiClient(t, l, "manager-1")
	shell := waitRunningTask(t, mc, "shell")

	var vip string
	var webIPs []string
	eventually(t, 60*time.Second, "web running with three addresses on webnet", func() error {
		if out := mustRun(t, l, "manager-1", "service", "ls", "--filter", "name=web", "--format", "{{.Replicas}}"); !strings.HasPrefix(strings.TrimSpace(out), "3/3") {
			return fmt.Errorf("web replicas %s", out)
		}
		out := mustRun(t, l, "manager-1", "network", "inspect", "-v", "webnet", "--format", "{{.Services.web.VIP}} {{range .Services.web.Tasks}}{{.EndpointIP}} {{end}}")
		f := strings.Fields(out)
		if len(f) != 4 {
			return fmt.Errorf("webnet's view of web: %q, want a VIP and three task addresses", out)
		}
		vip, webIPs = f[0], f[1:]
		slices.Sort(webIPs)
		return nil
	})

	inShell := func(args ...string) string {
		t.Helper()
		return mustRun(t, l, "manager-1", append([]string{"exec", shell.ID}, args...)...)
	}
	t.Logf("web: VIP %s, tasks %v", vip, webIPs)
	if got := lookupA(inShell("nslookup", "-type=a", "web")); !slices.Equal(got, []string{vip}) {
		t.Errorf("nslookup web = %v, want the VIP %s only", got, vip)
	}
	if got := lookupA(inShell("nslookup", "-type=a", "tasks.web")); !slices.Equal(got, webIPs) {
		t.Errorf("nslookup tasks.web = %v, want the task addresses %v", got, webIPs)
	}
	if body := inShell("wget", "-qO-", "http://web:8080/"); !sleepyAnswered(body) {
		t.Errorf("wget http://web:8080/ from the manager = %q, want the app's answer", body)
	}
	pattern := make([]byte, 1<<20)
	for i := range pattern {
		pattern[i] = "abcdefghijklmnopqrstuvwxyz"[i%26]
	}
	sum := md5.Sum(pattern)
	if out := inShell("sh", "-c", "wget -qO- 'http://web:8080/bytes?n=1048576' | md5sum"); !strings.HasPrefix(out, hex.EncodeToString(sum[:])) {
		t.Errorf("1 MB through web:8080 arrived with md5 %q, want %s", out, hex.EncodeToString(sum[:]))
	}

	// The published port answers at every node's address, the manager's too.
	for _, n := range l.Nodes() {
		if body, err := httpGet("http://" + n.Addr.String() + ":8080/"); err != nil || !sleepyAnswered(body) {
			t.Errorf("http://%s:8080/ (%s): %q, %v", n.Addr, n.Name, body, err)
		}
	}

	t.Run("docker CLI", func(t *testing.T) { dockerNetworkWalk(t, l) })
}

// dockerNetworkWalk: the same walk with the docker CLI against the manager.
func dockerNetworkWalk(t *testing.T, l *lab.Lab) {
	docker := newDockerRunner(t, l)
	must := func(args ...string) string {
		t.Helper()
		out, errOut, code := docker.run(t, "manager-1", args...)
		if code != 0 {
			t.Fatalf("docker %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	must("network", "create", "-d", "overlay", "dnet")
	must("service", "create", "--name", "dweb", "--replicas", "2", "--network", "dnet", "-p", "8082:8080", "sleepy:1")
	must("service", "create", "--name", "dshell", "--network", "dnet", "--constraint", "node.role==manager", "busybox", "sleep", "1000000")

	var inspect []struct {
		Services map[string]struct {
			VIP   string
			Tasks []struct{ Name, EndpointIP string }
		}
	}
	if err := json.Unmarshal([]byte(must("network", "inspect", "-v", "dnet")), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("docker network inspect -v dnet: %v", err)
	}
	dweb := inspect[0].Services["dweb"]
	if dweb.VIP == "" || len(dweb.Tasks) != 2 {
		t.Fatalf("docker network inspect -v dnet: dweb = %+v, want a VIP and two tasks", dweb)
	}
	vip, _, _ := strings.Cut(dweb.VIP, "/")

	shellTask := strings.TrimSpace(must("service", "ps", "-q", "--no-trunc", "--filter", "desired-state=running", "dshell"))
	line := fmt.Sprintf("%s exec -it dshell.1.%s sh -c 'test -t 0 && echo on-a-tty; nslookup -type=a dweb; wget -qO- http://dweb:8080/'", docker.bin, shellTask)
	out, errOut, code := docker.runCommand(t, "manager-1", "script", "-qec", line, "/dev/null")
	out = strings.ReplaceAll(out, "\r", "")
	t.Logf("docker exec -it dshell.1.%s:\n%s", shellTask, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	answered := sleepyAnswered(lines[len(lines)-1]) // the app's answer, last
	if code != 0 || !strings.Contains(out, "on-a-tty\n") || !slices.Equal(lookupA(out), []string{vip}) || !answered {
		t.Errorf("docker exec -it into dshell: exit %d\nstdout: %s\nstderr: %s\nwant a terminal, dweb -> %s and the app's answer", code, out, errOut, vip)
	}
	if body, err := httpGet("http://" + node(t, l, "worker-3").Addr.String() + ":8082/"); err != nil {
		t.Errorf("dweb's published port on worker-3: %q, %v", body, err)
	}

	must("service", "rm", "dweb", "dshell")
	eventually(t, 30*time.Second, "docker network rm dnet once its tasks are gone", func() error {
		if out, errOut, code := docker.run(t, "manager-1", "network", "rm", "dnet"); code != 0 {
			return fmt.Errorf("exit %d: %s %s", code, out, errOut)
		}
		return nil
	})
	if out := must("network", "ls", "--format", "{{.Name}}"); strings.Contains(out, "dnet") {
		t.Errorf("docker network ls after rm: %q", out)
	}
}

// lookupA lists the addresses in busybox nslookup's answer section, sorted.
func lookupA(out string) []string {
	var addrs []string
	answer := false
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "Name:") {
			answer = true
			continue
		}
		if a, ok := strings.CutPrefix(line, "Address:"); ok && answer {
			addrs = append(addrs, strings.TrimSpace(a))
		}
	}
	slices.Sort(addrs)
	return addrs
}

// sleepyAnswered says whether body is the sample app's answer: its receive and reply
// times, comma-separated.
func sleepyAnswered(body string) bool {
	return len(strings.Split(strings.TrimSpace(body), ",")) == 2
}

// httpGet fetches url (bounded by 5 s); a status other than 200 is an error.
func httpGet(url string) (string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s", resp.Status)
	}
	return string(b), err
}
