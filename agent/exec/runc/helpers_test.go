package runc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"

	shoalexec "github.com/shoal/shoal/agent/exec"
	"github.com/shoal/shoal/internal/ids"
)

// testCgroupParent keeps test containers' cgroups apart from a real daemon's, and from
// another test process's (which may remove its parent when it ends).
// A helper process (crash_test.go) uses its parent's.
var testCgroupParent = cmp.Or(os.Getenv("SHOAL_HELPER_CGROUP"), fmt.Sprintf("/shoal-test-%d", os.Getpid()))

func TestMain(m *testing.M) {
	code := m.Run()
	if layerDir != "" && os.Getenv("SHOAL_HELPER_LAYER") == "" {
		_ = os.RemoveAll(layerDir)
	}
	// The per-container cgroups are each test's to remove; the shared parent is ours.
	if os.Getenv("SHOAL_HELPER_CGROUP") == "" {
		mounts, _ := cgroupMounts()
		for _, mnt := range mounts {
			_ = os.Remove(filepath.Join(mnt, testCgroupParent))
		}
	}
	os.Exit(code)
}

// needRoot skips tests that make real containers where they cannot run.
func needRoot(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("makes real containers (mounts, namespaces, cgroups); skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes mounts, namespaces and cgroups")
	}
	for _, tool := range []string{"runc", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs a static /bin/busybox for the test image")
	}
}

// testImages is an image store with one busybox image, made from the node's static busybox:
// a layer with the binary, its applets as symlinks, and a passwd and group with a user.
type testImages struct {
	images map[string]shoalexec.Image
}

func (ti *testImages) Image(ref string) (shoalexec.Image, error) {
	img, ok := ti.images[ref]
	if !ok {
		return shoalexec.Image{}, fmt.Errorf("No such image: %s", ref)
	}
	return img, nil
}

var (
	layerOnce sync.Once
	layerDir  string
	layerErr  error
)

// busyboxLayer makes the busybox layer once per test binary, in a directory removed at exit.
func busyboxLayer(t *testing.T) string {
	t.Helper()
	layerOnce.Do(func() {
		if dir := os.Getenv("SHOAL_HELPER_LAYER"); dir != "" {
			layerDir = dir // a helper process uses its parent's layer and leaves it be
			return
		}
		dir, err := os.MkdirTemp("", "shoal-busybox-layer-")
		if err != nil {
			layerErr = err
			return
		}
		layerDir = dir
		layerErr = makeBusyboxLayer(dir)
	})
	if layerErr != nil {
		t.Fatal(layerErr)
	}
	return layerDir
}

