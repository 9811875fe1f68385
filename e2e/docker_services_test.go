package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"

	"github.com/shoal/shoal/lab"
)

// TestDockerServices walks a service through its life with the real docker CLI on a lab of
// 1 manager + 2 workers, and checks every answer, against shoal's where both CLIs print the
// same thing: docker import on every node, service create --detach=false (docker's progress
// display, fed by our API), ls/ps/inspect, scale, update (on a terminal, so docker draws its
// progress bars), rollback, logs, node ps and rm. The steps share the lab and run in order;
// the first failure stops the rest.
func TestDockerServices(t *testing.T) {
	dockerBin, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("the docker CLI is not on PATH (install Debian's docker.io): cannot walk services with it")
	}
	needLab(t)
	images := dsvSampleRootfs(t)
	started := time.Now()
	l := startLab(t, lab.Options{Name: "e2edockersvc", Managers: 1, Workers: 2, DispatcherHeartbeat: time.Second})
	t.Logf("lab up: 1 manager + 2 workers in %s", time.Since(started).Round(time.Millisecond))
	d := &dockerServices{l: l, bin: dockerBin, config: t.TempDir(), images: images, imageIDs: map[string]string{}}
	d.waitNodesReady(t)

	runSteps(t, []step{
		{"import", d.importImages},
		{"create", d.create},
		{"ls-ps-inspect", d.listAndInspect},
		{"scale", d.scale},
		{"update", d.update},
		{"rollback", d.rollback},
		{"logs", d.logs},
		{"node-ps", d.nodePS},
		{"rm", d.remove},
	})
	t.Logf("docker services walk done in %s; timings:\n  %s", time.Since(started).Round(time.Millisecond), strings.Join(d.timings, "\n  "))
}

const dsvMgr = "manager-1"

// dockerServices is the shared lab and what the steps learn about it.
type dockerServices struct {
	l         *lab.Lab
	bin       string
	config    string            // DOCKER_CONFIG: no user config, contexts or credential helpers
	images    string            // private copies of the sleepy root filesystem tarballs
	imageIDs  map[string]string // sleepy:1, sleepy:2 → the ID docker import printed
	serviceID string
	timings   []string
}

// dsvSampleRootfs returns a directory holding copies of sleepy-1.tar.gz and sleepy-2.tar.gz,
// packing them first (make sample-images at the repository root) when they are missing.
// The copies keep a concurrent `make sample-images` from changing the content between
// two nodes' imports.
func dsvSampleRootfs(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "build", "images")
	files := []string{"sleepy-1.tar.gz", "sleepy-2.tar.gz"}
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(src, f)); err == nil {
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
	dir := t.TempDir()
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// docker runs the docker CLI against a node. A command still running after timeout is
// killed and reported: a hang fails the step instead of stalling the test.
func (d *dockerServices) docker(t *testing.T, nodeName string, timeout time.Duration, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.bin, args...)
	cmd.Env = dockerEnv(node(t, d.l, nodeName).Host(), d.config)
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("no answer within %s, killed: %w", timeout, err)
	}
	return out.String(), errb.String(), err
}

