package cli

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/swarm"
)

func init() {
	// Listings say "5 minutes ago": fix the clock an hour after the fixtures' time.
	now = func() time.Time { return fixtureTime.Add(time.Hour) }
	// Waits poll quickly; progress tests use monitor periods of milliseconds.
	serviceProgressInterval = 2 * time.Millisecond
}

// fakeServiceAPI puts the service, task, image and distribution endpoints in front of a
// fakeDaemon: it listens on its own address (which becomes the daemon's host), answers
// those endpoints from its own state and hands every other request to the fake daemon.
// Requests it answers are recorded in the daemon's request list, so writes() sees them.
type fakeServiceAPI struct {
	*fakeDaemon

	// Guarded by fakeDaemon.mu, like the daemon's own state.
	services []swarm.Service
	tasks    []swarm.Task
	images   []image.Summary
	// logs is the multiplexed stream any logs request gets.
	logs []byte
	// digest is what /distribution answers for any image; empty answers 404.
	digest string
	// onTaskList runs before each GET /tasks is answered, with the number of task
	// lists so far (1 for the first): tests move tasks along between polls with it.
	onTaskList func(f *fakeServiceAPI, n int)
	taskLists  int
	nextID     int
}

func newServiceDaemon(t *testing.T) *fakeServiceAPI {
	t.Helper()
	f := &fakeServiceAPI{fakeDaemon: newClusterDaemon(t)}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.host = "tcp://" + strings.TrimPrefix(srv.URL, "http://")
	return f
}

// ownedPrefixes are the paths fakeServiceAPI answers itself.
var ownedPrefixes = []string{"/services", "/tasks", "/images/", "/distribution/"}

func (f *fakeServiceAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p, ok := strings.CutPrefix(r.URL.Path, "/v"+fakeAPIVersion)
	owned := false
	for _, prefix := range ownedPrefixes {
		owned = owned || (ok && strings.HasPrefix(p, prefix))
	}
	if !owned {
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.fakeDaemon.serve(w, r)
		return
	}

	w.Header().Set("Api-Version", fakeAPIVersion)
	w.Header().Set("Ostype", "linux")
	f.mu.Lock()
	defer f.mu.Unlock()
	req := fakeRequest{Method: r.Method, Path: p, Query: r.URL.Query(), Body: body}
	f.requests = append(f.requests, req)
	if fail, ok := f.failures[req.String()]; ok {
		writeFakeError(w, fail.status, fail.msg)
		return
	}
	status, reply, err := f.route(req)
	if err != nil {
		writeFakeError(w, status, err.Error())
		return
	}
	switch reply := reply.(type) {
	case rawReply:
		w.Header().Set("Content-Type", reply.contentType)
		w.WriteHeader(status)
		w.Write(reply.body)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if reply != nil {
			json.NewEncoder(w).Encode(reply)
		}
	}
}

// rawReply is a reply that is not one JSON value: a log stream, a JSON message stream.
type rawReply struct {
	contentType string
	body        []byte
}