func makeBusyboxLayer(dir string) error {
	for _, d := range []string{"bin", "etc", "tmp", "root", "home/app"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o1777)
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), bb, 0o755); err != nil {
		return err
	}
	out, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		return err
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet != "busybox" && !strings.Contains(applet, "/") {
			os.Symlink("busybox", filepath.Join(dir, "bin", applet))
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
		"etc/group":  "root:x:0:\napp:x:1000:\nextra:x:2000:app\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// newTestExecutor makes an executor on a fresh root with the busybox image as "busybox".
func newTestExecutor(t *testing.T, root string, opts ...func(*Options)) *Executor {
	t.Helper()
	needRoot(t)
	if root == "" {
		root = t.TempDir()
	}
	o := Options{
		Root:         root,
		CgroupParent: testCgroupParent,
		ResolvConf:   []byte("# test\n"),
		Logger:       slog.New(slog.NewTextHandler(testLogWriter{t}, nil)),
		Images: &testImages{images: map[string]shoalexec.Image{
			"busybox": {
				ID: "sha256:test",
				Config: shoalexec.ImageConfig{
					Env: []string{"PATH=/bin", "FROM_IMAGE=yes", "OVERRIDDEN=image"},
					Cmd: []string{"/bin/sh"},
				},
				LayerDirs: []string{busyboxLayer(t)},
			},
		}},
	}
	for _, f := range opts {
		f(&o)
	}
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// testLogWriter sends the executor's log to the test's.
type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// testTask makes a task running a busybox shell command.
func testTask(script string) *swarm.Task {
	return &swarm.Task{
		ID:        ids.New(),
		ServiceID: "svc",
		Slot:      1,
		Spec: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{
			Image:   "busybox",
			Command: []string{"/bin/sh", "-c", script},
		}},
	}
}

// run prepares and starts a task's container and removes it when the test ends.
func run(t *testing.T, e *Executor, task *swarm.Task) shoalexec.Controller {
	t.Helper()
	c := prepare(t, e, task)
	if err := c.Start(ctx(t)); err != nil {
		t.Fatalf("start: %v", err)
	}
	return c
}

func prepare(t *testing.T, e *Executor, task *swarm.Task) shoalexec.Controller {
	t.Helper()
	c, err := e.Controller(task)
	if err != nil {
		t.Fatal(err)
	}
	dir := e.dir(task.ID)
	t.Cleanup(func() {
		// As a restarted daemon would: close the test's executor, remove through a new one.
		e.Close()
		e2, err := New(e.opts)
		if err != nil {
			t.Error(err)
			return
		}
		defer e2.Close()
		c2, _ := e2.Controller(task)
		if err := c2.Remove(context.Background()); err != nil {
			t.Errorf("cleanup remove %s: %v", task.ID, err)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("cleanup left %s", dir)
		}
	})
	if err := c.Prepare(ctx(t)); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func wait(t *testing.T, c shoalexec.Controller) shoalexec.ExitStatus {
	t.Helper()
	st, err := c.Wait(ctx(t))
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return st
}

// output is everything the container wrote, stdout and stderr.
func output(t *testing.T, c shoalexec.Controller) string {
	t.Helper()
	var b strings.Builder
	err := c.Logs(ctx(t), shoalexec.LogsOptions{}, func(m shoalexec.LogMessage) error {
		b.Write(m.Line)
		return nil
	})
	if err != nil {
		t.Fatalf("logs: %v", err)
	}
	return b.String()
}

// eventually polls cond until it holds or a generous bound passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertGone checks that nothing of a container is left on the node: no bundle, no mount
// under the root, no netns of ours, no cgroup, no runc state, no process.
func assertGone(t *testing.T, e *Executor, id string, pids ...int) {
	t.Helper()
	if _, err := os.Stat(e.dir(id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bundle %s still there (%v)", e.dir(id), err)
	}
	if mounts, _ := mountsUnder(e.dir(id)); len(mounts) > 0 {
		t.Errorf("mounts left: %v", mounts)
	}
	if _, err := os.Lstat(filepath.Join(netnsDir, netnsName(id))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("network namespace %s still there", netnsName(id))
	}
	if dirs := cgroupDirs(filepath.Join(e.opts.CgroupParent, id)); len(dirs) > 0 {
		t.Errorf("cgroups left: %v", dirs)
	}
	states, err := e.runc.list(context.Background())
	if err != nil {
		t.Error(err)
	}
	for _, st := range states {
		if st.ID == id {
			t.Errorf("runc still lists %+v", st)
		}
	}
	for _, pid := range pids {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !strings.Contains(string(b), ") Z ") {
			t.Errorf("process %d still runs", pid)
		}
	}
	entries, _ := os.ReadDir("/proc")
	for _, ent := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), id) {
			t.Errorf("process %s still mentions the container: %q", ent.Name(), cmdline)
		}
	}
}

// healthRecorder collects the health statuses an executor reports.
type healthRecorder struct {
	mu       sync.Mutex
	statuses []container.HealthStatus
}

func (r *healthRecorder) record(_ string, h container.Health) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = append(r.statuses, h.Status)
}

func (r *healthRecorder) seen() []container.HealthStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]container.HealthStatus(nil), r.statuses...)
}
