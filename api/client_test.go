package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// TestMobyClient drives the server with the real moby Go client (what the docker CLI is
// built on), so the wire shapes are the ones the client sends and expects, not ones the
// test assumed.
func TestMobyClient(t *testing.T) {
	fake := newFakeBackend()
	c, paths := newMobyClient(t, fake)
	ctx := context.Background()

	ping, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if ping.APIVersion != "1.56" || ping.OSType != "linux" || ping.SwarmStatus == nil ||
		ping.SwarmStatus.NodeState != swarm.LocalNodeStateActive || !ping.SwarmStatus.ControlAvailable {
		t.Errorf("Ping = %+v (swarm %+v), want API 1.56, linux, active manager", ping, ping.SwarmStatus)
	}

	info, err := c.Info(ctx, client.InfoOptions{})
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Info.Name != "manager-1" || info.Info.Swarm.NodeID != "n1" {
		t.Errorf("Info = %+v", info.Info)
	}

	spec := swarm.Spec{Annotations: swarm.Annotations{Name: "default"}}
	initRes, err := c.SwarmInit(ctx, client.SwarmInitOptions{ListenAddr: "0.0.0.0:2377", AdvertiseAddr: "10.0.0.1", Spec: spec, Availability: swarm.NodeAvailabilityActive})
	if err != nil {
		t.Fatalf("SwarmInit: %v", err)
	}
	if initRes.NodeID != "n1" {
		t.Errorf("SwarmInit node ID = %q, want n1", initRes.NodeID)
	}
	if calls := fake.callsTo("SwarmInit"); len(calls) != 1 {
		t.Errorf("SwarmInit calls = %v", calls)
	} else if req := calls[0][0].(swarm.InitRequest); req.ListenAddr != "0.0.0.0:2377" || req.AdvertiseAddr != "10.0.0.1" ||
		req.Spec.Name != "default" || req.Availability != swarm.NodeAvailabilityActive {
		t.Errorf("backend got init request %+v", req)
	}

	list, err := c.NodeList(ctx, client.NodeListOptions{Filters: make(client.Filters).Add("role", "worker").Add("name", "worker-1", "w2")})
	if err != nil {
		t.Fatalf("NodeList: %v", err)
	}
	if len(list.Items) != 1 || list.Items[0].ID != "n2" {
		t.Errorf("NodeList = %+v, want only n2", list.Items)
	}
	wantFilters := NodeListFilters{Role: []string{"worker"}, Name: []string{"w2", "worker-1"}}
	if calls := fake.callsTo("NodeList"); len(calls) != 1 || !reflect.DeepEqual(calls[0][0], wantFilters) {
		t.Errorf("NodeList calls = %+v, want filters %+v", calls, wantFilters)
	}

	nodeSpec := swarm.NodeSpec{Annotations: swarm.Annotations{Labels: map[string]string{"zone": "a"}}, Role: swarm.NodeRoleWorker, Availability: swarm.NodeAvailabilityDrain}
	if _, err := c.NodeUpdate(ctx, "n2", client.NodeUpdateOptions{Version: swarm.Version{Index: 42}, Spec: nodeSpec}); err != nil {
		t.Fatalf("NodeUpdate: %v", err)
	}
	if calls := fake.callsTo("NodeUpdate"); len(calls) != 1 || calls[0][0] != "n2" || calls[0][1] != uint64(42) || !reflect.DeepEqual(calls[0][2], nodeSpec) {
		t.Errorf("NodeUpdate calls = %+v, want n2, 42, %+v", calls, nodeSpec)
	}

	if _, err := c.NodeRemove(ctx, "n2", client.NodeRemoveOptions{Force: true}); err != nil {
		t.Fatalf("NodeRemove: %v", err)
	}
	if calls := fake.callsTo("NodeRemove"); len(calls) != 1 || calls[0][0] != "n2" || calls[0][1] != true {
		t.Errorf("NodeRemove calls = %+v, want n2 forced", calls)
	}

	_, err = c.NodeRemove(ctx, "ghost", client.NodeRemoveOptions{})
	if !cerrdefs.IsNotFound(err) || !strings.Contains(err.Error(), "No such node: ghost") {
		t.Errorf("NodeRemove(ghost) err = %v, want a not-found error saying No such node: ghost", err)
	}

	checkNegotiatedPrefix(t, paths())
}

