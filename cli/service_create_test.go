package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
)

// sentSpec decodes the service spec of the last request to what.
func sentSpec(t *testing.T, f *fakeServiceAPI, what string) swarm.ServiceSpec {
	t.Helper()
	var spec swarm.ServiceSpec
	if err := json.Unmarshal(f.lastWrite(what).Body, &spec); err != nil {
		t.Fatal(err)
	}
	return spec
}

func assertSpec(t *testing.T, got, want swarm.ServiceSpec) {
	t.Helper()
	if !equalJSON(t, got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("spec sent:\n%s\nwant:\n%s", g, w)
	}
}

func TestServiceCreateSendsEveryFlag(t *testing.T) {
	f := newServiceDaemon(t)
	digest := "sha256:" + strings.Repeat("e", 64)
	f.digest = digest
	out := mustRun(t, f.fakeDaemon, "service", "create", "-d", "--name", "web", "--replicas", "3",
		"-e", "A=1", "--env", "B=2", "-e", "A=3", "-l", "tier=front", "--label", "team", "--container-label", "c=1",
		"--constraint", "node.role==worker", "--constraint", "node.labels.zone != b",
		"--placement-pref", "spread=node.labels.zone", "--replicas-max-per-node", "2",
		"--restart-condition", "on-failure", "--restart-delay", "3s", "--restart-max-attempts", "4", "--restart-window", "1m",
		"--update-parallelism", "2", "--update-delay", "10s", "--update-order", "start-first",
		"--update-failure-action", "rollback", "--update-max-failure-ratio", "0.25", "--update-monitor", "30s",
		"--rollback-parallelism", "0", "--rollback-order", "stop-first",
		"--stop-grace-period", "20s", "--stop-signal", "SIGINT",
		"--health-cmd", "curl -f localhost:8080", "--health-interval", "5s", "--health-timeout", "2s",
		"--health-retries", "2", "--health-start-period", "1s",
		"--limit-cpu", "0.5", "--limit-memory", "64m", "--limit-pids", "100", "--reserve-cpu", "0.25", "--reserve-memory", "32m",
		"--hostname", "{{.Node.Hostname}}", "-w", "/app", "-u", "1000:1000", "--entrypoint", `/bin/sh -c`,
		"--network", "front", "--network", "name=back,alias=db",
		"-p", "8080:80", "-p", "published=9000,target=9000,protocol=udp,mode=host", "-p", "3000-3001:4000-4001/tcp", "-p", "5000",
		"--endpoint-mode", "VIP", "--with-registry-auth",
		"sleepy:1", "--port", "80", "-v")
	if out != "newsvc0000000000000000001\n" {
		t.Errorf("output %q, want the new service's ID", out)
	}

	grace, delay, window := 20*time.Second, 3*time.Second, time.Minute
	attempts, replicas := uint64(4), uint64(3)
	want := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "web", Labels: map[string]string{"tier": "front", "team": ""}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image:           "sleepy:1@" + digest,
				Labels:          map[string]string{"c": "1"},
				Command:         []string{"/bin/sh", "-c"},
				Args:            []string{"--port", "80", "-v"},
				Hostname:        "{{.Node.Hostname}}",
				Env:             []string{"A=3", "B=2"},
				Dir:             "/app",
				User:            "1000:1000",
				StopSignal:      "SIGINT",
				StopGracePeriod: &grace,
				Healthcheck: &container.HealthConfig{
					Test:     []string{"CMD-SHELL", "curl -f localhost:8080"},
					Interval: 5 * time.Second, Timeout: 2 * time.Second, StartPeriod: time.Second, Retries: 2,
				},
			},
			Resources: &swarm.ResourceRequirements{
				Limits:       &swarm.Limit{NanoCPUs: 5e8, MemoryBytes: 64 << 20, Pids: 100},
				Reservations: &swarm.Resources{NanoCPUs: 25e7, MemoryBytes: 32 << 20},
			},
			RestartPolicy: &swarm.RestartPolicy{Condition: "on-failure", Delay: &delay, MaxAttempts: &attempts, Window: &window},
			Placement: &swarm.Placement{
				Constraints: []string{"node.role==worker", "node.labels.zone != b"},
				Preferences: []swarm.PlacementPreference{{Spread: &swarm.SpreadOver{SpreadDescriptor: "node.labels.zone"}}},
				MaxReplicas: 2,
				// The image's platforms, from /distribution, as docker records them.
				Platforms: []swarm.Platform{{Architecture: "amd64", OS: "linux"}},
			},
			Networks: []swarm.NetworkAttachmentConfig{{Target: "front"}, {Target: "back", Aliases: []string{"db"}}},
		},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
		UpdateConfig: &swarm.UpdateConfig{Parallelism: 2, Delay: 10 * time.Second, FailureAction: "rollback",
			Monitor: 30 * time.Second, MaxFailureRatio: 0.25, Order: "start-first"},
		RollbackConfig: &swarm.UpdateConfig{Parallelism: 0, FailureAction: "pause", Monitor: 5 * time.Second, Order: "stop-first"},
		EndpointSpec: &swarm.EndpointSpec{Mode: "vip", Ports: []swarm.PortConfig{
			{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "ingress"},
			{Protocol: "udp", TargetPort: 9000, PublishedPort: 9000, PublishMode: "host"},
			{Protocol: "tcp", TargetPort: 4000, PublishedPort: 3000, PublishMode: "ingress"},
			{Protocol: "tcp", TargetPort: 4001, PublishedPort: 3001, PublishMode: "ingress"},
			{Protocol: "tcp", TargetPort: 5000, PublishMode: "ingress"},
		}},
	}
	assertSpec(t, sentSpec(t, f, "POST /services/create"), want)
}