func (d *dockerServices) mustDocker(t *testing.T, nodeName string, timeout time.Duration, args ...string) string {
	t.Helper()
	out, errOut, err := d.docker(t, nodeName, timeout, args...)
	if err != nil {
		t.Fatalf("docker %s on %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), nodeName, err, out, errOut)
	}
	return out
}

// timed runs mustDocker and records how long the command took.
func (d *dockerServices) timed(t *testing.T, timeout time.Duration, args ...string) string {
	t.Helper()
	start := time.Now()
	out := d.mustDocker(t, dsvMgr, timeout, args...)
	d.record("docker "+strings.Join(args, " "), time.Since(start))
	return out
}

func (d *dockerServices) record(what string, took time.Duration) {
	d.timings = append(d.timings, fmt.Sprintf("%-55s %s", what, took.Round(time.Millisecond)))
}

// sameAsShoal runs the same command through docker and shoal on a node and fails unless
// both print the same. Relative times ("5 seconds ago") may tick between the two runs, so
// it tries a few times.
func (d *dockerServices) sameAsShoal(t *testing.T, nodeName string, args ...string) string {
	t.Helper()
	var dockerOut, shoalOut string
	for range 3 {
		dockerOut = d.mustDocker(t, nodeName, 30*time.Second, args...)
		shoalOut = mustRun(t, d.l, nodeName, args...)
		if dockerOut == shoalOut {
			return dockerOut
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Errorf("docker %[1]s and shoal %[1]s on %[2]s print different things:\n--- docker:\n%[3]s--- shoal:\n%[4]s", strings.Join(args, " "), nodeName, dockerOut, shoalOut)
	return dockerOut
}

// dockerTask is one row of docker service ps / node ps in JSON.
type dockerTask struct {
	ID, Name, Image, Node, DesiredState, CurrentState, Error string
}

func (r dockerTask) running() bool {
	return r.DesiredState == "Running" && strings.HasPrefix(r.CurrentState, "Running ")
}

func (r dockerTask) String() string {
	return fmt.Sprintf("%s %s %s on %s: desired %s, %s %s", r.ID, r.Name, r.Image, r.Node, r.DesiredState, r.CurrentState, r.Error)
}

// tasks lists rows of `docker <args> --format '{{json .}}'` (service ps or node ps).
func (d *dockerServices) tasks(t *testing.T, nodeName string, args ...string) []dockerTask {
	t.Helper()
	out := d.mustDocker(t, nodeName, 30*time.Second, append(args, "--format", "{{json .}}")...)
	var rows []dockerTask
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r dockerTask
		decodeJSON(t, line, &r)
		rows = append(rows, r)
	}
	return rows
}

// expectRunning checks that rows are exactly want tasks, all running image.
func expectRunning(t *testing.T, what string, rows []dockerTask, want int, image string) {
	t.Helper()
	bad := len(rows) != want
	for _, r := range rows {
		if !r.running() || r.Image != image {
			bad = true
		}
	}
	if bad {
		t.Errorf("%s: want %d tasks running %s, got:\n%s", what, want, image, joinRows(rows))
	}
}

func joinRows(rows []dockerTask) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "  %s\n", r)
	}
	return b.String()
}

// expectLines checks that output has every wanted line (each compared without surrounding
// spaces: docker pads its progress lines).
func expectLines(t *testing.T, what string, lines []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.TrimSpace(l) == w }) {
			t.Errorf("%s lacks the line %q; it printed:\n%s", what, w, strings.Join(lines, "\n"))
		}
	}
}

func (d *dockerServices) waitNodesReady(t *testing.T) {
	eventually(t, 30*time.Second, "docker node ls shows the three nodes Ready", func() error {
		out, errOut, err := d.docker(t, dsvMgr, 30*time.Second, "node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.Availability}}")
		if err != nil {
			return fmt.Errorf("%v: %s", err, errOut)
		}
		if got, want := sortedLines(out), []string{"manager-1 Ready Active", "worker-1 Ready Active", "worker-2 Ready Active"}; !slices.Equal(got, want) {
			return fmt.Errorf("docker node ls: %q", got)
		}
		return nil
	})
}

// importImages imports sleepy:1 and sleepy:2 on every node (images are node-local) and
// checks that each gets the same, content-addressed ID everywhere.
func (d *dockerServices) importImages(t *testing.T) {
	firstOn := map[string]string{}
	for _, n := range d.l.Nodes() {
		for _, v := range []string{"1", "2"} {
			ref := "sleepy:" + v
			start := time.Now()
			out := d.mustDocker(t, n.Name, time.Minute, "import", "--change", `CMD ["/sleepy"]`, "--change", "ENV SLEEPY_VERSION="+v,
				filepath.Join(d.images, "sleepy-"+v+".tar.gz"), ref)
			d.record(fmt.Sprintf("docker import sleepy-%s.tar.gz %s (%s)", v, ref, n.Name), time.Since(start))
			id := strings.TrimSpace(out)
			if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(id) {
				t.Fatalf("docker import %s on %s printed %q, want the image ID (sha256:...)", ref, n.Name, out)
			}
			if prev, ok := d.imageIDs[ref]; !ok {
				d.imageIDs[ref], firstOn[ref] = id, n.Name
			} else if prev != id {
				t.Errorf("%s is %s on %s but %s on %s: the same content must get the same ID on every node", ref, prev, firstOn[ref], id, n.Name)
			}
		}
	}
	if d.imageIDs["sleepy:1"] == d.imageIDs["sleepy:2"] {
		t.Errorf("sleepy:1 and sleepy:2 have the same ID %s, though their configs differ", d.imageIDs["sleepy:1"])
	}
	want := []string{"sleepy:1 " + d.imageIDs["sleepy:1"], "sleepy:2 " + d.imageIDs["sleepy:2"]}
	for _, n := range d.l.Nodes() {
		got := sortedLines(d.mustDocker(t, n.Name, 30*time.Second, "images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"))
		if !slices.Equal(got, want) {
			t.Errorf("docker images --no-trunc on %s: %q, want %q", n.Name, got, want)
		}
		table := d.sameAsShoal(t, n.Name, "image", "ls")
		for _, ref := range []string{"sleepy:1", "sleepy:2"} {
			repo, tag, _ := strings.Cut(ref, ":")
			short := strings.TrimPrefix(d.imageIDs[ref], "sha256:")[:12]
			if !regexp.MustCompile(`(?m)^` + repo + `\s+` + tag + `\s+` + short + `\s`).MatchString(table) {
				t.Errorf("docker image ls on %s lacks a row %s %s %s:\n%s", n.Name, repo, tag, short, table)
			}
		}
	}
}

