package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoal/shoal/lab"
)

// TestServices walks services through one lab of 1 manager + 3 workers running the sample
// app (sleepy) in real runc containers: create spreads, the app answers inside each task's
// namespace, scale, drain and pause, rolling update and rollback, update failure actions,
// restart of a killed task, a worker killed with its containers and brought back, global
// mode following drains and a node leaving and joining, bad input, and removal that leaves
// nothing behind on any node. The subtests share
// the lab and run in order, each from the state the one before left; the first failure
// stops the rest.
func TestServices(t *testing.T) {
	needLab(t)
	images := sampleImages(t)
	started := time.Now()
	l := startLab(t, lab.Options{Name: "e2esvc", Managers: 1, Workers: 3, DispatcherHeartbeat: time.Second})
	t.Logf("lab up: 1 manager + 3 workers in %s", time.Since(started).Round(time.Millisecond))
	s := newServicesLab(t, l)
	s.loadImages(t, filepath.Join(images, "sleepy-1.docker.tar"), filepath.Join(images, "sleepy-2.docker.tar"))

	runSteps(t, []step{
		{"create-spreads", s.createSpreads},
		{"scale-up", s.scaleUp},
		{"drain-and-pause", s.drainAndPause},
		{"update-and-rollback", s.updateAndRollback},
		{"update-failure-actions", s.updateFailureActions},
		{"killed-task-restarts", s.killedTaskRestarts},
		{"killed-worker", s.killedWorker},
		{"global-mode", s.globalMode},
		{"bad-input", s.badInput},
		{"rm-leaves-nothing", s.rmLeavesNothing},
	})
	t.Logf("services walk done in %s", time.Since(started).Round(time.Millisecond))
}

// sampleImages returns the directory holding the sleepy images, packing them first
// (make sample-images at the repository root) when they are missing.
func sampleImages(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "build", "images")
	for _, f := range []string{"sleepy-1.docker.tar", "sleepy-2.docker.tar"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			continue
		}
		t.Logf("%s is missing: running make sample-images in %s", f, root)
		cmd := exec.Command("make", "sample-images")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make sample-images: %v\n%s", err, out)
		}
		break
	}
	return dir
}

const (
	svcMgr          = "manager-1"
	svcRestartDelay = 5 * time.Second // the default restart delay, which the services keep
)

// servicesLab is the shared lab and what the steps learn about it.
type servicesLab struct {
	l        *lab.Lab
	mc       *client.Client // the manager's API
	nodes    []string       // node names, manager first
	nodeID   map[string]string
	nodeName map[string]string // by ID

	mu   sync.Mutex
	seen map[string]bool // every task ID any listing returned, for the cleanup checks
}

func newServicesLab(t *testing.T, l *lab.Lab) *servicesLab {
	s := &servicesLab{l: l, mc: apiClient(t, l, svcMgr), nodeID: map[string]string{}, nodeName: map[string]string{}, seen: map[string]bool{}}
	for _, n := range l.Nodes() {
		s.nodes = append(s.nodes, n.Name)
	}
	eventually(t, 30*time.Second, "every node Ready in node ls", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := s.mc.NodeList(ctx, client.NodeListOptions{})
		if err != nil {
			return err
		}
		ready := 0
		for _, n := range res.Items {
			s.nodeID[n.Description.Hostname] = n.ID
			s.nodeName[n.ID] = n.Description.Hostname
			if n.Status.State == swarm.NodeStateReady {
				ready++
			}
		}
		if ready != len(s.nodes) {
			return fmt.Errorf("%d of %d nodes ready", ready, len(s.nodes))
		}
		return nil
	})
	return s
}

// loadImages loads the archives on every node (images are node-local).
func (s *servicesLab) loadImages(t *testing.T, archives ...string) {
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]string, len(s.nodes))
	for i, n := range s.nodes {
		wg.Go(func() {
			for _, a := range archives {
				if out, errOut, err := run(t, s.l, n, "image", "load", "-i", a); err != nil {
					errs[i] += fmt.Sprintf("image load -i %s on %s: %v\n%s%s", a, n, err, out, errOut)
				}
			}
		})
	}
	wg.Wait()
	if msg := strings.Join(errs, ""); msg != "" {
		t.Fatal(msg)
	}
	t.Logf("loaded %d images on %d nodes in %s", len(archives), len(s.nodes), time.Since(start).Round(time.Millisecond))
}

// tasks lists a service's tasks (history included) through the API.
func (s *servicesLab) tasks(service string) ([]swarm.Task, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := s.mc.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", service)})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	for _, tk := range res.Items {
		s.seen[tk.ID] = true
	}
	s.mu.Unlock()
	return res.Items, nil
}

func (s *servicesLab) mustTasks(t *testing.T, service string) []swarm.Task {
	t.Helper()
	ts, err := s.tasks(service)
	if err != nil {
		t.Fatalf("task list of %s: %v", service, err)
	}
	return ts
}

func (s *servicesLab) service(service string) (swarm.Service, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := s.mc.ServiceInspect(ctx, service, client.ServiceInspectOptions{})
	return res.Service, err
}

func (s *servicesLab) mustService(t *testing.T, service string) swarm.Service {
	t.Helper()
	svc, err := s.service(service)
	if err != nil {
		t.Fatalf("inspect %s: %v", service, err)
	}
	return svc
}

// running returns the tasks meant to run that do.
func runningTasks(ts []swarm.Task) []swarm.Task {
	var out []swarm.Task
	for _, tk := range ts {
		if tk.DesiredState == swarm.TaskStateRunning && tk.Status.State == swarm.TaskStateRunning {
			out = append(out, tk)
		}
	}
	return out
}

// taskImage is a task's image without a digest.
func taskImage(tk swarm.Task) string {
	if tk.Spec.ContainerSpec == nil {
		return ""
	}
	img, _, _ := strings.Cut(tk.Spec.ContainerSpec.Image, "@")
	return img
}