// Left to itself the daemon fills in the defaults: the CLI sends only the image, one
// replica and the endpoint mode, as docker sends them.
func TestServiceCreateDefaults(t *testing.T) {
	f := newServiceDaemon(t)
	_, errOut, err := runShoal(t, f.fakeDaemon, "service", "create", "-d", "sleepy")
	if err != nil {
		t.Fatal(err)
	}
	one := uint64(1)
	assertSpec(t, sentSpec(t, f, "POST /services/create"), swarm.ServiceSpec{
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "sleepy:latest"}},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		EndpointSpec: &swarm.EndpointSpec{Mode: "vip"},
	})
	// No digest to be had: docker's warning, and the service is still created.
	if !strings.HasPrefix(errOut, "image sleepy:latest could not be accessed on a registry to record\nits digest.") {
		t.Errorf("stderr %q, want docker's digest warning", errOut)
	}
}

func TestServiceCreateGlobalWithoutResolving(t *testing.T) {
	f := newServiceDaemon(t)
	f.digest = "sha256:" + strings.Repeat("e", 64)
	mustRun(t, f.fakeDaemon, "service", "create", "--detach", "--mode", "global", "--no-resolve-image", "--name", "agent", "busybox:1", "sleep", "1d")
	assertSpec(t, sentSpec(t, f, "POST /services/create"), swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "agent"},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{
			Image: "busybox:1", Args: []string{"sleep", "1d"},
		}},
		Mode:         swarm.ServiceMode{Global: &swarm.GlobalService{}},
		EndpointSpec: &swarm.EndpointSpec{Mode: "vip"},
	})
	for _, r := range f.all() {
		if strings.HasPrefix(r.Path, "/distribution/") {
			t.Errorf("--no-resolve-image asked %s", r)
		}
	}
}

func TestServiceCreateEnvFile(t *testing.T) {
	f := newServiceDaemon(t)
	path := t.TempDir() + "/env"
	t.Setenv("FROM_SHELL", "yes")
	t.Setenv("UNSET_IN_FILE", "")
	writeFile(t, path, "# comment\n\nA=1\n  B=two words \nFROM_SHELL\nNOT_SET_ANYWHERE_XYZ\nA=9\n")
	mustRun(t, f.fakeDaemon, "service", "create", "-d", "--no-resolve-image", "--env-file", path, "-e", "B=3", "sleepy:1")
	spec := sentSpec(t, f, "POST /services/create")
	want := []string{"A=9", "B=3", "FROM_SHELL=yes"}
	if got := spec.TaskTemplate.ContainerSpec.Env; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("env %q, want %q", got, want)
	}
}

func TestServiceCreateNameConflict(t *testing.T) {
	f := newServicesDaemon(t)
	_, _, err := runShoal(t, f.fakeDaemon, "service", "create", "-d", "--name", "web", "sleepy:1")
	if err == nil || !strings.Contains(err.Error(), "name conflicts with an existing object") {
		t.Errorf("err = %v", err)
	}
}

// Without -d, create follows the service until its tasks have run for the monitor period.
func TestServiceCreateWaitsForConvergence(t *testing.T) {
	f := newServiceDaemon(t)
	f.onTaskList = func(f *fakeServiceAPI, n int) {
		svc := &f.services[0]
		// The daemon fills in the update policy; a short monitor keeps the test quick.
		svc.Spec.UpdateConfig = &swarm.UpdateConfig{Monitor: 20 * time.Millisecond}
		states := []swarm.TaskState{"pending", "preparing", "running"}
		state := states[min(n-1, len(states)-1)]
		f.tasks = nil
		for slot := 1; slot <= 2; slot++ {
			f.tasks = append(f.tasks, swarm.Task{ID: "t" + string(rune('0'+slot)), ServiceID: svc.ID, Slot: slot,
				NodeID: idWorker1, DesiredState: "running", Status: swarm.TaskStatus{State: state}})
		}
	}
	out := mustRun(t, f.fakeDaemon, "service", "create", "--replicas", "2", "--no-resolve-image", "sleepy:1")
	for _, want := range []string{
		"newsvc0000000000000000001\n",
		"overall progress: 0 out of 2 tasks\n1/2: pending   [================>                                  ]\n",
		"1/2: preparing [=================================>                 ]\n",
		"overall progress: 2 out of 2 tasks\n1/2: running   [==================================================>]\n2/2: running",
		"verify: Waiting 1 seconds to verify that tasks are stable...\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasSuffix(out, "verify: Service converged\n") {
		t.Errorf("output does not end converged:\n%s", out)
	}
	var taskQuery string
	for _, r := range f.all() {
		if r.Path == "/tasks" {
			taskQuery = r.Query.Get("filters")
		}
	}
	if taskQuery != `{"_up-to-date":{"true":true},"service":{"newsvc0000000000000000001":true}}` {
		t.Errorf("task filters %s, want the service's up-to-date tasks", taskQuery)
	}
}

func TestServiceCreateQuietWaitPrintsOnlyTheID(t *testing.T) {
	f := newServiceDaemon(t)
	f.onTaskList = func(f *fakeServiceAPI, n int) {
		f.services[0].Spec.UpdateConfig = &swarm.UpdateConfig{Monitor: time.Millisecond}
		f.tasks = []swarm.Task{{ID: "t1", ServiceID: f.services[0].ID, Slot: 1, NodeID: idWorker1,
			DesiredState: "running", Status: swarm.TaskStatus{State: "running"}}}
	}
	out := mustRun(t, f.fakeDaemon, "service", "create", "-q", "--no-resolve-image", "sleepy:1")
	if out != "newsvc0000000000000000001\n" {
		t.Errorf("output %q", out)
	}
}