// route answers one request; the caller holds f.mu.
func (f *fakeServiceAPI) route(r fakeRequest) (int, any, error) {
	what := r.String()
	switch {
	case what == "POST /services/create":
		return f.createService(r)
	case what == "GET /services":
		return 200, f.listServices(r), nil
	case r.Method == "GET" && strings.HasSuffix(r.Path, "/logs"):
		return 200, rawReply{"application/vnd.docker.multiplexed-stream", f.logs}, nil
	case strings.HasPrefix(what, "GET /services/"):
		i, err := f.findService(strings.TrimPrefix(r.Path, "/services/"))
		if err != nil {
			return 404, nil, err
		}
		return 200, f.services[i], nil
	case strings.HasPrefix(what, "POST /services/") && strings.HasSuffix(what, "/update"):
		return f.updateService(r)
	case strings.HasPrefix(what, "DELETE /services/"):
		i, err := f.findService(strings.TrimPrefix(r.Path, "/services/"))
		if err != nil {
			return 404, nil, err
		}
		f.services = append(f.services[:i], f.services[i+1:]...)
		return 200, nil, nil
	case what == "GET /tasks":
		f.taskLists++
		if f.onTaskList != nil {
			f.onTaskList(f, f.taskLists)
		}
		return 200, f.listTasks(r), nil
	case strings.HasPrefix(what, "GET /tasks/"):
		id := strings.TrimPrefix(r.Path, "/tasks/")
		for _, t := range f.tasks {
			if t.ID == id || strings.HasPrefix(t.ID, id) {
				return 200, t, nil
			}
		}
		return 404, nil, fmt.Errorf("task %s not found", id)
	case what == "POST /images/create":
		return 200, rawReply{"application/json", []byte(`{"status":"sha256:` + strings.Repeat("ab", 32) + "\"}\n")}, nil
	case what == "POST /images/load":
		return 200, rawReply{"application/json", []byte(`{"stream":"Loaded image: sleepy:1\n"}` + "\n")}, nil
	case what == "GET /images/json":
		return 200, f.images, nil
	case strings.HasPrefix(what, "DELETE /images/"):
		return f.removeImage(strings.TrimPrefix(r.Path, "/images/"))
	case strings.HasPrefix(what, "GET /distribution/"):
		if f.digest == "" {
			return 404, nil, errors.New("no such image")
		}
		return 200, rawReply{"application/json", []byte(`{"Descriptor":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` +
			f.digest + `","size":512},"Platforms":[{"architecture":"amd64","os":"linux"}]}`)}, nil
	}
	return 404, nil, errors.New("page not found")
}

func (f *fakeServiceAPI) createService(r fakeRequest) (int, any, error) {
	var spec swarm.ServiceSpec
	if err := json.Unmarshal(r.Body, &spec); err != nil {
		return 400, nil, err
	}
	for _, s := range f.services {
		if s.Spec.Name == spec.Name {
			return 409, nil, errors.New("rpc error: code = AlreadyExists desc = name conflicts with an existing object")
		}
	}
	f.nextID++
	id := fmt.Sprintf("newsvc%019d", f.nextID)
	f.services = append(f.services, swarm.Service{
		ID:   id,
		Meta: swarm.Meta{Version: swarm.Version{Index: 100}, CreatedAt: fixtureTime, UpdatedAt: fixtureTime},
		Spec: spec,
	})
	return 201, swarm.ServiceCreateResponse{ID: id}, nil
}

func (f *fakeServiceAPI) updateService(r fakeRequest) (int, any, error) {
	i, err := f.findService(strings.TrimSuffix(strings.TrimPrefix(r.Path, "/services/"), "/update"))
	if err != nil {
		return 404, nil, err
	}
	svc := &f.services[i]
	if got := r.Query.Get("version"); got != strconv.FormatUint(svc.Version.Index, 10) {
		return 500, nil, fmt.Errorf("rpc error: code = Unknown desc = update out of sequence")
	}
	var spec swarm.ServiceSpec
	if err := json.Unmarshal(r.Body, &spec); err != nil {
		return 400, nil, err
	}
	if r.Query.Get("rollback") == "previous" {
		if svc.PreviousSpec == nil {
			return 400, nil, errors.New("service has no previous spec")
		}
		spec = *svc.PreviousSpec
	}
	old := svc.Spec
	svc.PreviousSpec = &old
	svc.Spec = spec
	svc.Version.Index++
	return 200, swarm.ServiceUpdateResponse{}, nil
}

// findService finds a service by ID, name or unique ID prefix, as the daemon does.
func (f *fakeServiceAPI) findService(ref string) (int, error) {
	found := -1
	for i, s := range f.services {
		if s.ID == ref || s.Spec.Name == ref {
			return i, nil
		}
		if strings.HasPrefix(s.ID, ref) {
			if found >= 0 {
				return -1, fmt.Errorf("service %s is ambiguous", ref)
			}
			found = i
		}
	}
	if found < 0 {
		return -1, fmt.Errorf("service %s not found", ref)
	}
	return found, nil
}

