package cli

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
)

func writeFile(t *testing.T, path, contents string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(contents), 0o600); err != nil {
		t.Fatal(err)
	}
}

// fixtureService returns a fresh copy of the fixture service id.
func fixtureService(t *testing.T, id string) swarm.Service {
	t.Helper()
	for _, s := range fixtureServices() {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no fixture service %s", id)
	return swarm.Service{}
}

func TestServiceUpdateChangesOnlyTheFlagsGiven(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		change func(spec *swarm.ServiceSpec)
	}{
		{"env add keeps the other variables",
			[]string{"--env-add", "GREETING=hello", "--env-add", "COLOR=blue"},
			func(s *swarm.ServiceSpec) {
				s.TaskTemplate.ContainerSpec.Env = []string{"VERSION=1", "GREETING=hello", "COLOR=blue"}
			}},
		{"env rm then add",
			[]string{"--env-rm", "VERSION", "--env-add", "VERSION=2", "--env-rm", "NOT_THERE"},
			func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Env = []string{"GREETING=hi", "VERSION=2"} }},
		{"publish rm by target, add short and long syntax",
			[]string{"--publish-rm", "8080", "--publish-add", "9090:80/udp", "--publish-add", "published=8443,target=443,mode=host"},
			func(s *swarm.ServiceSpec) {
				s.EndpointSpec.Ports = []swarm.PortConfig{
					{Protocol: "tcp", TargetPort: 443, PublishedPort: 8443, PublishMode: "host"},
					{Protocol: "udp", TargetPort: 80, PublishedPort: 9090, PublishMode: "ingress"},
				}
			}},
		{"publish add an existing port changes nothing",
			[]string{"--publish-add", "8080:8080"},
			func(*swarm.ServiceSpec) {}},
		{"labels", []string{"--label-add", "tier=back", "--label-add", "new", "--label-rm", "team"},
			func(s *swarm.ServiceSpec) { s.Labels = map[string]string{"tier": "back", "new": ""} }},
		{"container labels", []string{"--container-label-add", "a=b"},
			func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Labels = map[string]string{"a": "b"} }},
		{"constraints sorted, removed by text",
			[]string{"--constraint-add", "node.labels.zone==a", "--constraint-rm", "node.role==worker", "--constraint-add", "engine.labels.ssd==true"},
			func(s *swarm.ServiceSpec) {
				s.TaskTemplate.Placement.Constraints = []string{"engine.labels.ssd==true", "node.labels.zone==a"}
			}},
		{"placement preferences",
			[]string{"--placement-pref-rm", "spread=node.labels.zone", "--placement-pref-add", "spread=node.labels.rack"},
			func(s *swarm.ServiceSpec) {
				s.TaskTemplate.Placement.Preferences = []swarm.PlacementPreference{{Spread: &swarm.SpreadOver{SpreadDescriptor: "node.labels.rack"}}}
			}},
		{"networks by name, sorted",
			[]string{"--network-add", "front", "--network-add", "back"},
			func(s *swarm.ServiceSpec) {
				s.TaskTemplate.Networks = []swarm.NetworkAttachmentConfig{{Target: "back"}, {Target: "front"}}
			}},
		{"replicas and per-node limit", []string{"--replicas", "7", "--replicas-max-per-node", "3"},
			func(s *swarm.ServiceSpec) {
				s.Mode.Replicated.Replicas = ptr[uint64](7)
				s.TaskTemplate.Placement.MaxReplicas = 3
			}},
		{"image, args and entrypoint", []string{"--image", "sleepy:2", "--args", `--port "80 80"`, "--entrypoint", "/bin/app"},
			func(s *swarm.ServiceSpec) {
				s.TaskTemplate.ContainerSpec.Image = "sleepy:2@sha256:" + strings.Repeat("f", 64)
				s.TaskTemplate.ContainerSpec.Args = []string{"--port", "80 80"}
				s.TaskTemplate.ContainerSpec.Command = []string{"/bin/app"}
				s.TaskTemplate.Placement.Platforms = []swarm.Platform{{Architecture: "amd64", OS: "linux"}}
			}},
		{"update policy fields given, others kept",
			[]string{"--update-order", "stop-first", "--update-parallelism", "0", "--rollback-failure-action", "continue"},
			func(s *swarm.ServiceSpec) {
				s.UpdateConfig.Order = "stop-first"
				s.UpdateConfig.Parallelism = 0
				s.RollbackConfig.FailureAction = "continue"
			}},
		{"restart policy from the daemon's defaults", []string{"--restart-max-attempts", "3"},
			func(s *swarm.ServiceSpec) {
				delay := 5 * time.Second
				s.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{Condition: "any", Delay: &delay, MaxAttempts: ptr[uint64](3)}
			}},
		{"resources", []string{"--limit-memory", "128m", "--reserve-cpu", "1.5"},
			func(s *swarm.ServiceSpec) {
				s.TaskTemplate.Resources.Limits.MemoryBytes = 128 << 20
				s.TaskTemplate.Resources.Reservations.NanoCPUs = 15e8
			}},
		{"no healthcheck", []string{"--no-healthcheck"},
			func(s *swarm.ServiceSpec) {
				s.TaskTemplate.ContainerSpec.Healthcheck = &container.HealthConfig{Test: []string{"NONE"}}
			}},
		{"force", []string{"--force"},
			func(s *swarm.ServiceSpec) { s.TaskTemplate.ForceUpdate = 1 }},
		{"nothing given sends the spec as it is", nil, func(*swarm.ServiceSpec) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newServicesDaemon(t)
			f.digest = "sha256:" + strings.Repeat("f", 64)
			out := mustRun(t, f.fakeDaemon, append(append([]string{"service", "update", "-d"}, tt.args...), "web")...)
			if out != "web\n" {
				t.Errorf("output %q, want the service argument", out)
			}
			req := f.lastWrite("POST /services/" + idWeb + "/update")
			if v := req.Query.Get("version"); v != "30" {
				t.Errorf("version = %q, want the one read (30)", v)
			}
			want := fixtureService(t, idWeb).Spec
			tt.change(&want)
			assertSpec(t, sentSpec(t, f, "POST /services/"+idWeb+"/update"), want)
		})
	}
}