// newMobyClient serves b on a test server and returns a moby client for it, with a
// function listing the "METHOD path" of every request the server received.
func newMobyClient(t *testing.T, b Backend) (*client.Client, func() []string) {
	t.Helper()
	var (
		mu    sync.Mutex
		paths []string
	)
	h := NewHandler(b, Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	c, err := client.New(client.WithHost("tcp://"+strings.TrimPrefix(srv.URL, "http://")), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(paths)
	}
}

func checkNegotiatedPrefix(t *testing.T, paths []string) {
	t.Helper()
	for _, p := range paths {
		if !strings.Contains(p, "/_ping") && !strings.Contains(p, " /v1.56/") {
			t.Errorf("client request %q did not use the negotiated /v1.56 prefix", p)
		}
	}
}

// TestMobyClientServicesAndImages is TestMobyClient for the service, task and image
// endpoints, including the streams the client demultiplexes or decodes.
func TestMobyClientServicesAndImages(t *testing.T) {
	fake := newFakeBackend()
	c, paths := newMobyClient(t, fake)
	ctx := context.Background()
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	replicas := uint64(2)
	spec := swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: "web", Labels: map[string]string{"tier": "front"}},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "sleepy:1", Args: []string{"-d"}}},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
	}
	created, err := c.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec, EncodedRegistryAuth: "e30="})
	if err != nil {
		t.Fatalf("ServiceCreate: %v", err)
	}
	if created.ID != "s-new" {
		t.Errorf("ServiceCreate ID = %q, want s-new", created.ID)
	}
	if calls := fake.callsTo("ServiceCreate"); len(calls) != 1 || !reflect.DeepEqual(calls[0][0], spec) {
		t.Errorf("ServiceCreate calls = %+v, want %+v", calls, spec)
	}

	list, err := c.ServiceList(ctx, client.ServiceListOptions{Status: true, Filters: make(client.Filters).Add("mode", "replicated")})
	if err != nil {
		t.Fatalf("ServiceList: %v", err)
	}
	if len(list.Items) != 1 || list.Items[0].ServiceStatus == nil || list.Items[0].ServiceStatus.RunningTasks != 1 {
		t.Errorf("ServiceList = %+v, want web with its status", list.Items)
	}
	if calls := fake.callsTo("ServiceList"); len(calls) != 1 || calls[0][1] != true ||
		!reflect.DeepEqual(calls[0][0], ServiceListFilters{Mode: []string{"replicated"}}) {
		t.Errorf("ServiceList calls = %+v, want mode=replicated with status", calls)
	}

	inspect, err := c.ServiceInspect(ctx, "web", client.ServiceInspectOptions{InsertDefaults: true})
	if err != nil {
		t.Fatalf("ServiceInspect: %v", err)
	}
	if calls := fake.callsTo("ServiceInspect"); inspect.Service.ID != "s1" || len(calls) != 1 || calls[0][1] != true {
		t.Errorf("ServiceInspect = %+v, calls %+v; want s1 with insertDefaults", inspect.Service, calls)
	}

	spec.TaskTemplate.ForceUpdate = 1
	updated, err := c.ServiceUpdate(ctx, "web", client.ServiceUpdateOptions{Version: inspect.Service.Version, Spec: spec})
	if err != nil {
		t.Fatalf("ServiceUpdate: %v", err)
	}
	if len(updated.Warnings) != 1 {
		t.Errorf("ServiceUpdate warnings = %q, want the backend's one", updated.Warnings)
	}
	if calls := fake.callsTo("ServiceUpdate"); len(calls) != 1 || calls[0][0] != "web" || calls[0][1] != uint64(7) ||
		calls[0][2].(swarm.ServiceSpec).TaskTemplate.ForceUpdate != 1 {
		t.Errorf("ServiceUpdate calls = %+v, want web at version 7", calls)
	}

	logs, err := c.ServiceLogs(ctx, "web", client.ServiceLogsOptions{ShowStdout: true, ShowStderr: true, Since: "10m", Tail: "all"})
	if err != nil {
		t.Fatalf("ServiceLogs: %v", err)
	}
	var stdout, stderr strings.Builder
	_, err = stdcopy.StdCopy(&stdout, &stderr, logs)
	logs.Close()
	if err != nil || stdout.String() != "hello from web.1\n" {
		t.Errorf("ServiceLogs stdout = %q, err %v", stdout.String(), err)
	}
	if calls := fake.callsTo("ServiceLogs"); len(calls) != 1 {
		t.Errorf("ServiceLogs calls = %+v", calls)
	} else if opts := calls[0][1].(LogsOptions); opts.Tail != -1 || time.Since(opts.Since) < 9*time.Minute || time.Since(opts.Since) > 11*time.Minute {
		t.Errorf("ServiceLogs options = %+v, want all lines since ten minutes ago", opts)
	}

	tasks, err := c.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", "web").Add("desired-state", "running")})
	if err != nil {
		t.Fatalf("TaskList: %v", err)
	}
	if len(tasks.Items) != 1 || tasks.Items[0].ID != "t1" {
		t.Errorf("TaskList = %+v, want t1", tasks.Items)
	}
	wantTaskFilters := TaskListFilters{Service: []string{"web"}, DesiredState: []string{"running"}}
	if calls := fake.callsTo("TaskList"); len(calls) != 1 || !reflect.DeepEqual(calls[0][0], wantTaskFilters) {
		t.Errorf("TaskList calls = %+v, want %+v", calls, wantTaskFilters)
	}

	taskLogs, err := c.TaskLogs(ctx, "t1", client.TaskLogsOptions{ShowStdout: true}) // sends tail= empty
	if err != nil {
		t.Fatalf("TaskLogs: %v", err)
	}
	_, err = stdcopy.StdCopy(io.Discard, io.Discard, taskLogs)
	taskLogs.Close()
	if err != nil {
		t.Errorf("TaskLogs stream: %v", err)
	}

	if _, err := c.ServiceRemove(ctx, "web", client.ServiceRemoveOptions{}); err != nil {
		t.Fatalf("ServiceRemove: %v", err)
	}
	_, err = c.ServiceInspect(ctx, "ghost", client.ServiceInspectOptions{})
	if !cerrdefs.IsNotFound(err) {
		t.Errorf("ServiceInspect(ghost) err = %v, want not found", err)
	}

	images, err := c.ImageList(ctx, client.ImageListOptions{All: true})
	if err != nil {
		t.Fatalf("ImageList: %v", err)
	}
	if len(images.Items) != 1 || images.Items[0].RepoTags[0] != "sleepy:1" {
		t.Errorf("ImageList = %+v", images.Items)
	}
	if calls := fake.callsTo("ImageList"); len(calls) != 1 || calls[0][0] != true {
		t.Errorf("ImageList calls = %+v, want all", calls)
	}

	rootfs := strings.Repeat("x", 3<<20)
	imported, err := c.ImageImport(ctx, client.ImageImportSource{Source: strings.NewReader(rootfs), SourceName: "-"}, "sleepy:1",
		client.ImageImportOptions{Message: "imported", Changes: []string{"ENV A=1", "CMD sleep"}})
	if err != nil {
		t.Fatalf("ImageImport: %v", err)
	}
	progress, err := io.ReadAll(imported)
	imported.Close()
	if err != nil || !strings.Contains(string(progress), fmt.Sprintf(`"status":"sha256:5a1e (%d bytes)"`, len(rootfs))) {
		t.Errorf("ImageImport progress = %q, err %v; want the ID after the whole body", progress, err)
	}
	wantImport := ImageImportOptions{FromSrc: "-", Repo: "sleepy:1", Message: "imported", Changes: []string{"ENV A=1", "CMD sleep"}}
	if calls := fake.callsTo("ImageImport"); len(calls) != 1 || !reflect.DeepEqual(calls[0][0], wantImport) {
		t.Errorf("ImageImport calls = %+v, want %+v", calls, wantImport)
	}

	loaded, err := c.ImageLoad(ctx, strings.NewReader("archive"), client.ImageLoadWithQuiet(true))
	if err != nil {
		t.Fatalf("ImageLoad: %v", err)
	}
	out, _ := io.ReadAll(loaded)
	loaded.Close()
	if !strings.Contains(string(out), "Loaded image: sleepy:1") {
		t.Errorf("ImageLoad output = %q", out)
	}

	removed, err := c.ImageRemove(ctx, "library/sleepy:1", client.ImageRemoveOptions{Force: true})
	if err != nil {
		t.Fatalf("ImageRemove: %v", err)
	}
	if len(removed.Items) != 2 || removed.Items[0].Untagged != "library/sleepy:1" {
		t.Errorf("ImageRemove = %+v", removed.Items)
	}
	if calls := fake.callsTo("ImageRemove"); len(calls) != 1 || !reflect.DeepEqual(calls[0], []any{"library/sleepy:1", true, true}) {
		t.Errorf("ImageRemove calls = %+v, want library/sleepy:1 forced without pruning", calls)
	}

	dist, err := c.DistributionInspect(ctx, "library/sleepy:1", client.DistributionInspectOptions{EncodedRegistryAuth: "e30="})
	if err != nil {
		t.Fatalf("DistributionInspect: %v", err)
	}
	if dist.Descriptor.Digest != "sha256:5a1e" || len(dist.Platforms) != 1 || dist.Platforms[0].Architecture != "amd64" {
		t.Errorf("DistributionInspect = %+v", dist)
	}
	if calls := fake.callsTo("DistributionInspect"); len(calls) != 1 || calls[0][0] != "library/sleepy:1" {
		t.Errorf("DistributionInspect calls = %+v", calls)
	}

	_, err = c.ImagePull(ctx, "sleepy:1", client.ImagePullOptions{})
	if !cerrdefs.IsNotImplemented(err) || !strings.Contains(err.Error(), "use shoal image import or image load") {
		t.Errorf("ImagePull err = %v, want not implemented, pointing at import and load", err)
	}

	checkNegotiatedPrefix(t, paths())
}

func TestMobyClientWithoutServicesOrImages(t *testing.T) {
	c, _ := newMobyClient(t, withoutWorkloads{newFakeBackend()})
	ctx := context.Background()
	_, err := c.ServiceList(ctx, client.ServiceListOptions{})
	if !cerrdefs.IsNotImplemented(err) || !strings.Contains(err.Error(), "services are not implemented yet") {
		t.Errorf("ServiceList err = %v, want not implemented", err)
	}
	_, err = c.ImageList(ctx, client.ImageListOptions{})
	if !cerrdefs.IsNotImplemented(err) || !strings.Contains(err.Error(), "images are not implemented yet") {
		t.Errorf("ImageList err = %v, want not implemented", err)
	}
}