func queryFilters(r fakeRequest) map[string]map[string]bool {
	var filters map[string]map[string]bool
	if q := r.Query.Get("filters"); q != "" {
		json.Unmarshal([]byte(q), &filters)
	}
	return filters
}

// matchAny reports whether no values are asked for, or match says one fits.
func matchAny(values map[string]bool, match func(string) bool) bool {
	if len(values) == 0 {
		return true
	}
	for v := range values {
		if match(v) {
			return true
		}
	}
	return false
}

func (f *fakeServiceAPI) listServices(r fakeRequest) []swarm.Service {
	filters := queryFilters(r)
	out := []swarm.Service{}
	for _, s := range f.services {
		if !matchAny(filters["id"], func(v string) bool { return strings.HasPrefix(s.ID, v) }) ||
			!matchAny(filters["name"], func(v string) bool { return strings.HasPrefix(s.Spec.Name, v) }) {
			continue
		}
		if r.Query.Get("status") != "true" {
			s.ServiceStatus = nil
		}
		out = append(out, s)
	}
	return out
}

func (f *fakeServiceAPI) listTasks(r fakeRequest) []swarm.Task {
	filters := queryFilters(r)
	out := []swarm.Task{}
	for _, t := range f.tasks {
		if matchAny(filters["service"], func(v string) bool { return t.ServiceID == v }) &&
			matchAny(filters["node"], func(v string) bool { return t.NodeID == v }) &&
			matchAny(filters["desired-state"], func(v string) bool { return string(t.DesiredState) == v }) {
			out = append(out, t)
		}
	}
	return out
}

func (f *fakeServiceAPI) removeImage(ref string) (int, any, error) {
	for i, img := range f.images {
		for _, tag := range img.RepoTags {
			if short := familiarImage(tag); short == ref || short == ref+":latest" {
				f.images = append(f.images[:i], f.images[i+1:]...)
				return 200, []image.DeleteResponse{{Untagged: tag}, {Deleted: img.ID}}, nil
			}
		}
		if strings.HasPrefix(strings.TrimPrefix(img.ID, "sha256:"), ref) {
			return 409, nil, fmt.Errorf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", ref)
		}
	}
	return 404, nil, fmt.Errorf("No such image: %s", ref)
}

// IDs of the fixture services and tasks (25 characters, like swarm's).
const (
	idWeb    = "websvcabcdefghijklmnopqrs"
	idAPI    = "apisvcabcdefghijklmnopqrs"
	idDB     = "dbsvc0abcdefghijklmnopqrs"
	idCache2 = "cache2abcdefghijklmnopqrs"
	idCache0 = "cache10bcdefghijklmnopqrs"
)

// newServicesDaemon is newServiceDaemon with the fixture services, tasks and images.
func newServicesDaemon(t *testing.T) *fakeServiceAPI {
	f := newServiceDaemon(t)
	f.services = fixtureServices()
	f.tasks = fixtureTasks()
	f.images = fixtureImages()
	return f
}