// create runs docker service create without -d: docker follows the service through our
// API until it converges, and must neither fail nor hang.
func (d *dockerServices) create(t *testing.T) {
	out := d.timed(t, 60*time.Second, "service", "create", "--detach=false", "--name", "web", "--replicas", "3", "sleepy:1")
	d.serviceID = strings.TrimSpace(mustRun(t, d.l, dsvMgr, "service", "inspect", "--format", "{{.ID}}", "web"))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != d.serviceID {
		t.Errorf("docker service create printed %q first, want the service ID %s (shoal service inspect)", lines[0], d.serviceID)
	}
	// docker 28 names the service by its ID here, as create's own output did.
	expectLines(t, "docker service create --detach=false", lines,
		"overall progress: 0 out of 3 tasks", "1/3:", "2/3:", "3/3:", "overall progress: 3 out of 3 tasks",
		"verify: Service "+d.serviceID+" converged")

	// docker returned once the service converged: its tasks run now, one per node.
	rows := d.tasks(t, dsvMgr, "service", "ps", "web")
	expectRunning(t, "docker service ps web after create", rows, 3, "sleepy:1")
	nodes := map[string]bool{}
	for _, r := range rows {
		nodes[r.Node] = true
	}
	if len(nodes) != 3 {
		t.Errorf("3 replicas on 3 ready nodes should spread, one per node:\n%s", joinRows(rows))
	}
}

// listAndInspect checks docker service ls, ps, inspect and inspect --pretty, each against
// shoal's.
func (d *dockerServices) listAndInspect(t *testing.T) {
	if got := strings.TrimSpace(d.mustDocker(t, dsvMgr, 30*time.Second, "service", "ls", "--format", "{{.ID}} {{.Name}} {{.Mode}} {{.Replicas}} {{.Image}}")); got != d.serviceID[:12]+" web replicated 3/3 sleepy:1" {
		t.Errorf("docker service ls: %q, want %q", got, d.serviceID[:12]+" web replicated 3/3 sleepy:1")
	}
	table := d.sameAsShoal(t, dsvMgr, "service", "ls")
	if !strings.HasPrefix(table, "ID ") || !strings.Contains(table, "MODE") || !strings.Contains(table, "REPLICAS") {
		t.Errorf("docker service ls prints no table header:\n%s", table)
	}

	expectRunning(t, "docker service ps web", d.tasks(t, dsvMgr, "service", "ps", "web"), 3, "sleepy:1")
	d.sameAsShoal(t, dsvMgr, "service", "ps", "web")

	var got, want []swarm.Service
	decodeJSON(t, d.mustDocker(t, dsvMgr, 30*time.Second, "service", "inspect", "web"), &got)
	decodeJSON(t, mustRun(t, d.l, dsvMgr, "service", "inspect", "web"), &want)
	if len(got) != 1 || len(want) != 1 {
		t.Fatalf("docker service inspect web gave %d services, shoal %d; want one each", len(got), len(want))
	}
	s := got[0]
	if s.ID != d.serviceID || s.Spec.Name != "web" || s.Spec.Mode.Replicated == nil || s.Spec.Mode.Replicated.Replicas == nil ||
		*s.Spec.Mode.Replicated.Replicas != 3 || s.Spec.TaskTemplate.ContainerSpec == nil {
		t.Fatalf("docker service inspect web: %+v; want web (%s) with 3 replicas", s, d.serviceID)
	}
	// docker resolved the tag to a digest (GET /distribution/sleepy:1/json) and pinned it.
	if img := s.Spec.TaskTemplate.ContainerSpec.Image; !strings.HasPrefix(img, "sleepy:1@sha256:") {
		t.Errorf("web's image is %q, want sleepy:1 pinned by digest (sleepy:1@sha256:...)", img)
	}
	if s.Version != want[0].Version || s.Spec.TaskTemplate.ContainerSpec.Image != want[0].Spec.TaskTemplate.ContainerSpec.Image {
		t.Errorf("docker and shoal service inspect differ: docker %+v %s, shoal %+v %s", s.Version, s.Spec.TaskTemplate.ContainerSpec.Image,
			want[0].Version, want[0].Spec.TaskTemplate.ContainerSpec.Image)
	}

	pretty := d.sameAsShoal(t, dsvMgr, "service", "inspect", "--pretty", "web")
	var lines []string
	for _, line := range strings.Split(pretty, "\n") {
		lines = append(lines, strings.Join(strings.Fields(line), " "))
	}
	expectLines(t, "docker service inspect --pretty web", lines,
		"ID: "+d.serviceID, "Name: web", "Service Mode: Replicated", "Replicas: 3", "Image: "+s.Spec.TaskTemplate.ContainerSpec.Image)
}

