package daemon

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/agent/exec"
	"github.com/shoal/shoal/agent/exec/exectest"
	"github.com/shoal/shoal/internal/apierr"
	"github.com/shoal/shoal/internal/clock"
)

// newContainerDaemon is a daemon outside any swarm whose fake executor runs t1 (service s1,
// slot 1) and has t2 exited; it is not serving, so only its backend methods are used.
func newContainerDaemon(t *testing.T) (*Daemon, *exectest.Executor) {
	t.Helper()
	fake := exectest.New(clock.Real{})
	d, err := New(Config{
		DataRoot: filepath.Join(t.TempDir(), "data"),
		Host:     "unix:///unused.sock",
		Hostname: "node-1",
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Executor: fake,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.execs.stop)
	startFakeTask(t, fake, "t1")
	startFakeTask(t, fake, "t2")
	if err := fake.Exit("t2", 3); err != nil {
		t.Fatal(err)
	}
	return d, fake
}

// startFakeTask runs task tN (slot N of service s1) in the fake executor.
func startFakeTask(t *testing.T, fake *exectest.Executor, id string) {
	t.Helper()
	slot, _ := strconv.Atoi(strings.TrimPrefix(id, "t"))
	c, _ := fake.Controller(&swarm.Task{ID: id, ServiceID: "s1", Slot: slot, Spec: swarm.TaskSpec{
		ContainerSpec: &swarm.ContainerSpec{Image: "busybox", Command: []string{"sleep", "3600"}, Env: []string{"A=1"}, Labels: map[string]string{"tier": "web"}},
	}})
	if err := c.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func hasContainer(list []exec.ContainerInfo, id string) bool {
	return slices.ContainsFunc(list, func(c exec.ContainerInfo) bool { return c.ID == id })
}

func TestContainerListAndInspect(t *testing.T) {
	d, _ := newContainerDaemon(t)
	ctx := context.Background()
	running, err := d.ContainerList(ctx, false)
	if err != nil || len(running) != 1 {
		t.Fatalf("running containers = %+v, %v; want t1 alone", running, err)
	}
	c := running[0]
	if c.ID != "t1" || c.Names[0] != "/s1.1.t1" || c.State != container.StateRunning || !strings.HasPrefix(c.Status, "Up ") || c.Command != "sleep 3600" || c.Image != "busybox" {
		t.Errorf("summary = %+v", c)
	}
	if c.Labels["com.docker.swarm.task.id"] != "t1" || c.Labels["com.docker.swarm.service.id"] != "s1" || c.Labels["tier"] != "web" {
		t.Errorf("labels = %v", c.Labels)
	}
	all, _ := d.ContainerList(ctx, true)
	if len(all) != 2 || all[1].State != container.StateExited || !strings.HasPrefix(all[1].Status, "Exited (3) ") {
		t.Errorf("all containers = %+v", all)
	}

	for _, ref := range []string{"t1", "/s1.1.t1", "s1.1.t1"} {
		insp, err := d.ContainerInspect(ctx, ref)
		if err != nil {
			t.Errorf("inspect %q: %v", ref, err)
			continue
		}
		if insp.ID != "t1" || insp.Name != "/s1.1.t1" || !insp.State.Running || insp.State.Pid == 0 || insp.Config.Tty ||
			insp.Path != "sleep" || strings.Join(insp.Args, " ") != "3600" || insp.Config.Env[0] != "A=1" || insp.State.StartedAt == "" {
			t.Errorf("inspect %q = %+v, state %+v, config %+v", ref, insp, insp.State, insp.Config)
		}
	}
	if _, err := d.ContainerInspect(ctx, "ghost"); apierr.KindOf(err) != apierr.KindNotFound || err.Error() != "No such container: ghost" {
		t.Errorf("inspect ghost = %v", err)
	}
}

func TestResolveContainer(t *testing.T) {
	list := []containerView{
		{ContainerInfo: exec.ContainerInfo{ID: "abc111", TaskID: "abc111"}, Name: "web.1.abc111"},
		{ContainerInfo: exec.ContainerInfo{ID: "abc222", TaskID: "abc222"}, Name: "web.2.abc222"},
		{ContainerInfo: exec.ContainerInfo{ID: "f00"}, Name: "f00"},
	}
	tests := []struct {
		ref, want string
		wantKind  apierr.Kind
	}{
		{"abc111", "abc111", 0},
		{"web.2.abc222", "abc222", 0},
		{"/web.2.abc222", "abc222", 0},
		{"abc1", "abc111", 0},
		{"abc", "", apierr.KindInvalid}, // ambiguous
		{"web.1", "", apierr.KindNotFound},
		{"f0", "f00", 0},
		{"", "", apierr.KindNotFound},
		{"zzz", "", apierr.KindNotFound},
	}
	for _, tt := range tests {
		got, err := resolveContainer(list, tt.ref)
		if tt.wantKind != 0 {
			if apierr.KindOf(err) != tt.wantKind {
				t.Errorf("resolve %q = %v, %v; want an error of kind %v", tt.ref, got.ID, err, tt.wantKind)
			}
			continue
		}
		if err != nil || got.ID != tt.want {
			t.Errorf("resolve %q = %q, %v; want %q", tt.ref, got.ID, err, tt.want)
		}
	}
}

func TestContainerName(t *testing.T) {
	tests := []struct {
		v    containerView
		want string
	}{
		{containerView{ContainerInfo: exec.ContainerInfo{ID: "t1", TaskID: "t1", ServiceID: "s1", Slot: 2}, ServiceName: "web"}, "web.2.t1"},
		{containerView{ContainerInfo: exec.ContainerInfo{ID: "t1", TaskID: "t1", ServiceID: "s1", Slot: 2}}, "s1.2.t1"},
		{containerView{ContainerInfo: exec.ContainerInfo{ID: "t1", TaskID: "t1", ServiceID: "s1"}, ServiceName: "agent", NodeID: "n1"}, "agent.n1.t1"},
		{containerView{ContainerInfo: exec.ContainerInfo{ID: "stray"}}, "stray"},
	}
	for _, tt := range tests {
		if got := containerName(tt.v); got != tt.want {
			t.Errorf("containerName(%+v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestContainerSummaryStatus(t *testing.T) {
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	exit := exec.ExitStatus{Code: 137, At: now.Add(-3 * time.Second)}
	tests := []struct {
		info exec.ContainerInfo
		want string
	}{
		{exec.ContainerInfo{State: exec.ContainerRunning, StartedAt: now.Add(-5 * time.Minute)}, "Up 5 minutes"},
		{exec.ContainerInfo{State: exec.ContainerExited, Exit: &exit}, "Exited (137) 3 seconds ago"},
		{exec.ContainerInfo{State: exec.ContainerPrepared}, "Created"},
		{exec.ContainerInfo{State: exec.ContainerBroken}, "Dead"},
	}
	for _, tt := range tests {
		if got := containerSummary(containerView{ContainerInfo: tt.info}, now).Status; got != tt.want {
			t.Errorf("status of %v = %q, want %q", tt.info.State, got, tt.want)
		}
	}
}

// TestContainerNamesOnAManager: a manager knows its tasks' services, so their containers
// get Docker's names and labels, and can be found by name.
func TestContainerNamesOnAManager(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process node: a few seconds")
	}
	n := startTestNode(t, "node-1", "127.0.11.1")
	ctx := context.Background()
	nodeID, err := n.d.SwarmInit(ctx, swarm.InitRequest{ListenAddr: n.addr, AdvertiseAddr: n.addr})
	if err != nil {
		t.Fatal(err)
	}
	one := uint64(1)
	if _, err := n.d.ServiceCreate(ctx, swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: "web"},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "busybox"}},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
	}); err != nil {
		t.Fatal(err)
	}
	var list []container.Summary
	waitUntil(t, 20*time.Second, "the task's container to run", func() bool {
		list, _ = n.d.ContainerList(ctx, false)
		return len(list) == 1
	})
	c := list[0]
	if want := "/web.1." + c.ID; c.Names[0] != want {
		t.Errorf("name %q, want %q", c.Names[0], want)
	}
	if c.Labels["com.docker.swarm.service.name"] != "web" || c.Labels["com.docker.swarm.node.id"] != nodeID || c.Labels["com.docker.swarm.task.name"] != "web.1" {
		t.Errorf("labels %v", c.Labels)
	}
	if _, err := n.d.ExecCreate(ctx, "web.1."+c.ID, container.ExecCreateRequest{Cmd: []string{"true"}}); err != nil {
		t.Errorf("exec by name: %v", err)
	}
}