func fixtureServices() []swarm.Service {
	svc := func(id, name, image string, replicas *uint64, running, desired uint64) swarm.Service {
		s := swarm.Service{
			ID:   id,
			Meta: swarm.Meta{Version: swarm.Version{Index: 30}, CreatedAt: fixtureTime, UpdatedAt: fixtureTime},
			Spec: swarm.ServiceSpec{
				Annotations:  swarm.Annotations{Name: name},
				TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: image}},
				EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeVIP},
			},
			ServiceStatus: &swarm.ServiceStatus{RunningTasks: running, DesiredTasks: desired},
		}
		if replicas != nil {
			s.Spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: replicas}
		} else {
			s.Spec.Mode.Global = &swarm.GlobalService{}
		}
		return s
	}
	web := svc(idWeb, "web", "sleepy:1@sha256:"+strings.Repeat("a", 64), ptr[uint64](3), 2, 3)
	web.Spec.Labels = map[string]string{"tier": "front", "team": ""}
	web.Spec.TaskTemplate.ContainerSpec.Env = []string{"VERSION=1", "GREETING=hi"}
	web.Spec.TaskTemplate.ContainerSpec.Args = []string{"--port", "8080"}
	web.Spec.TaskTemplate.Placement = &swarm.Placement{
		Constraints: []string{"node.role==worker"},
		Preferences: []swarm.PlacementPreference{{Spread: &swarm.SpreadOver{SpreadDescriptor: "node.labels.zone"}}},
	}
	web.Spec.TaskTemplate.Resources = &swarm.ResourceRequirements{
		Limits:       &swarm.Limit{NanoCPUs: 5e8, MemoryBytes: 64 << 20, Pids: 100},
		Reservations: &swarm.Resources{MemoryBytes: 32 << 20},
	}
	web.Spec.UpdateConfig = &swarm.UpdateConfig{Parallelism: 1, Delay: 10 * time.Second, FailureAction: "pause",
		Monitor: 5 * time.Second, Order: "start-first"}
	web.Spec.RollbackConfig = &swarm.UpdateConfig{Parallelism: 1, FailureAction: "pause", Monitor: 5 * time.Second, Order: "stop-first"}
	web.Spec.EndpointSpec.Ports = []swarm.PortConfig{{Protocol: "tcp", TargetPort: 8080, PublishedPort: 8080, PublishMode: "ingress"}}
	web.Endpoint.Ports = web.Spec.EndpointSpec.Ports
	started := fixtureTime.Add(50 * time.Minute)
	web.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateUpdating, StartedAt: &started, Message: "update in progress"}

	api := svc(idAPI, "api", "docker.io/library/busybox:latest", nil, 3, 3)
	api.Spec.TaskTemplate.ContainerSpec.Healthcheck = &container.HealthConfig{
		Test: []string{"CMD-SHELL", "wget -q -O- localhost:8080"}, Interval: 30 * time.Second, Timeout: 3 * time.Second, Retries: 3,
	}
	db := svc(idDB, "db", "postgres@sha256:"+strings.Repeat("b", 64), ptr[uint64](1), 1, 1)
	db.Spec.TaskTemplate.Placement = &swarm.Placement{MaxReplicas: 1}
	cache2 := svc(idCache2, "cache-2", "redis:7", ptr[uint64](2), 0, 2)
	cache2.Endpoint.Ports = []swarm.PortConfig{
		{Protocol: "udp", TargetPort: 53, PublishedPort: 5353, PublishMode: "ingress"},
		{Protocol: "tcp", TargetPort: 6380, PublishedPort: 30001, PublishMode: "ingress"},
		{Protocol: "tcp", TargetPort: 6379, PublishedPort: 30000, PublishMode: "ingress"},
		{Protocol: "tcp", TargetPort: 9000, PublishedPort: 9000, PublishMode: "host"},
	}
	cache10 := svc(idCache0, "cache-10", "redis:7", ptr[uint64](0), 0, 0)
	// The daemon's order is not the listing's.
	return []swarm.Service{cache10, web, db, api, cache2}
}