// describe summarises tasks for a failure message.
func (s *servicesLab) describe(ts []swarm.Task) string {
	ts = slices.Clone(ts)
	slices.SortFunc(ts, func(a, b swarm.Task) int {
		if a.Slot != b.Slot {
			return a.Slot - b.Slot
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	})
	var b strings.Builder
	for _, tk := range ts {
		fmt.Fprintf(&b, "\n  %.12s slot %d on %s %s: %s (desired %s) %s %s", tk.ID, tk.Slot, s.nodeName[tk.NodeID], taskImage(tk),
			tk.Status.State, tk.DesiredState, tk.Status.Message, tk.Status.Err)
	}
	return b.String()
}

// perNode counts tasks by node name.
func (s *servicesLab) perNode(ts []swarm.Task) map[string]int {
	m := map[string]int{}
	for _, tk := range ts {
		m[s.nodeName[tk.NodeID]]++
	}
	return m
}

// waitRunning waits until a service has exactly want running tasks that pass check (nil:
// any) and none meant to run that does not, and returns them.
func (s *servicesLab) waitRunning(t *testing.T, service string, want int, timeout time.Duration, check func(swarm.Task) error) ([]swarm.Task, time.Duration) {
	t.Helper()
	var got []swarm.Task
	took := eventually(t, timeout, fmt.Sprintf("%d running tasks of %s", want, service), func() error {
		ts, err := s.tasks(service)
		if err != nil {
			return err
		}
		got = runningTasks(ts)
		live := 0
		for _, tk := range ts {
			if tk.DesiredState == swarm.TaskStateRunning {
				live++
			}
		}
		if len(got) != want || live != want {
			return fmt.Errorf("%d running, %d meant to run:%s", len(got), live, s.describe(ts))
		}
		if check != nil {
			for _, tk := range got {
				if err := check(tk); err != nil {
					return fmt.Errorf("task %.12s (slot %d on %s): %w:%s", tk.ID, tk.Slot, s.nodeName[tk.NodeID], err, s.describe(ts))
				}
			}
		}
		return nil
	})
	return got, took
}

func imageIs(img string) func(swarm.Task) error {
	return func(tk swarm.Task) error {
		if got := taskImage(tk); got != img {
			return fmt.Errorf("runs %s, want %s", got, img)
		}
		return nil
	}
}

// serviceLine is one service's row of `service ls` in the given format.
func (s *servicesLab) serviceLine(t *testing.T, service, format string) string {
	t.Helper()
	out := mustRun(t, s.l, svcMgr, "service", "ls", "--filter", "name="+service, "--format", format)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == service {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// appAnswer is what sleepy said inside a task's network namespace.
type appAnswer struct {
	version            string
	received, replied  time.Time
	body, headers, err string
}

// askApp sends GET / to 127.0.0.1:8080 inside a task's network namespace with busybox wget
// (-S prints the response headers to stderr). Not -T: Debian's busybox 1.35 wget crashes
// with it; the context bounds the wait instead.
func askApp(taskID string) appAnswer {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ns := "shoal-" + taskID[:12]
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "/bin/busybox", "wget", "-S", "-q", "-O", "-", "http://127.0.0.1:8080/")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	var a appAnswer
	if err := cmd.Run(); err != nil {
		a.err = fmt.Sprintf("wget in netns %s: %v: %s", ns, err, errb.String())
		return a
	}
	a.body, a.headers = out.String(), errb.String()
	for _, line := range strings.Split(a.headers, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && strings.EqualFold(k, "X-Sleepy-Version") {
			a.version = strings.TrimSpace(v)
		}
	}
	recv, repl, ok := strings.Cut(strings.TrimSpace(a.body), ",")
	var err1, err2 error
	a.received, err1 = time.Parse(time.RFC3339Nano, recv)
	a.replied, err2 = time.Parse(time.RFC3339Nano, repl)
	if !ok || err1 != nil || err2 != nil {
		a.err = fmt.Sprintf("body %q is not two RFC3339Nano times, comma separated", a.body)
	}
	return a
}

// checkApp asks every task's app at once and checks each answers as sleepy of version.
func (s *servicesLab) checkApp(t *testing.T, ts []swarm.Task, version string) {
	t.Helper()
	answers := make([]appAnswer, len(ts))
	var wg sync.WaitGroup
	for i, tk := range ts {
		wg.Go(func() { answers[i] = askApp(tk.ID) })
	}
	wg.Wait()
	bad := 0
	for i, a := range answers {
		tk := ts[i]
		if a.err != "" || a.version != version || a.replied.Sub(a.received) < 900*time.Millisecond {
			bad++
		}
		switch {
		case a.err != "":
			t.Errorf("task %.12s on %s: %s", tk.ID, s.nodeName[tk.NodeID], a.err)
		case a.version != version:
			t.Errorf("task %.12s on %s: X-Sleepy-Version %q, want %q (headers:\n%s)", tk.ID, s.nodeName[tk.NodeID], a.version, version, a.headers)
		case a.replied.Sub(a.received) < 900*time.Millisecond:
			t.Errorf("task %.12s on %s: replied %s after receiving, want about 1s (body %q)", tk.ID, s.nodeName[tk.NodeID], a.replied.Sub(a.received), a.body)
		}
	}
	if len(ts) > 0 && bad == 0 {
		t.Logf("the app answers in all %d task namespaces with version %s; e.g. %q", len(ts), version, strings.TrimSpace(answers[0].body))
	}
}

// createSpreads: three replicas land on three different nodes and the app answers inside
// each task's network namespace with version 1.
func (s *servicesLab) createSpreads(t *testing.T) {
	start := time.Now()
	// Fast update and rollback settings keep the later steps short; the defaults of
	// everything else are docker's.
	mustRun(t, s.l, svcMgr, "service", "create", "-d", "--name", "web", "--replicas", "3",
		"--update-parallelism", "4", "--update-monitor", "2s", "--rollback-parallelism", "4", "--rollback-monitor", "2s", "sleepy:1")
	ts, took := s.waitRunning(t, "web", 3, 60*time.Second, imageIs("sleepy:1"))
	t.Logf("web: 3 tasks running %s after create (%s total)", took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if per := s.perNode(ts); len(per) != 3 {
		t.Errorf("3 replicas on %d nodes (%v), want 3 different nodes", len(per), per)
	}
	slots := map[int]bool{}
	for _, tk := range ts {
		slots[tk.Slot] = true
	}
	if len(slots) != 3 || !slots[1] || !slots[2] || !slots[3] {
		t.Errorf("slots %v, want 1, 2 and 3", slots)
	}
	if got := s.serviceLine(t, "web", "{{.Name}} {{.Mode}} {{.Replicas}} {{.Image}}"); got != "web replicated 3/3 sleepy:1" {
		t.Errorf("service ls: %q, want %q", got, "web replicated 3/3 sleepy:1")
	}
	ps := mustRun(t, s.l, svcMgr, "service", "ps", "--format", "{{.Name}} {{.Image}} {{.Node}} {{.DesiredState}}", "web")
	for _, tk := range ts {
		want := fmt.Sprintf("web.%d sleepy:1 %s Running", tk.Slot, s.nodeName[tk.NodeID])
		if !strings.Contains(ps, want) {
			t.Errorf("service ps lacks %q:\n%s", want, ps)
		}
	}
	s.checkApp(t, ts, "1")
}

// scaleUp: ten replicas on four nodes puts several on a node, each in its own namespace.
func (s *servicesLab) scaleUp(t *testing.T) {
	start := time.Now()
	mustRun(t, s.l, svcMgr, "service", "scale", "-d", "web=10")
	ts, _ := s.waitRunning(t, "web", 10, 60*time.Second, imageIs("sleepy:1"))
	t.Logf("scale 3 -> 10: all 10 running %s after the command", time.Since(start).Round(time.Millisecond))
	per := s.perNode(ts)
	most := 0
	for _, n := range per {
		most = max(most, n)
	}
	if most < 2 || len(per) != 4 {
		t.Errorf("10 replicas per node: %v, want all 4 nodes used and several on one", per)
	}
	t.Logf("tasks per node: %v", per)
	if got := s.serviceLine(t, "web", "{{.Name}} {{.Replicas}}"); got != "web 10/10" {
		t.Errorf("service ls: %q, want %q", got, "web 10/10")
	}
	s.checkApp(t, ts, "1")
}

// drainAndPause: a drained node's tasks move elsewhere; a paused node gets no new task.
func (s *servicesLab) drainAndPause(t *testing.T) {
	w1, w2 := s.nodeID["worker-1"], s.nodeID["worker-2"]
	before := s.perNode(runningTasks(s.mustTasks(t, "web")))
	if before["worker-1"] == 0 {
		t.Fatalf("worker-1 runs no web task before the drain (%v): the drain would prove nothing", before)
	}
	start := time.Now()
	mustRun(t, s.l, svcMgr, "node", "update", "--availability", "drain", "worker-1")
	_, took := s.waitRunning(t, "web", 10, 60*time.Second, func(tk swarm.Task) error {
		if tk.NodeID == w1 {
			return fmt.Errorf("still on the drained worker-1")
		}
		return nil
	})
	t.Logf("drain worker-1: its %d tasks moved in %s", before["worker-1"], took.Round(time.Millisecond))
	eventually(t, 30*time.Second, "worker-1's web tasks stopped", func() error {
		ts, err := s.tasks("web")
		if err != nil {
			return err
		}
		for _, tk := range ts {
			if tk.NodeID == w1 && tk.Status.State == swarm.TaskStateRunning {
				return fmt.Errorf("task %.12s still running on worker-1:%s", tk.ID, s.describe(ts))
			}
		}
		return nil
	})

	mustRun(t, s.l, svcMgr, "node", "update", "--availability", "pause", "worker-2")
	onPaused := map[string]bool{}
	for _, tk := range s.mustTasks(t, "web") {
		if tk.NodeID == w2 {
			onPaused[tk.ID] = true
		}
	}
	mustRun(t, s.l, svcMgr, "service", "scale", "-d", "web=12")
	ts, _ := s.waitRunning(t, "web", 12, 60*time.Second, func(tk swarm.Task) error {
		if tk.NodeID == w1 {
			return fmt.Errorf("on the drained worker-1")
		}
		return nil
	})
	for _, tk := range s.mustTasks(t, "web") {
		if tk.NodeID == w2 && !onPaused[tk.ID] {
			t.Errorf("new task %.12s (slot %d) was placed on the paused worker-2", tk.ID, tk.Slot)
		}
	}
	t.Logf("with worker-1 drained and worker-2 paused, 12 replicas per node: %v (%s since the drain)", s.perNode(ts), time.Since(start).Round(time.Millisecond))
	for _, n := range []string{"worker-1", "worker-2"} {
		mustRun(t, s.l, svcMgr, "node", "update", "--availability", "active", n)
	}
	out := mustRun(t, s.l, svcMgr, "node", "ls", "--format", "{{.Hostname}} {{.Availability}}")
	for _, n := range []string{"worker-1", "worker-2"} {
		if !strings.Contains(out, n+" Active") {
			t.Errorf("node ls after restoring %s:\n%s", n, out)
		}
	}
}

// updateAndRollback: --image sleepy:2 replaces every task, leaving history; rollback
// returns every task to sleepy:1.
func (s *servicesLab) updateAndRollback(t *testing.T) {
	start := time.Now()
	mustRun(t, s.l, svcMgr, "service", "update", "-d", "--image", "sleepy:2", "web")
	s.waitUpdateState(t, "web", swarm.UpdateStateCompleted, 90*time.Second)
	ts, _ := s.waitRunning(t, "web", 12, 30*time.Second, imageIs("sleepy:2"))
	t.Logf("update to sleepy:2: 12 tasks replaced in %s", time.Since(start).Round(time.Millisecond))
	if got := s.serviceLine(t, "web", "{{.Name}} {{.Replicas}} {{.Image}}"); got != "web 12/12 sleepy:2" {
		t.Errorf("service ls: %q, want %q", got, "web 12/12 sleepy:2")
	}
	imgs := strings.Fields(mustRun(t, s.l, svcMgr, "service", "ps", "--filter", "desired-state=running", "--format", "{{.Image}}", "web"))
	if len(imgs) != 12 || slices.ContainsFunc(imgs, func(img string) bool { return img != "sleepy:2" }) {
		t.Errorf("service ps --filter desired-state=running: images %v, want sleepy:2 twelve times", imgs)
	}
	ps := mustRun(t, s.l, svcMgr, "service", "ps", "web")
	history := 0
	for _, line := range strings.Split(ps, "\n") {
		if strings.Contains(line, `\_ web.`) && strings.Contains(line, "sleepy:1") && strings.Contains(line, "Shutdown") {
			history++
		}
	}
	if history < 12 {
		t.Errorf("service ps shows %d history rows (\\_ web.N sleepy:1 ... Shutdown), want at least 12:\n%s", history, ps)
	}
	s.checkApp(t, ts[:3], "2")

	start = time.Now()
	mustRun(t, s.l, svcMgr, "service", "rollback", "-d", "web")
	s.waitUpdateState(t, "web", swarm.UpdateStateRollbackCompleted, 90*time.Second)
	ts, _ = s.waitRunning(t, "web", 12, 30*time.Second, imageIs("sleepy:1"))
	t.Logf("rollback to sleepy:1: 12 tasks replaced in %s", time.Since(start).Round(time.Millisecond))
	if got := s.serviceLine(t, "web", "{{.Name}} {{.Replicas}} {{.Image}}"); got != "web 12/12 sleepy:1" {
		t.Errorf("service ls: %q, want %q", got, "web 12/12 sleepy:1")
	}
	s.checkApp(t, ts[:3], "1")
}

// waitUpdateState waits for a service's UpdateStatus to reach state and returns it.
func (s *servicesLab) waitUpdateState(t *testing.T, service string, state swarm.UpdateState, timeout time.Duration) swarm.UpdateStatus {
	t.Helper()
	var st swarm.UpdateStatus
	var seen []string
	eventually(t, timeout, fmt.Sprintf("%s's UpdateStatus %s", service, state), func() error {
		svc, err := s.service(service)
		if err != nil {
			return err
		}
		if svc.UpdateStatus == nil {
			return fmt.Errorf("no UpdateStatus")
		}
		st = *svc.UpdateStatus
		if len(seen) == 0 || seen[len(seen)-1] != string(st.State) {
			seen = append(seen, string(st.State))
		}
		if st.State != state {
			ts, _ := s.tasks(service)
			return fmt.Errorf("UpdateStatus %s (%q), states seen %v:%s", st.State, st.Message, seen, s.describe(ts))
		}
		return nil
	})
	t.Logf("%s: UpdateStatus %s: %q (states seen: %v)", service, st.State, st.Message, seen)
	return st
}

// noArgs checks a task runs the image's own command: no entrypoint or args in its spec.
func noArgs(tk swarm.Task) error {
	if cs := tk.Spec.ContainerSpec; len(cs.Command) > 0 || len(cs.Args) > 0 {
		return fmt.Errorf("runs with entrypoint %q and args %q, want the image's (the original spec)", cs.Command, cs.Args)
	}
	return nil
}

// updateFailureActions: an update to a task that exits at once pauses (the default
// failure action) or, with --update-failure-action rollback, rolls back by itself.
func (s *servicesLab) updateFailureActions(t *testing.T) {
	mustRun(t, s.l, svcMgr, "service", "create", "-d", "--name", "bad", "--replicas", "2", "--update-monitor", "3s", "sleepy:1")
	mustRun(t, s.l, svcMgr, "service", "create", "-d", "--name", "bad2", "--replicas", "2", "--update-monitor", "3s",
		"--update-failure-action", "rollback", "sleepy:1")
	s.waitRunning(t, "bad", 2, 60*time.Second, noArgs)
	s.waitRunning(t, "bad2", 2, 60*time.Second, noArgs)

	// sleepy refuses an unknown flag and exits 2 at once. (--args alone would replace the
	// image's CMD, /sleepy, as docker does, and fail to start instead.)
	start := time.Now()
	for _, svc := range []string{"bad", "bad2"} {
		mustRun(t, s.l, svcMgr, "service", "update", "-d", "--entrypoint", "/sleepy", "--args=-no-such-flag", svc)
	}

	st := s.waitUpdateState(t, "bad", swarm.UpdateStatePaused, 60*time.Second)
	t.Logf("bad: paused %s after the update", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(st.Message, "paused") || !strings.Contains(st.Message, "failure") {
		t.Errorf("bad: paused with message %q, want one saying the update paused because a task failed", st.Message)
	}
	ts := s.mustTasks(t, "bad")
	failed, oldRunning := 0, 0
	for _, tk := range ts {
		if noArgs(tk) != nil && tk.Status.State == swarm.TaskStateFailed {
			failed++
			if !strings.Contains(tk.Status.Err, "non-zero exit (2)") {
				t.Errorf("bad: failed task %.12s has error %q, want one naming the exit", tk.ID, tk.Status.Err)
			}
		}
		if noArgs(tk) == nil && tk.Status.State == swarm.TaskStateRunning && tk.DesiredState == swarm.TaskStateRunning {
			oldRunning++
		}
	}
	if failed == 0 || oldRunning != 1 {
		t.Errorf("bad after the paused update: %d failed tasks of the new spec (want some) and %d running tasks of the old one (want 1: the update stops at the first slot):%s",
			failed, oldRunning, s.describe(ts))
	}

	st = s.waitUpdateState(t, "bad2", swarm.UpdateStateRollbackCompleted, 90*time.Second)
	t.Logf("bad2: rolled back %s after the update", time.Since(start).Round(time.Millisecond))
	if st.Message == "" {
		t.Errorf("bad2: rollback_completed without a message")
	}
	s.waitRunning(t, "bad2", 2, 30*time.Second, noArgs)
	if cs := s.mustService(t, "bad2").Spec.TaskTemplate.ContainerSpec; len(cs.Command) > 0 || len(cs.Args) > 0 {
		t.Errorf("bad2's spec after the rollback has entrypoint %q and args %q, want the original spec", cs.Command, cs.Args)
	}
}

// bundleDir is a task's bundle on its node.
func (s *servicesLab) bundleDir(t *testing.T, nodeName, taskID string) string {
	return filepath.Join(node(t, s.l, nodeName).DataRoot, "containers", "containers", taskID)
}

// initPID reads a task container's pid from its bundle (0 if none).
func (s *servicesLab) initPID(t *testing.T, nodeName, taskID string) int {
	b, err := os.ReadFile(filepath.Join(s.bundleDir(t, nodeName, taskID), "init.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// processAlive says whether pid is a live (not zombie) process.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, ok := strings.Cut(string(b), ") ")
	return ok && len(rest) > 0 && rest[0] != 'Z' && rest[0] != 'X'
}

// killedTaskRestarts: SIGKILL a task's container process; the task fails and its slot gets a
// new task after the restart delay.
func (s *servicesLab) killedTaskRestarts(t *testing.T) {
	ts := runningTasks(s.mustTasks(t, "web"))
	if len(ts) == 0 {
		t.Fatal("no running web task")
	}
	victim := ts[0]
	host := s.nodeName[victim.NodeID]
	pid := s.initPID(t, host, victim.ID)
	if !processAlive(pid) {
		t.Fatalf("task %.12s on %s: no live container process (init.pid %d)", victim.ID, host, pid)
	}
	if victim.Status.ContainerStatus == nil || victim.Status.ContainerStatus.PID != pid {
		t.Errorf("task %.12s reports container status %+v, want PID %d", victim.ID, victim.Status.ContainerStatus, pid)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var failedAt time.Time
	var replacement swarm.Task
	took := eventually(t, 30*time.Second, fmt.Sprintf("slot %d restarted", victim.Slot), func() error {
		ts, err := s.tasks("web")
		if err != nil {
			return err
		}
		var old *swarm.Task
		var next []swarm.Task
		for _, tk := range ts {
			switch {
			case tk.ID == victim.ID:
				old = &tk
			case tk.Slot == victim.Slot && tk.CreatedAt.After(victim.CreatedAt):
				next = append(next, tk)
			}
		}
		if old == nil || old.Status.State != swarm.TaskStateFailed {
			return fmt.Errorf("the killed task is not Failed:%s", s.describe(ts))
		}
		failedAt = old.Status.Timestamp
		if !strings.Contains(old.Status.Err, "137") {
			return fmt.Errorf("the killed task failed with %q, want exit code 137", old.Status.Err)
		}
		if r := runningTasks(next); len(r) != 1 || len(next) != 1 {
			return fmt.Errorf("slot %d: want one new running task:%s", victim.Slot, s.describe(ts))
		}
		replacement = next[0]
		return nil
	})
	delay := replacement.CreatedAt.Sub(failedAt)
	t.Logf("killed task %.12s on %s: Failed, then a new task %.12s in slot %d created %s after the failure and running %s after the kill",
		victim.ID, host, replacement.ID, victim.Slot, delay.Round(time.Millisecond), took.Round(time.Millisecond))
	if delay < svcRestartDelay-200*time.Millisecond {
		t.Errorf("the replacement was created %s after the failure, before the %s restart delay", delay, svcRestartDelay)
	}
	s.waitRunning(t, "web", 12, 30*time.Second, nil)
}

// killedWorker: a worker's daemon and containers are killed: its tasks run elsewhere once it
// is down; when it comes back nothing runs twice and it runs no stale task.
func (s *servicesLab) killedWorker(t *testing.T) {
	const victim = "worker-3"
	vid := s.nodeID[victim]
	var onVictim []swarm.Task
	for _, svc := range []string{"web", "bad2"} {
		for _, tk := range runningTasks(s.mustTasks(t, svc)) {
			if tk.NodeID == vid {
				onVictim = append(onVictim, tk)
			}
		}
	}
	if len(onVictim) == 0 {
		t.Fatalf("%s runs no task: killing it would prove nothing", victim)
	}
	killed := time.Now()
	if err := s.l.Stop(victim, lab.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tk := range onVictim {
		if pid := s.initPID(t, victim, tk.ID); processAlive(pid) {
			t.Errorf("task %.12s's container (pid %d) survived lab.Stop(%s); killing it", tk.ID, pid, victim)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	hb := s.l.DispatcherHeartbeat()
	s.waitRunning(t, "web", 12, 60*time.Second, func(tk swarm.Task) error {
		if tk.NodeID == vid {
			return fmt.Errorf("still counted on the dead %s", victim)
		}
		return nil
	})
	failover := time.Since(killed)
	// When the leader replaced the lost tasks, from the tasks' own creation times (not the
	// test's polling): the promise is three heartbeats (plus their 10% jitter) to notice and
	// the restart delay at most. The slack allows for a loaded machine; the time is reported.
	lostSlots, webID := map[int]bool{}, s.mustService(t, "web").ID
	for _, tk := range onVictim {
		if tk.ServiceID == webID {
			lostSlots[tk.Slot] = true
		}
	}
	var replaced time.Time
	for _, tk := range s.mustTasks(t, "web") {
		if lostSlots[tk.Slot] && tk.NodeID != vid && tk.CreatedAt.After(killed) && tk.CreatedAt.After(replaced) {
			replaced = tk.CreatedAt
		}
	}
	promise := 3*hb + svcRestartDelay
	t.Logf("%s killed with its %d tasks: replacements created %s and web back to 12 running elsewhere %s after the kill (heartbeat %s: 3 heartbeats + restart delay = %s)",
		victim, len(onVictim), replaced.Sub(killed).Round(time.Millisecond), failover.Round(time.Millisecond), hb, promise)
	if bound := 3*hb*11/10 + svcRestartDelay + 5*time.Second; replaced.IsZero() || replaced.Sub(killed) > bound {
		t.Errorf("the lost tasks of %s were replaced %s after the kill (at %s), want within 3 heartbeats + the restart delay (%s; %s with slack)",
			victim, replaced.Sub(killed), replaced, promise, bound)
	}
	s.waitRunning(t, "bad2", 2, 30*time.Second, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	back := time.Now()
	if err := s.l.Start(ctx, victim); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, victim+" Ready and its old tasks ended", func() error {
		res, err := s.mc.NodeInspect(ctx, vid, client.NodeInspectOptions{})
		if err != nil {
			return err
		}
		if res.Node.Status.State != swarm.NodeStateReady {
			return fmt.Errorf("%s is %s", victim, res.Node.Status.State)
		}
		for _, svc := range []string{"web", "bad2"} {
			ts, err := s.tasks(svc)
			if err != nil {
				return err
			}
			perSlot := map[int]int{}
			for _, tk := range ts {
				if tk.Status.State == swarm.TaskStateRunning {
					perSlot[tk.Slot]++
				}
				if tk.NodeID == vid && tk.Status.State == swarm.TaskStateRunning {
					return fmt.Errorf("%s: task %.12s still shows running on %s:%s", svc, tk.ID, victim, s.describe(ts))
				}
			}
			for slot, n := range perSlot {
				if n != 1 {
					return fmt.Errorf("%s: slot %d has %d running tasks:%s", svc, slot, n, s.describe(ts))
				}
			}
		}
		return nil
	})
	t.Logf("%s back: Ready with no stale task %s after its restart", victim, time.Since(back).Round(time.Millisecond))
	for _, tk := range onVictim {
		got, err := s.mc.TaskInspect(ctx, tk.ID, client.TaskInspectOptions{})
		if err != nil {
			continue // deleted as history: not running either
		}
		if st := got.Task.Status.State; st != swarm.TaskStateShutdown && st != swarm.TaskStateFailed && st != swarm.TaskStateOrphaned {
			t.Errorf("old task %.12s on %s is %s after the node came back, want it ended", tk.ID, victim, st)
		} else {
			t.Logf("old task %.12s on %s: %s (desired %s) %q %s", tk.ID, victim, st, got.Task.DesiredState, got.Task.Status.Message, got.Task.Status.Err)
		}
		if pid := s.initPID(t, victim, tk.ID); processAlive(pid) {
			t.Errorf("old task %.12s has a live container process (pid %d) on %s", tk.ID, pid, victim)
		}
	}
	if live := s.runcRunning(t, victim); len(live) > 0 {
		t.Errorf("runc on %s lists running containers %v; every task it ran was moved away", victim, live)
	}
	s.waitRunning(t, "web", 12, 30*time.Second, nil)
}

// runcRunning lists the containers runc reports running on a node.
func (s *servicesLab) runcRunning(t *testing.T, nodeName string) []string {
	out, err := exec.Command("runc", "--root", filepath.Join(node(t, s.l, nodeName).DataRoot, "containers", "runc"), "list").CombinedOutput()
	if err != nil {
		t.Errorf("runc list on %s: %v: %s", nodeName, err, out)
		return nil
	}
	var live []string
	for _, line := range strings.Split(string(out), "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 3 && f[2] == "running" {
			live = append(live, f[0])
		}
	}
	return live
}

// globalMode: one task per ready, active node; a drained node loses it and gets it back;
// a node that leaves the swarm loses it and a node that joins gets one.
func (s *servicesLab) globalMode(t *testing.T) {
	mustRun(t, s.l, svcMgr, "service", "create", "-d", "--mode", "global", "--name", "g", "sleepy:1")
	// onePerNode: each named node runs one g task, and no other node runs one (a task whose
	// desired state changed counts until its node reports it stopped).
	onePerNode := func(nodes ...string) func() error {
		return func() error {
			ts, err := s.tasks("g")
			if err != nil {
				return err
			}
			r := runningTasks(ts)
			per := s.perNode(r)
			for _, n := range nodes {
				if per[n] != 1 {
					return fmt.Errorf("%s runs %d g tasks, want 1:%s", n, per[n], s.describe(ts))
				}
			}
			if len(r) != len(nodes) {
				return fmt.Errorf("%d running g tasks, want %d (on %v):%s", len(r), len(nodes), nodes, s.describe(ts))
			}
			for _, tk := range ts {
				if tk.Status.State == swarm.TaskStateRunning && !slices.Contains(nodes, s.nodeName[tk.NodeID]) {
					return fmt.Errorf("task %.12s still runs on %s:%s", tk.ID, s.nodeName[tk.NodeID], s.describe(ts))
				}
			}
			return nil
		}
	}
	took := eventually(t, 60*time.Second, "one g task per node", onePerNode(s.nodes...))
	t.Logf("global g: one task running on each of the %d nodes %s after create", len(s.nodes), took.Round(time.Millisecond))
	if got := s.serviceLine(t, "g", "{{.Name}} {{.Mode}} {{.Replicas}}"); got != "g global 4/4" {
		t.Errorf("service ls: %q, want %q", got, "g global 4/4")
	}

	mustRun(t, s.l, svcMgr, "node", "update", "--availability", "drain", "worker-2")
	took = eventually(t, 60*time.Second, "no g task on the drained worker-2", onePerNode("manager-1", "worker-1", "worker-3"))
	t.Logf("drain worker-2: its g task stopped in %s", took.Round(time.Millisecond))
	mustRun(t, s.l, svcMgr, "node", "update", "--availability", "active", "worker-2")
	took = eventually(t, 60*time.Second, "a g task back on worker-2", onePerNode(s.nodes...))
	t.Logf("worker-2 active again: its g task back in %s", took.Round(time.Millisecond))

	// worker-1 leaves the swarm and is removed, then joins again as a new node.
	const leaver = "worker-1"
	oldID := s.nodeID[leaver]
	token := strings.TrimSpace(mustRun(t, s.l, svcMgr, "swarm", "join-token", "-q", "worker"))
	var leaverTasks []string
	for _, svc := range []string{"web", "g", "bad", "bad2"} {
		for _, tk := range runningTasks(s.mustTasks(t, svc)) {
			if tk.NodeID == oldID {
				leaverTasks = append(leaverTasks, tk.ID)
			}
		}
	}
	left := time.Now()
	mustRun(t, s.l, leaver, "swarm", "leave")
	// As docker's, a node that leaves stops and removes its swarm tasks' containers.
	eventually(t, 30*time.Second, leaver+"'s containers gone after it left", func() error {
		for _, id := range leaverTasks {
			if pid := s.initPID(t, leaver, id); processAlive(pid) {
				return fmt.Errorf("task %.12s's container (pid %d) still runs on %s", id, pid, leaver)
			}
			if dirExists(s.bundleDir(t, leaver, id)) {
				return fmt.Errorf("task %.12s's bundle is still on %s", id, leaver)
			}
		}
		return nil
	})
	eventually(t, 30*time.Second, leaver+" down after leaving", func() error {
		out := mustRun(t, s.l, svcMgr, "node", "inspect", "--format", "{{.Status.State}}", oldID)
		if st := strings.TrimSpace(out); st != "down" {
			return fmt.Errorf("%s is %s", leaver, st)
		}
		return nil
	})
	mustRun(t, s.l, svcMgr, "node", "rm", oldID)
	s.nodeName[oldID] = leaver + " (removed)"
	took = eventually(t, 60*time.Second, "no g task on the removed "+leaver, onePerNode("manager-1", "worker-2", "worker-3"))
	t.Logf("%s left the swarm and was removed: its g task gone %s after the leave", leaver, time.Since(left).Round(time.Millisecond))
	s.waitRunning(t, "web", 12, 60*time.Second, func(tk swarm.Task) error {
		if tk.NodeID == oldID {
			return fmt.Errorf("on the removed %s", leaver)
		}
		return nil
	})

	joined := time.Now()
	mgrNode := node(t, s.l, svcMgr)
	mustRun(t, s.l, leaver, "swarm", "join", "--token", token, "--advertise-addr", node(t, s.l, leaver).Addr.String(), mgrNode.Addr.String()+":2377")
	newID := strings.TrimSpace(mustRun(t, s.l, leaver, "info", "--format", "{{.Swarm.NodeID}}"))
	if newID == "" || newID == oldID {
		t.Fatalf("%s joined again with node ID %q (before: %s), want a new one", leaver, newID, oldID)
	}
	s.nodeID[leaver], s.nodeName[newID] = newID, leaver
	eventually(t, 60*time.Second, "a g task on the node that joined", onePerNode(s.nodes...))
	t.Logf("%s joined again as %s: its g task running %s after the join", leaver, newID, time.Since(joined).Round(time.Millisecond))
	s.waitRunning(t, "web", 12, 60*time.Second, nil)
}

// badInput: invalid values are refused before anything is written; a duplicate name is a
// conflict; a missing image shows as the task's error; a stale version, a rename and a mode
// change are refused.
func (s *servicesLab) badInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string // in stderr
	}{
		{"negative replicas", []string{"--replicas", "-1"}, []string{"replicas", "-1"}},
		{"update order", []string{"--update-order", "fast"}, []string{"fast", "start-first", "stop-first"}},
		{"malformed constraint", []string{"--constraint", "node.foo==x"}, []string{"node.foo"}},
		{"constraint without operator", []string{"--constraint", "node.role"}, []string{"node.role"}},
		{"negative restart delay", []string{"--restart-delay", "-1s"}, []string{"restart-delay", "-1s"}},
		{"negative update delay", []string{"--update-delay", "-3s"}, []string{"update-delay", "-3s"}},
		{"negative stop grace period", []string{"--stop-grace-period", "-1s"}, []string{"stop", "-1s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "refused-" + strings.ReplaceAll(tc.name, " ", "-")
			args := append([]string{"service", "create", "-d", "--name", name}, tc.args...)
			out, errOut, err := run(t, s.l, svcMgr, append(args, "sleepy:1")...)
			if err == nil {
				t.Errorf("shoal %s succeeded, want it refused:\n%s", strings.Join(args, " "), out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("shoal %s: stderr %q does not name %q", strings.Join(args, " "), errOut, w)
				}
			}
			if ls := mustRun(t, s.l, svcMgr, "service", "ls", "--format", "{{.Name}}"); strings.Contains(ls, name) {
				t.Errorf("the refused service %s was created:\n%s", name, ls)
			}
			t.Logf("refused: %s", strings.TrimSpace(errOut))
		})
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Run("API refuses invalid specs", func(t *testing.T) {
		base := s.mustService(t, "web").Spec
		for _, tc := range []struct {
			name   string
			change func(*swarm.ServiceSpec)
			want   string
		}{
			{"update order", func(sp *swarm.ServiceSpec) { sp.UpdateConfig = &swarm.UpdateConfig{Order: "fast"} }, `"fast"`},
			{"constraint", func(sp *swarm.ServiceSpec) {
				sp.TaskTemplate.Placement = &swarm.Placement{Constraints: []string{"node.foo==x"}}
			}, "node.foo"},
			{"restart delay", func(sp *swarm.ServiceSpec) {
				d := -time.Second
				sp.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{Delay: &d}
			}, "-1s"},
		} {
			spec := cloneServiceSpec(t, base)
			spec.Name = "api-refused"
			spec.Labels = nil
			tc.change(&spec)
			_, err := s.mc.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec})
			if err == nil || !cerrdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: create gave %v, want a 400 naming %s", tc.name, err, tc.want)
			}
		}
		if _, err := s.service("api-refused"); !cerrdefs.IsNotFound(err) {
			t.Errorf("a refused spec was stored: inspect api-refused gave %v", err)
		}
	})

	t.Run("duplicate name", func(t *testing.T) {
		_, errOut, err := run(t, s.l, svcMgr, "service", "create", "-d", "--name", "web", "sleepy:2")
		if err == nil || !strings.Contains(errOut, "already exists") {
			t.Errorf("creating web twice: %v, stderr %q; want it refused as already existing", err, errOut)
		}
		spec := cloneServiceSpec(t, s.mustService(t, "web").Spec)
		_, err = s.mc.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec})
		if !cerrdefs.IsConflict(err) {
			t.Errorf("creating web twice through the API: %v, want 409 Conflict", err)
		}
		if ids := strings.Fields(mustRun(t, s.l, svcMgr, "service", "ls", "-q", "--filter", "name=web")); len(ids) != 1 {
			t.Errorf("service ls -q --filter name=web: %v, want one service", ids)
		}
	})

	t.Run("missing image", func(t *testing.T) {
		mustRun(t, s.l, svcMgr, "service", "create", "-d", "--name", "ghost", "nosuch:image")
		var ps string
		eventually(t, 60*time.Second, "ghost's task error in service ps", func() error {
			ps = mustRun(t, s.l, svcMgr, "service", "ps", "--no-trunc", "ghost")
			if !strings.Contains(ps, "No such image: nosuch:image") {
				return fmt.Errorf("service ps --no-trunc ghost:\n%s", ps)
			}
			return nil
		})
		t.Logf("service ps --no-trunc ghost:\n%s", ps)
	})

	t.Run("stale version, rename and mode change", func(t *testing.T) {
		old := s.mustService(t, "web")
		mustRun(t, s.l, svcMgr, "service", "update", "-d", "--label-add", "e2e=stale-version", "web")
		// The updater writes the service once more when it completes; wait for that.
		s.waitUpdateState(t, "web", swarm.UpdateStateCompleted, 30*time.Second)
		cur := s.mustService(t, "web")
		if cur.Version.Index == old.Version.Index {
			t.Fatalf("the label update did not change web's version (%d)", cur.Version.Index)
		}
		_, err := s.mc.ServiceUpdate(ctx, "web", client.ServiceUpdateOptions{Version: old.Version, Spec: old.Spec})
		if !cerrdefs.IsConflict(err) || !strings.Contains(err.Error(), "out of sequence") {
			t.Errorf("update at the stale version %d: %v, want a conflict saying out of sequence", old.Version.Index, err)
		}
		renamed := cloneServiceSpec(t, cur.Spec)
		renamed.Name = "web-renamed"
		_, err = s.mc.ServiceUpdate(ctx, "web", client.ServiceUpdateOptions{Version: cur.Version, Spec: renamed})
		if err == nil || !strings.Contains(err.Error(), "renam") {
			t.Errorf("renaming web through the API: %v, want it refused", err)
		}
		global := cloneServiceSpec(t, cur.Spec)
		global.Mode = swarm.ServiceMode{Global: &swarm.GlobalService{}}
		_, err = s.mc.ServiceUpdate(ctx, "web", client.ServiceUpdateOptions{Version: cur.Version, Spec: global})
		if err == nil || !strings.Contains(err.Error(), "mode") {
			t.Errorf("changing web to global through the API: %v, want it refused", err)
		}
		after := s.mustService(t, "web")
		if after.Version.Index != cur.Version.Index || after.Spec.Name != "web" || after.Spec.Mode.Replicated == nil {
			t.Errorf("web changed after refused updates: version %d -> %d, name %s, mode %+v", cur.Version.Index, after.Version.Index, after.Spec.Name, after.Spec.Mode)
		}
		t.Logf("stale version, rename and mode change refused: %v", err)
	})
	s.waitRunning(t, "web", 12, 30*time.Second, imageIs("sleepy:1"))
}

func cloneServiceSpec(t *testing.T, spec swarm.ServiceSpec) swarm.ServiceSpec {
	t.Helper()
	var c swarm.ServiceSpec
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	decodeJSON(t, string(b), &c)
	return c
}

// rmLeavesNothing: removing every service leaves, on every node, no container bundle,
// runc container, cgroup, task network namespace or overlay mount.
func (s *servicesLab) rmLeavesNothing(t *testing.T) {
	services := []string{"web", "g", "bad", "bad2", "ghost"}
	for _, svc := range services {
		s.mustTasks(t, svc) // record the IDs
	}
	// Bundles on disk name tasks too, including ones already trimmed from history.
	for _, n := range s.nodes {
		entries, _ := os.ReadDir(filepath.Join(node(t, s.l, n).DataRoot, "containers", "containers"))
		s.mu.Lock()
		for _, e := range entries {
			s.seen[e.Name()] = true
		}
		s.mu.Unlock()
	}
	// The check must see what running tasks are made of, or it would prove nothing.
	before := s.leftovers(t)
	for _, kind := range []string{": bundle ", ": runc container ", "cgroup ", "network namespace ", "overlay mount "} {
		if !slices.ContainsFunc(before, func(l string) bool { return strings.Contains(l, kind) }) {
			t.Errorf("before the rm, the leftover check finds no %q among:\n%s", kind, strings.Join(before, "\n"))
		}
	}
	start := time.Now()
	mustRun(t, s.l, svcMgr, append([]string{"service", "rm"}, services...)...)
	if out := strings.TrimSpace(mustRun(t, s.l, svcMgr, "service", "ls", "-q")); out != "" {
		t.Errorf("service ls -q after rm: %q, want nothing", out)
	}
	took := eventually(t, 90*time.Second, "nothing left of the services on any node", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := s.mc.TaskList(ctx, client.TaskListOptions{})
		if err != nil {
			return err
		}
		left := s.leftovers(t)
		if len(res.Items) > 0 {
			left = append(left, fmt.Sprintf("%d tasks in task ls:%s", len(res.Items), s.describe(res.Items)))
		}
		if len(left) > 0 {
			return fmt.Errorf("left behind:\n  %s", strings.Join(left, "\n  "))
		}
		return nil
	})
	s.mu.Lock()
	n := len(s.seen)
	s.mu.Unlock()
	t.Logf("service rm: no task, container, runc state, cgroup, namespace or mount of the %d tasks seen left on any node %s after the rm (%s total)",
		n, took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// leftovers lists what of the test's tasks still exists on the nodes.
func (s *servicesLab) leftovers(t *testing.T) []string {
	var left []string
	for _, n := range s.nodes {
		nd := node(t, s.l, n)
		entries, err := os.ReadDir(filepath.Join(nd.DataRoot, "containers", "containers"))
		if err != nil && !os.IsNotExist(err) {
			left = append(left, fmt.Sprintf("%s: read bundles: %v", n, err))
		}
		for _, e := range entries {
			left = append(left, fmt.Sprintf("%s: bundle %s", n, e.Name()))
		}
		out, err := exec.Command("runc", "--root", filepath.Join(nd.DataRoot, "containers", "runc"), "list", "-q").CombinedOutput()
		if err != nil {
			left = append(left, fmt.Sprintf("%s: runc list: %v: %s", n, err, out))
		}
		for _, id := range strings.Fields(string(out)) {
			left = append(left, fmt.Sprintf("%s: runc container %s", n, id))
		}
	}
	for _, m := range mountPoints() {
		if strings.HasPrefix(m.dir, s.l.Dir()+"/") && m.fstype == "overlay" {
			left = append(left, "overlay mount "+m.dir)
		}
	}
	var cgroupRoots []string
	for _, m := range mountPoints() {
		if m.fstype == "cgroup" || m.fstype == "cgroup2" {
			cgroupRoots = append(cgroupRoots, m.dir)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.seen {
		for _, root := range cgroupRoots {
			if d := filepath.Join(root, "shoal", id); dirExists(d) {
				left = append(left, "cgroup "+d)
			}
		}
		if ns := filepath.Join("/run/netns", "shoal-"+id[:min(len(id), 12)]); fileExists(ns) {
			left = append(left, "network namespace "+ns)
		}
	}
	slices.Sort(left)
	return left
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