// scale runs docker service scale, which waits for convergence by default in docker 28.
func (d *dockerServices) scale(t *testing.T) {
	out := d.timed(t, 60*time.Second, "service", "scale", "web=5")
	expectLines(t, "docker service scale web=5", strings.Split(out, "\n"),
		"web scaled to 5", "overall progress: 5 out of 5 tasks", "verify: Service web converged")
	// No polling: docker said the service converged, so its five tasks run now.
	expectRunning(t, "docker service ps web --filter desired-state=running after the scale",
		d.tasks(t, dsvMgr, "service", "ps", "--filter", "desired-state=running", "web"), 5, "sleepy:1")
	if got := strings.TrimSpace(d.mustDocker(t, dsvMgr, 30*time.Second, "service", "ls", "--format", "{{.Name}} {{.Replicas}}")); got != "web 5/5" {
		t.Errorf("docker service ls after the scale: %q, want web 5/5", got)
	}
}

// update runs docker service update --image on a terminal, where docker draws a progress
// bar per slot from the task states our API reports.
func (d *dockerServices) update(t *testing.T) {
	start := time.Now()
	out, err := d.dockerOnTerminal(t, dsvMgr, 150*time.Second, "service", "update", "--image", "sleepy:2", "web")
	d.record("docker service update --image sleepy:2 web (terminal)", time.Since(start))
	lines := terminalLines(out)
	if err != nil {
		t.Fatalf("docker service update --image sleepy:2 web: %v; the terminal showed:\n%s", err, strings.Join(lines, "\n"))
	}
	expectLines(t, "docker service update on a terminal", lines, "overall progress: 5 out of 5 tasks", "verify: Service web converged")
	for slot := 1; slot <= 5; slot++ {
		bar := regexp.MustCompile(fmt.Sprintf(`^%d/5: running\s+\[=+>\]$`, slot))
		if !slices.ContainsFunc(lines, func(l string) bool { return bar.MatchString(strings.TrimSpace(l)) }) {
			t.Errorf("docker drew no full progress bar for slot %d/5 in state running; the terminal showed:\n%s", slot, strings.Join(lines, "\n"))
		}
	}

	all := d.tasks(t, dsvMgr, "service", "ps", "web")
	var running, replaced []dockerTask
	for _, r := range all {
		switch {
		case r.DesiredState == "Running":
			running = append(running, r)
		case r.Image == "sleepy:1" && r.DesiredState == "Shutdown" && strings.HasPrefix(r.CurrentState, "Shutdown "):
			replaced = append(replaced, r)
		}
	}
	expectRunning(t, "docker service ps web after the update", running, 5, "sleepy:2")
	if len(replaced) != 5 {
		t.Errorf("docker service ps web after the update: want the 5 replaced sleepy:1 tasks as shut-down history, got:\n%s", joinRows(all))
	}
	table := d.sameAsShoal(t, dsvMgr, "service", "ps", "web")
	if n := strings.Count(table, `\_ web.`); n != 5 {
		t.Errorf("docker service ps web shows %d history rows (\\_ web.N), want 5:\n%s", n, table)
	}
	d.waitUpdateState(t, "completed")
}