func TestServiceUpdateRollbackFlag(t *testing.T) {
	f := newServicesDaemon(t)
	i, _ := f.findService("web")
	prev := fixtureService(t, idWeb).Spec
	f.services[i].PreviousSpec = &prev
	mustRun(t, f.fakeDaemon, "service", "update", "--rollback", "-d", "web")
	req := f.lastWrite("POST /services/" + idWeb + "/update")
	if req.Query.Get("rollback") != "previous" {
		t.Errorf("rollback = %q, want previous", req.Query.Get("rollback"))
	}
	assertSpec(t, sentSpec(t, f, "POST /services/"+idWeb+"/update"), fixtureService(t, idWeb).Spec)
}

func TestServiceUpdateStaleVersion(t *testing.T) {
	f := newServicesDaemon(t)
	// Someone else updates the service between our read and our write.
	f.fail("POST /services/"+idWeb+"/update", 500, "rpc error: code = Unknown desc = update out of sequence")
	_, _, err := runShoal(t, f.fakeDaemon, "service", "update", "-d", "--force", "web")
	if err == nil || !strings.Contains(err.Error(), "update out of sequence") {
		t.Errorf("err = %v", err)
	}
}

// An update whose tasks fail pauses; the wait reports the daemon's reason and fails.
func TestServiceUpdateWaitReportsPause(t *testing.T) {
	f := newServicesDaemon(t)
	f.onTaskList = func(f *fakeServiceAPI, n int) {
		i, _ := f.findService("web")
		f.services[i].UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateUpdating}
		if n >= 2 {
			f.services[i].UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStatePaused,
				Message: "update paused due to failure or early termination of task webt2current"}
		}
	}
	out, _, err := runShoal(t, f.fakeDaemon, "service", "update", "--image", "sleepy:9", "--no-resolve-image", "web")
	if err == nil || err.Error() != "service update paused: update paused due to failure or early termination of task webt2current" {
		t.Errorf("err = %v", err)
	}
	if !strings.HasPrefix(out, "web\noverall progress: ") {
		t.Errorf("output %q", out)
	}
}

func TestServiceScale(t *testing.T) {
	f := newServicesDaemon(t)
	out := mustRun(t, f.fakeDaemon, "service", "scale", "-d", "web=5", "db=0")
	if out != "web scaled to 5\ndb scaled to 0\n" {
		t.Errorf("output %q", out)
	}
	want := fixtureService(t, idWeb).Spec
	want.Mode.Replicated.Replicas = ptr[uint64](5)
	assertSpec(t, sentSpec(t, f, "POST /services/"+idWeb+"/update"), want)
	if v := f.lastWrite("POST /services/" + idDB + "/update").Query.Get("version"); v != "30" {
		t.Errorf("version %q", v)
	}
}

func TestServiceScaleGlobalRefused(t *testing.T) {
	f := newServicesDaemon(t)
	out, _, err := runShoal(t, f.fakeDaemon, "service", "scale", "-d", "api=2", "web=4")
	if out != "web scaled to 4\n" {
		t.Errorf("output %q", out)
	}
	if err == nil || err.Error() != "api: scale can only be used with replicated or replicated-job mode" {
		t.Errorf("err = %v", err)
	}
	for _, w := range f.writes() {
		if strings.Contains(w.Path, idAPI) {
			t.Errorf("global service written: %s", w)
		}
	}
}

func TestServiceRollback(t *testing.T) {
	f := newServicesDaemon(t)
	i, _ := f.findService("web")
	prev := fixtureService(t, idWeb).Spec
	prev.TaskTemplate.ContainerSpec.Image = "sleepy:0"
	f.services[i].PreviousSpec = &prev
	out := mustRun(t, f.fakeDaemon, "service", "rollback", "-d", "web")
	if out != "web\n" {
		t.Errorf("output %q", out)
	}
	if r := f.lastWrite("POST /services/" + idWeb + "/update"); r.Query.Get("rollback") != "previous" || r.Query.Get("version") != "30" {
		t.Errorf("query %v", r.Query)
	}
	if got := f.services[i].Spec.TaskTemplate.ContainerSpec.Image; got != "sleepy:0" {
		t.Errorf("image after rollback %q", got)
	}
}

// A requested rollback that completes is a success: the wait ends converged and names
// the daemon's message.
func TestServiceRollbackWaits(t *testing.T) {
	f := newServicesDaemon(t)
	i, _ := f.findService("web")
	prev := fixtureService(t, idWeb).Spec
	prev.UpdateConfig.Monitor = 10 * time.Millisecond
	f.services[i].PreviousSpec = &prev
	f.onTaskList = func(f *fakeServiceAPI, n int) {
		f.services[i].UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateRollbackCompleted, Message: "rollback completed"}
		f.tasks = nil
		for slot := 1; slot <= 3; slot++ {
			f.tasks = append(f.tasks, swarm.Task{ID: "r" + string(rune('0'+slot)), ServiceID: idWeb, Slot: slot,
				NodeID: idWorker1, DesiredState: "running", Status: swarm.TaskStatus{State: "running"}})
		}
	}
	out := mustRun(t, f.fakeDaemon, "service", "rollback", "web")
	if !strings.HasSuffix(out, "verify: Service converged\nrollback: rollback completed\n") {
		t.Errorf("output:\n%s", out)
	}
}