func fixtureTasks() []swarm.Task {
	task := func(id, serviceID string, slot int, node string, desired, state swarm.TaskState, image string, age time.Duration) swarm.Task {
		at := fixtureTime.Add(time.Hour - age)
		return swarm.Task{
			ID:           id,
			Meta:         swarm.Meta{Version: swarm.Version{Index: 40}, CreatedAt: at, UpdatedAt: at},
			ServiceID:    serviceID,
			Slot:         slot,
			NodeID:       node,
			DesiredState: desired,
			Status:       swarm.TaskStatus{Timestamp: at, State: state},
			Spec:         swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: image}},
		}
	}
	img1 := "sleepy:1@sha256:" + strings.Repeat("a", 64)
	img0 := "sleepy:0@sha256:" + strings.Repeat("c", 64)
	web1 := task("webt1currentabcdefghijklm", idWeb, 1, idWorker1, "running", "running", img1, 5*time.Minute)
	web1old := task("webt1previousbcdefghijklm", idWeb, 1, idWorker1, "shutdown", "shutdown", img0, 2*time.Hour)
	web1older := task("webt1oldestabcdefghijklmn", idWeb, 1, idWorker2, "shutdown", "failed", img0, 3*time.Hour)
	web1older.Status.Err = "task: non-zero exit (137): killed by the kernel for using too much memory"
	web2 := task("webt2currentabcdefghijklm", idWeb, 2, idManager1, "running", "running", img1, 30*time.Second)
	web2.Status.PortStatus.Ports = []swarm.PortConfig{{Protocol: "tcp", TargetPort: 9000, PublishedPort: 9000, PublishMode: "host"}}
	web10 := task("webt10pendingbcdefghijklm", idWeb, 10, "", "running", "pending", img1, 90*time.Second)
	web10.Status.Err = "no suitable node (scheduling constraints not satisfied on 6 nodes)"
	api1 := task("apitmanager1bcdefghijklmn", idAPI, 0, idManager1, "running", "running", "busybox:latest", 3*24*time.Hour)
	api2 := task("apitworker1abcdefghijklmn", idAPI, 0, idWorker1, "running", "starting", "busybox:latest", time.Second/2)
	db1 := task("dbtask1abcdefghijklmnopqr", idDB, 1, idWorker1, "running", "running", "postgres@sha256:"+strings.Repeat("b", 64), 10*24*time.Hour)
	return []swarm.Task{web2, web1older, api2, web10, web1, db1, web1old, api1}
}

func fixtureImages() []image.Summary {
	return []image.Summary{
		{ID: "sha256:" + strings.Repeat("1", 64), RepoTags: []string{"sleepy:1", "registry.local:5000/sleepy:1"},
			RepoDigests: []string{"sleepy@sha256:" + strings.Repeat("d", 64)}, Created: fixtureTime.Add(-2 * time.Hour).Unix(), Size: 4_812_345, SharedSize: -1, Containers: -1},
		{ID: "sha256:" + strings.Repeat("2", 64), RepoTags: []string{"sleepy:2"}, Created: fixtureTime.Add(-time.Hour).Unix(), Size: 4_812_999, SharedSize: -1, Containers: -1},
		{ID: "sha256:" + strings.Repeat("3", 64), RepoTags: []string{"docker.io/library/busybox:latest"}, Created: fixtureTime.Add(-30 * 24 * time.Hour).Unix(), Size: 2_156_000, SharedSize: -1, Containers: -1},
		{ID: "sha256:" + strings.Repeat("4", 64), Created: fixtureTime.Add(-3 * time.Hour).Unix(), Size: 1_000, SharedSize: -1, Containers: -1},
	}
}

// logStream multiplexes log lines as the daemon sends them, one frame per line: an
// 8-byte header (stream, three zero bytes, big-endian length) and the line.
func logStream(lines ...logLine) []byte {
	var buf bytes.Buffer
	for _, l := range lines {
		header := make([]byte, 8)
		header[0] = byte(stdcopy.Stdout)
		if l.stderr {
			header[0] = byte(stdcopy.Stderr)
		}
		binary.BigEndian.PutUint32(header[4:], uint32(len(l.text)))
		buf.Write(header)
		buf.WriteString(l.text)
	}
	return buf.Bytes()
}

type logLine struct {
	text   string
	stderr bool
}