// waitUpdateState waits until docker service inspect shows web's UpdateStatus in state.
func (d *dockerServices) waitUpdateState(t *testing.T, state string) {
	t.Helper()
	eventually(t, 15*time.Second, "web's UpdateStatus "+state, func() error {
		got := strings.TrimSpace(d.mustDocker(t, dsvMgr, 30*time.Second, "service", "inspect", "--format", "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}", "web"))
		if got != state {
			return fmt.Errorf("UpdateStatus state %q", got)
		}
		return nil
	})
}

// rollback runs docker service rollback: back to sleepy:1, slot by slot, with progress.
func (d *dockerServices) rollback(t *testing.T) {
	out := d.timed(t, 150*time.Second, "service", "rollback", "web")
	expectLines(t, "docker service rollback web", strings.Split(out, "\n"),
		"web", "rollback: manually requested rollback", "overall progress: rolling back update: 5 out of 5 tasks", "verify: Service web converged")
	expectRunning(t, "docker service ps web --filter desired-state=running after the rollback",
		d.tasks(t, dsvMgr, "service", "ps", "--filter", "desired-state=running", "web"), 5, "sleepy:1")
	img := strings.TrimSpace(d.mustDocker(t, dsvMgr, 30*time.Second, "service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}} {{.PreviousSpec.TaskTemplate.ContainerSpec.Image}}", "web"))
	if !regexp.MustCompile(`^sleepy:1@sha256:\S+ sleepy:2@sha256:\S+$`).MatchString(img) {
		t.Errorf("after the rollback web's spec and previous spec run %q, want sleepy:1 and sleepy:2", img)
	}
	d.waitUpdateState(t, "rollback_completed")
	d.sameAsShoal(t, dsvMgr, "service", "ps", "web")
}

// logs checks that docker service logs gathers every task's output, from every node.
func (d *dockerServices) logs(t *testing.T) {
	out := d.timed(t, 30*time.Second, "service", "logs", "web")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	rows := d.tasks(t, dsvMgr, "service", "ps", "web")
	for _, r := range rows {
		prefix := fmt.Sprintf("%s.%s@%s ", r.Name, r.ID, r.Node)
		said := "| sleepy " + strings.TrimPrefix(r.Image, "sleepy:") + " listening on "
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, prefix) && strings.Contains(l, said) }) {
			t.Errorf("docker service logs web has no line %q...%q for task %s:\n%s", prefix, said, r, out)
		}
	}
	var shoalOut string
	for range 3 {
		if shoalOut = mustRun(t, d.l, dsvMgr, "service", "logs", "web"); slices.Equal(sortedLines(shoalOut), sortedLines(out)) {
			return
		}
		out = d.mustDocker(t, dsvMgr, 30*time.Second, "service", "logs", "web")
	}
	t.Errorf("docker and shoal service logs web print different lines:\n--- docker:\n%s--- shoal:\n%s", out, shoalOut)
}

// nodePS checks docker node ps on each node: every running task of web shows up once, on
// the node it runs on.
func (d *dockerServices) nodePS(t *testing.T) {
	running := map[string]dockerTask{}
	for _, r := range d.tasks(t, dsvMgr, "service", "ps", "--filter", "desired-state=running", "web") {
		running[r.ID] = r
	}
	seen := map[string]string{}
	for _, ref := range []string{"self", "worker-1", "worker-2"} {
		name := ref
		if ref == "self" {
			name = dsvMgr
		}
		rows := d.tasks(t, dsvMgr, "node", "ps", "--filter", "desired-state=running", ref)
		if len(rows) == 0 {
			t.Errorf("docker node ps %s lists no running task; 5 replicas on 3 nodes should leave some on every node", ref)
		}
		for _, r := range rows {
			if r.Node != name || !r.running() {
				t.Errorf("docker node ps %s lists %s", ref, r)
			}
			if prev, dup := seen[r.ID]; dup {
				t.Errorf("task %s is listed on %s and on %s", r.ID, prev, ref)
			}
			seen[r.ID] = ref
			if want, ok := running[r.ID]; !ok || want.Node != r.Node {
				t.Errorf("docker node ps %s lists %s, which docker service ps web does not show running there", ref, r)
			}
		}
		d.sameAsShoal(t, dsvMgr, "node", "ps", ref)
	}
	if len(seen) != len(running) {
		t.Errorf("docker node ps over the three nodes lists %d running tasks; docker service ps web lists %d:\n%s", len(seen), len(running), joinRows(slices.Collect(maps.Values(running))))
	}
}

