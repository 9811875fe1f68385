package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/internal/version"
	"github.com/shoal/shoal/lab"
)

// TestDockerCLI points the real docker CLI at a lab node and checks that it works and that
// it gets the same answers as shoal: the Docker Engine API is Shoal's API.
func TestDockerCLI(t *testing.T) {
	dockerBin, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("the docker CLI is not on PATH (install Debian's docker.io): cannot check the API against it")
	}
	l := startLab(t, lab.Options{Name: "e2edocker", Managers: 1, Workers: 1})
	const mgr, wrk = "manager-1", "worker-1"
	dockerConfig := t.TempDir() // no user config, contexts or credential helpers
	docker := func(t *testing.T, nodeName string, args ...string) (string, string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, dockerBin, args...)
		cmd.Env = dockerEnv(node(t, l, nodeName).Host(), dockerConfig)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	mustDocker := func(t *testing.T, nodeName string, args ...string) string {
		t.Helper()
		out, errOut, err := docker(t, nodeName, args...)
		if err != nil {
			t.Fatalf("docker %s on %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), nodeName, err, out, errOut)
		}
		return out
	}
	var shoalInfo struct{ Swarm swarm.Info }
	decodeJSON(t, mustRun(t, l, mgr, "info", "--format", "{{json .}}"), &shoalInfo)
	workerID := strings.TrimSpace(mustRun(t, l, mgr, "node", "inspect", "--format", "{{.ID}}", wrk))

	t.Run("info", func(t *testing.T) {
		out := mustDocker(t, mgr, "info")
		for _, want := range []string{"Swarm: active", "NodeID: " + shoalInfo.Swarm.NodeID, "Is Manager: true", "ClusterID: " + shoalInfo.Swarm.Cluster.ID, "Server Version: " + version.Version} {
			if !strings.Contains(out, want) {
				t.Errorf("docker info lacks %q:\n%s", want, out)
			}
		}
		var got struct{ Swarm swarm.Info }
		decodeJSON(t, mustDocker(t, mgr, "info", "--format", "{{json .}}"), &got)
		s, w := got.Swarm, shoalInfo.Swarm
		if s.NodeID != w.NodeID || s.LocalNodeState != w.LocalNodeState || s.ControlAvailable != w.ControlAvailable ||
			s.Nodes != w.Nodes || s.Managers != w.Managers || s.Cluster.ID != w.Cluster.ID {
			t.Errorf("docker info's swarm section differs from shoal's:\ndocker: %+v\nshoal:  %+v", s, w)
		}
		if out := mustDocker(t, wrk, "info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.NodeID}}"); strings.TrimSpace(out) != "active false "+workerID {
			t.Errorf("docker info on the worker: %q, want %q", out, "active false "+workerID)
		}
	})

	t.Run("version", func(t *testing.T) {
		out := mustDocker(t, mgr, "version")
		for _, want := range []string{"Server: Shoal", "Engine:", "Version:          " + version.Version} {
			if !strings.Contains(out, want) {
				t.Errorf("docker version lacks %q:\n%s", want, out)
			}
		}
		var got struct {
			Server struct {
				Version, APIVersion, MinAPIVersion, Os, Arch string
			}
		}
		decodeJSON(t, mustDocker(t, mgr, "version", "--format", "{{json .}}"), &got)
		shoalOut := mustRun(t, l, mgr, "version", "--format", "{{.Server.Version}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Os}} {{.Server.Arch}}")
		if gotLine := strings.Join([]string{got.Server.Version, got.Server.APIVersion, got.Server.MinAPIVersion, got.Server.Os, got.Server.Arch}, " "); gotLine != strings.TrimSpace(shoalOut) {
			t.Errorf("docker version's server: %q, shoal version's: %q", gotLine, strings.TrimSpace(shoalOut))
		}
	})

	t.Run("swarm join-token", func(t *testing.T) {
		for _, role := range []string{"worker", "manager"} {
			want := strings.TrimSpace(mustRun(t, l, mgr, "swarm", "join-token", "-q", role))
			if got := strings.TrimSpace(mustDocker(t, mgr, "swarm", "join-token", "-q", role)); got != want {
				t.Errorf("docker swarm join-token -q %s = %q, shoal says %q", role, got, want)
			}
			out := mustDocker(t, mgr, "swarm", "join-token", role)
			wantCmd := fmt.Sprintf("docker swarm join --token %s %s:2377", want, node(t, l, mgr).Addr)
			if !strings.Contains(out, wantCmd) {
				t.Errorf("docker swarm join-token %s lacks %q:\n%s", role, wantCmd, out)
			}
		}
	})

	t.Run("node ls", func(t *testing.T) {
		const format = "{{.ID}} {{.Self}} {{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}} {{.EngineVersion}}"
		got := sortedLines(mustDocker(t, mgr, "node", "ls", "--format", format))
		want := sortedLines(mustRun(t, l, mgr, "node", "ls", "--format", format))
		if !slices.Equal(got, want) || len(got) != 2 {
			t.Errorf("docker node ls:\n%s\nshoal node ls:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		_, dockerErr, err := docker(t, wrk, "node", "ls")
		_, shoalErr, shoalRunErr := run(t, l, wrk, "node", "ls")
		if err == nil || shoalRunErr == nil || !strings.Contains(dockerErr, "not a swarm manager") || !strings.Contains(shoalErr, "not a swarm manager") {
			t.Errorf("node ls on a worker: docker %v %q, shoal %v %q; want both refused as not a manager", err, dockerErr, shoalRunErr, shoalErr)
		}
		table := mustDocker(t, mgr, "node", "ls")
		for _, want := range []string{"ID", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS", "ENGINE VERSION", shoalInfo.Swarm.NodeID + " *", "Leader", workerID} {
			if !strings.Contains(table, want) {
				t.Errorf("docker node ls lacks %q:\n%s", want, table)
			}
		}
	})

	t.Run("node inspect self", func(t *testing.T) {
		var got []swarm.Node
		decodeJSON(t, mustDocker(t, mgr, "node", "inspect", "self"), &got)
		if len(got) != 1 || got[0].ID != shoalInfo.Swarm.NodeID {
			t.Fatalf("docker node inspect self: %+v; shoal info says this node is %s", got, shoalInfo.Swarm.NodeID)
		}
		var want []swarm.Node
		decodeJSON(t, mustRun(t, l, mgr, "node", "inspect", "self"), &want)
		if len(want) != 1 || got[0].Description.Hostname != want[0].Description.Hostname || got[0].Spec.Role != want[0].Spec.Role ||
			got[0].ManagerStatus == nil || want[0].ManagerStatus == nil || got[0].ManagerStatus.Addr != want[0].ManagerStatus.Addr {
			t.Errorf("docker node inspect self and shoal node inspect self differ:\ndocker: %+v\nshoal:  %+v", got[0], want)
		}
		if _, errOut, err := docker(t, mgr, "node", "inspect", "nosuchnode"); err == nil || !strings.Contains(errOut, "No such node: nosuchnode") {
			t.Errorf("docker node inspect of an unknown node: err %v, stderr %q", err, errOut)
		}
	})

	t.Run("node update --label-add", func(t *testing.T) {
		mustDocker(t, mgr, "node", "update", "--label-add", "foo=bar", "--label-add", "zone=a", wrk)
		var labels map[string]string
		decodeJSON(t, mustRun(t, l, mgr, "node", "inspect", "--format", "{{json .Spec.Labels}}", wrk), &labels)
		if labels["foo"] != "bar" || labels["zone"] != "a" {
			t.Errorf("after docker node update --label-add, shoal sees labels %v", labels)
		}
		mustDocker(t, mgr, "node", "update", "--label-rm", "zone", wrk)
		labels = nil // json.Unmarshal adds to a map it is given
		decodeJSON(t, mustRun(t, l, mgr, "node", "inspect", "--format", "{{json .Spec.Labels}}", wrk), &labels)
		if _, ok := labels["zone"]; ok || labels["foo"] != "bar" {
			t.Errorf("after docker node update --label-rm zone, shoal sees labels %v", labels)
		}
		if got := strings.TrimSpace(mustDocker(t, mgr, "node", "ls", "--filter", "node.label=foo=bar", "-q")); got != workerID {
			t.Errorf("docker node ls --filter node.label=foo=bar -q = %q, want %s", got, workerID)
		}
	})

	t.Run("node promote and demote", func(t *testing.T) {
		out := mustDocker(t, mgr, "node", "promote", wrk)
		if !strings.Contains(out, "Node "+wrk+" promoted to a manager in the swarm.") {
			t.Errorf("docker node promote printed %q", out)
		}
		took := eventually(t, 30*time.Second, wrk+" is a reachable manager with a manager's view", func() error {
			status := strings.TrimSpace(mustRun(t, l, mgr, "node", "inspect", "--format", "{{.Spec.Role}} {{if .ManagerStatus}}{{.ManagerStatus.Reachability}}{{end}}", wrk))
			if status != "manager reachable" {
				return fmt.Errorf("shoal node inspect says %q", status)
			}
			if got := strings.TrimSpace(mustRun(t, l, wrk, "info", "--format", "{{.Swarm.ControlAvailable}}")); got != "true" {
				return fmt.Errorf("shoal info on %s says control available %s", wrk, got)
			}
			return nil
		})
		t.Logf("%s became a manager %s after docker node promote", wrk, took.Round(time.Millisecond))
		// The new manager answers docker too.
		if got := strings.TrimSpace(mustDocker(t, wrk, "node", "ls", "-q")); len(strings.Fields(got)) != 2 {
			t.Errorf("docker node ls -q on the promoted node: %q", got)
		}

		out = mustDocker(t, mgr, "node", "demote", wrk)
		if !strings.Contains(out, "Manager "+wrk+" demoted in the swarm.") {
			t.Errorf("docker node demote printed %q", out)
		}
		took = eventually(t, 30*time.Second, wrk+" is a worker again", func() error {
			status := strings.TrimSpace(mustRun(t, l, mgr, "node", "inspect", "--format", "{{.Spec.Role}} {{if .ManagerStatus}}{{.ManagerStatus.Reachability}}{{end}}", wrk))
			if status != "worker" {
				return fmt.Errorf("shoal node inspect says %q", status)
			}
			if got := strings.TrimSpace(mustRun(t, l, wrk, "info", "--format", "{{.Swarm.ControlAvailable}}")); got != "false" {
				return fmt.Errorf("shoal info on %s says control available %s", wrk, got)
			}
			return nil
		})
		t.Logf("%s became a worker %s after docker node demote", wrk, took.Round(time.Millisecond))

		// The last manager cannot be demoted, through docker as through shoal.
		_, dockerErr, err := docker(t, mgr, "node", "demote", mgr)
		if err == nil || !strings.Contains(dockerErr, "last manager") {
			t.Errorf("docker node demote of the last manager: err %v, stderr %q", err, dockerErr)
		}
		_, shoalErr, err := run(t, l, mgr, "node", "demote", mgr)
		if err == nil || !strings.Contains(shoalErr, "last manager") {
			t.Errorf("shoal node demote of the last manager: err %v, stderr %q", err, shoalErr)
		}
		if role := strings.TrimSpace(mustRun(t, l, mgr, "node", "inspect", "--format", "{{.Spec.Role}}", mgr)); role != "manager" {
			t.Errorf("after a refused demotion %s is a %s", mgr, role)
		}
	})
}

// dockerEnv is the environment for the docker CLI talking to host: the test's own
// environment without anything that would send docker elsewhere.
func dockerEnv(host, configDir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_API_VERSION":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "DOCKER_HOST="+host, "DOCKER_CONFIG="+configDir, "DOCKER_CLI_HINTS=false")
}

func sortedLines(s string) []string {
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	slices.Sort(lines)
	return lines
}