// remove runs docker service rm; the service goes at once and its tasks soon after.
func (d *dockerServices) remove(t *testing.T) {
	if out := strings.TrimSpace(d.timed(t, 30*time.Second, "service", "rm", "web")); out != "web" {
		t.Errorf("docker service rm web printed %q, want web", out)
	}
	if out := d.mustDocker(t, dsvMgr, 30*time.Second, "service", "ls", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("docker service ls -q after rm: %q, want nothing", out)
	}
	if _, errOut, err := d.docker(t, dsvMgr, 30*time.Second, "service", "ps", "web"); err == nil || !strings.Contains(errOut, "no such service: web") {
		t.Errorf("docker service ps web after rm: %v, stderr %q; want no such service", err, errOut)
	}
	mc := apiClient(t, d.l, dsvMgr)
	took := eventually(t, 30*time.Second, "web's tasks gone", func() error {
		_, errOut, err := run(t, d.l, dsvMgr, "service", "ps", d.serviceID)
		if err == nil || !strings.Contains(errOut, "no such service") {
			return fmt.Errorf("shoal service ps %s: %v %q", d.serviceID, err, errOut)
		}
		for _, n := range []string{"manager-1", "worker-1", "worker-2"} {
			if out := strings.TrimSpace(mustRun(t, d.l, dsvMgr, "node", "ps", "-q", n)); out != "" {
				return fmt.Errorf("shoal node ps -q %s: %q", n, out)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := mc.TaskList(ctx, client.TaskListOptions{})
		if err != nil {
			return err
		}
		for _, tk := range res.Items {
			if tk.ServiceID == d.serviceID {
				return fmt.Errorf("task %s of web still stored (%s, desired %s)", tk.ID, tk.Status.State, tk.DesiredState)
			}
		}
		return nil
	})
	d.record("web's tasks gone after docker service rm", took)
}

// dockerOnTerminal runs docker with its output on a pseudo-terminal 200 columns wide, as a
// user at a terminal sees it: docker then draws progress bars rather than plain lines.
// It returns everything docker wrote to the terminal.
func (d *dockerServices) dockerOnTerminal(t *testing.T, nodeName string, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	ptmx, pts, err := openPTY(200, 50)
	if err != nil {
		t.Fatalf("opening a pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.bin, args...)
	cmd.Env = append(dockerEnv(node(t, d.l, nodeName).Host(), d.config), "TERM=xterm")
	cmd.Stdout, cmd.Stderr = pts, pts
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Start()
	pts.Close() // docker holds the terminal now; reads end (EIO) once it exits
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&out, ptmx)
		close(copied)
	}()
	err = cmd.Wait()
	if ctx.Err() != nil {
		err = fmt.Errorf("no answer within %s, killed: %w", timeout, err)
	}
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
		ptmx.Close()
		<-copied
	}
	return out.String(), err
}

// openPTY opens a pseudo-terminal of the given size: the master, and the terminal itself.
func openPTY(cols, rows uint16) (ptmx, pts *os.File, err error) {
	ptmx, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	raw, err := ptmx.SyscallConn()
	if err != nil {
		ptmx.Close()
		return nil, nil, err
	}
	var n uint32
	var ioctlErr error
	if err := raw.Control(func(fd uintptr) {
		if ioctlErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ioctlErr != nil {
			return
		}
		n, ioctlErr = unix.IoctlGetUint32(int(fd), unix.TIOCGPTN)
	}); err != nil || ioctlErr != nil {
		ptmx.Close()
		return nil, nil, errors.Join(err, ioctlErr)
	}
	pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		ptmx.Close()
		return nil, nil, err
	}
	if err := unix.IoctlSetWinsize(int(pts.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: cols, Row: rows}); err != nil {
		ptmx.Close()
		pts.Close()
		return nil, nil, err
	}
	return ptmx, pts, nil
}

var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// terminalLines is what a terminal showed, line by line: escape sequences (cursor moves,
// line clears) dropped, and every carriage return or newline ending a line.
func terminalLines(s string) []string {
	var lines []string
	for _, line := range regexp.MustCompile(`[\r\n]+`).Split(ansiEscape.ReplaceAllString(s, ""), -1) {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}
