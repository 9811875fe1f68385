package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoal/shoal/lab"
)

// benchPoll is how often the service benchmark lists tasks. Convergence times are
// measured at this resolution (plus the listing's own time); the start latencies come
// from the task timestamps.
const benchPoll = 100 * time.Millisecond

// BenchmarkServiceScale measures services on a lab of 1 manager + 4 workers running the
// sample app (sleepy:1) in runc containers. Run with -benchtime 1x (the lab, images and
// one create/scale/rm cycle take about half a minute on 2 cores). In one run it reports:
//
//   - the baseline: a 1-replica service from `service create` to its task RUNNING, the
//     per-task floor of the whole pipeline (API, orchestrator, scheduler, dispatcher,
//     agent, runc, status report);
//   - `service create --replicas 100` to 100 tasks RUNNING, then `service scale` to 300
//     to 300 RUNNING: seconds, tasks/s, and the time per task as a multiple of the baseline
//     (below 1 means tasks start in parallel faster than one alone);
//   - task start latency p50/p99, from the task timestamps (the scheduler's and the
//     agents' clocks, which on a lab are the same machine's). ASSIGNED→RUNNING is the
//     agent's RUNNING timestamp minus the scheduler's ASSIGNED timestamp; a task shows
//     ASSIGNED only until its agent reports ACCEPTED, so only the tasks a poll caught in
//     ASSIGNED have it ("assigned-seen"). Those that linger are likelier to be caught, so
//     that sample leans slow. Created→RUNNING (from the task's CreatedAt) covers every
//     task; the scheduler assigns in the same leader round that creates, so the two differ
//     by one scheduling round (logged as created→ASSIGNED for the caught tasks: ~10ms);
//   - each daemon's resident memory (VmRSS) with the 100 tasks running (the manager is
//     not drained, as in swarm, so every node runs 20), and, logged, the memory of the
//     runc and app processes each node's tasks hold;
//   - `service rm` until no task, bundle or runc container is left on any node.
//
// Convergence is observed by listing the service's tasks through the manager's API every
// 100ms, so the seconds carry the polling delay: 100ms, plus the listing itself, which on
// a saturated 2-core machine took up to 1.6s. The log gives, beside each, when the last
// task started by its agent's timestamp. It also logs where the CPU went in each phase
// (the daemons against the whole machine): on 2 cores starting containers saturates the
// CPU, and runc, the containers' processes and the kernel take most of it.
func BenchmarkServiceScale(b *testing.B) {
	needLab(b)
	archive := filepath.Join(benchSampleImages(b), "sleepy-1.docker.tar")
	l := startLab(b, lab.Options{Name: "benchsvc", Managers: 1, Workers: 4, DispatcherHeartbeat: time.Second})
	nodes := l.Nodes()
	loadOnEveryNode(b, l, archive)
	mc := apiClient(b, l, svcMgr)
	nodeID := waitNodesReady(b, mc, len(nodes))

	b.ResetTimer()
	for range b.N {
		// Baseline: one task alone, in the same run.
		base := newTaskWatch(mc, "benchone")
		start := time.Now()
		benchShoal(b, l, svcMgr, "service", "create", "-d", "--name", "benchone", "sleepy:1")
		baseline := base.waitRunning(b, start, 1, time.Minute)
		b.ReportMetric(baseline.Seconds(), "baseline-1task-s")
		removeServices(b, l, mc, "benchone")

		// 100 replicas from create.
		web := newTaskWatch(mc, "web")
		cpu := sampleCPU(nodes)
		start = time.Now()
		benchShoal(b, l, svcMgr, "service", "create", "-d", "--replicas", "100", "--name", "web", "sleepy:1")
		took := web.waitRunning(b, start, 100, 5*time.Minute)
		first := web.latencies(web.ids())
		b.ReportMetric(took.Seconds(), "create100-s")
		b.ReportMetric(100/took.Seconds(), "create100-tasks/s")
		b.ReportMetric(took.Seconds()/100/baseline.Seconds(), "create100-per-task-x-baseline")
		first.report(b, "create100", start, took)
		cpu.logSince(b, "create100", nodes)

		// Resident memory with the 100 tasks running, after the status traffic settles.
		time.Sleep(2 * time.Second)
		var workerMax float64
		var rssLog []string
		for _, n := range nodes {
			rss := residentMB(n.PID)
			rssLog = append(rssLog, fmt.Sprintf("%s %.1f MB with %d tasks (+%.1f MB of runc and app processes)",
				n.Name, rss, web.runningOn[nodeID[n.Name]], descendantsMB(n.PID)))
			if n.Role == lab.RoleManager {
				b.ReportMetric(rss, "rss100-manager-MB")
			} else {
				workerMax = max(workerMax, rss)
			}
		}
		b.ReportMetric(workerMax, "rss100-max-worker-MB")
		b.Logf("daemon resident memory with 100 tasks: %s", strings.Join(rssLog, "; "))

		// Scale to 300: 200 more tasks on a cluster already running 100.
		before := web.ids()
		cpu = sampleCPU(nodes)
		start = time.Now()
		benchShoal(b, l, svcMgr, "service", "scale", "-d", "web=300")
		took = web.waitRunning(b, start, 300, 10*time.Minute)
		added := web.latencies(web.idsExcept(before))
		b.ReportMetric(took.Seconds(), "scale300-s")
		b.ReportMetric(200/took.Seconds(), "scale300-tasks/s")
		b.ReportMetric(took.Seconds()/200/baseline.Seconds(), "scale300-per-task-x-baseline")
		added.report(b, "scale300", start, took)
		cpu.logSince(b, "scale300", nodes)
		perNode := map[string]int{}
		for _, n := range nodes {
			perNode[n.Name] = web.runningOn[nodeID[n.Name]]
		}
		b.Logf("300 tasks per node: %v; task list polls: %d for 1 task, %d for 100 then 300", perNode, base.polls, web.polls)
		if len(web.failed) > 0 || len(base.failed) > 0 {
			b.Logf("%d tasks failed or were rejected and were replaced (the times include the replacements): %v", len(web.failed)+len(base.failed), web.failed)
		}

		start = time.Now()
		removeServices(b, l, mc, "web")
		b.ReportMetric(time.Since(start).Seconds(), "rm300-s")
	}
}

// taskWatch follows one service's tasks through repeated listings and keeps, per task,
// the timestamps the start latencies are computed from.
type taskWatch struct {
	c       *client.Client
	service string
	polls   int
	tasks   map[string]*taskTimes
	failed  map[string]string // tasks seen FAILED or REJECTED, with their errors

	runningOn map[string]int // at the last poll, RUNNING tasks by node ID
}

type taskTimes struct {
	created  time.Time // CreatedAt, written by the store when the orchestrator creates it
	assigned time.Time // the scheduler's ASSIGNED timestamp, when a poll saw it ASSIGNED
	running  time.Time // the agent's RUNNING timestamp
}

func newTaskWatch(c *client.Client, service string) *taskWatch {
	return &taskWatch{c: c, service: service, tasks: map[string]*taskTimes{}, failed: map[string]string{}}
}

// poll lists the tasks once, records what it sees and returns how many run as desired and
// a count by state.
func (w *taskWatch) poll() (int, map[swarm.TaskState]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := w.c.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", w.service)})
	if err != nil {
		return 0, nil, err
	}
	w.polls++
	w.runningOn = map[string]int{}
	running, states := 0, map[swarm.TaskState]int{}
	for _, tk := range res.Items {
		switch tk.Status.State {
		case swarm.TaskStateFailed, swarm.TaskStateRejected:
			w.failed[tk.ID] = tk.Status.Err
		}
		if tk.DesiredState != swarm.TaskStateRunning {
			continue
		}
		states[tk.Status.State]++
		tt := w.tasks[tk.ID]
		if tt == nil {
			tt = &taskTimes{created: tk.CreatedAt}
			w.tasks[tk.ID] = tt
		}
		switch tk.Status.State {
		case swarm.TaskStateAssigned:
			tt.assigned = tk.Status.Timestamp
		case swarm.TaskStateRunning:
			running++
			w.runningOn[tk.NodeID]++
			if tt.running.IsZero() {
				tt.running = tk.Status.Timestamp
			}
		}
	}
	return running, states, nil
}

// waitRunning polls until want tasks run and returns the time since start at the poll
// that saw them. It fails the benchmark, with the tasks' states, at timeout.
func (w *taskWatch) waitRunning(b *testing.B, start time.Time, want int, timeout time.Duration) time.Duration {
	b.Helper()
	tick := time.NewTicker(benchPoll)
	defer tick.Stop()
	var last string
	for {
		running, states, err := w.poll()
		if err == nil && running >= want {
			return time.Since(start)
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprint(states)
		}
		if time.Since(start) > timeout {
			b.Fatalf("%s: %d tasks not all RUNNING after %s; tasks meant to run, by state: %s", w.service, want, timeout, last)
		}
		<-tick.C
	}
}

func (w *taskWatch) ids() map[string]bool {
	out := map[string]bool{}
	for id := range w.tasks {
		out[id] = true
	}
	return out
}

func (w *taskWatch) idsExcept(old map[string]bool) map[string]bool {
	out := map[string]bool{}
	for id := range w.tasks {
		if !old[id] {
			out[id] = true
		}
	}
	return out
}

// startLatencies are the start latencies of a set of tasks.
type startLatencies struct {
	tasks             int
	assignedToRunning []time.Duration // only the tasks caught ASSIGNED
	createdToAssigned []time.Duration // the same tasks
	createdToRunning  []time.Duration // every task
	lastRunning       time.Time       // the latest RUNNING timestamp
}

func (w *taskWatch) latencies(ids map[string]bool) startLatencies {
	var s startLatencies
	for id := range ids {
		tt := w.tasks[id]
		if tt.running.IsZero() {
			continue
		}
		s.tasks++
		if tt.running.After(s.lastRunning) {
			s.lastRunning = tt.running
		}
		s.createdToRunning = append(s.createdToRunning, tt.running.Sub(tt.created))
		if !tt.assigned.IsZero() {
			s.assignedToRunning = append(s.assignedToRunning, tt.running.Sub(tt.assigned))
			s.createdToAssigned = append(s.createdToAssigned, tt.assigned.Sub(tt.created))
		}
	}
	return s
}

// report reports the latency percentiles and logs how many tasks had an ASSIGNED
// timestamp, and when the last task started by its agent's timestamp next to when the
// task list was seen to show them all RUNNING (which adds the status report and the poll).
func (s startLatencies) report(b *testing.B, prefix string, start time.Time, seen time.Duration) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(percentile(s.assignedToRunning, 50)), prefix+"-assigned-to-running-p50-ms")
	b.ReportMetric(ms(percentile(s.assignedToRunning, 99)), prefix+"-assigned-to-running-p99-ms")
	b.ReportMetric(float64(len(s.assignedToRunning)), prefix+"-assigned-seen")
	b.ReportMetric(ms(percentile(s.createdToRunning, 50)), prefix+"-created-to-running-p50-ms")
	b.ReportMetric(ms(percentile(s.createdToRunning, 99)), prefix+"-created-to-running-p99-ms")
	b.Logf("%s: %d tasks, ASSIGNED seen for %d (created→ASSIGNED p50 %s, max %s); the last RUNNING by its agent's timestamp %s after the command, all RUNNING in the task list at %s",
		prefix, s.tasks, len(s.assignedToRunning), percentile(s.createdToAssigned, 50).Round(time.Microsecond), percentile(s.createdToAssigned, 100).Round(time.Microsecond),
		s.lastRunning.Sub(start).Round(time.Millisecond), seen.Round(time.Millisecond))
}

// removeServices removes services and waits until none of their tasks, bundles or runc
// containers is left on any node, so the lab goes down clean.
func removeServices(b *testing.B, l *lab.Lab, mc *client.Client, services ...string) {
	b.Helper()
	benchShoal(b, l, svcMgr, append([]string{"service", "rm"}, services...)...)
	start := time.Now()
	for {
		left := benchLeftovers(l, mc)
		if len(left) == 0 {
			return
		}
		if time.Since(start) > 3*time.Minute {
			b.Fatalf("service rm %s: after %s still left:\n  %s", strings.Join(services, " "), time.Since(start).Round(time.Second), strings.Join(left, "\n  "))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// benchLeftovers lists the tasks the manager still has and the bundles and runc
// containers still on the nodes, counted per node.
func benchLeftovers(l *lab.Lab, mc *client.Client) []string {
	var left []string
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := mc.TaskList(ctx, client.TaskListOptions{})
	if err != nil {
		left = append(left, "task list: "+err.Error())
	} else if len(res.Items) > 0 {
		left = append(left, fmt.Sprintf("%d tasks in task ls", len(res.Items)))
	}
	for _, n := range l.Nodes() {
		if entries, _ := os.ReadDir(filepath.Join(n.DataRoot, "containers", "containers")); len(entries) > 0 {
			left = append(left, fmt.Sprintf("%s: %d container bundles", n.Name, len(entries)))
		}
		out, err := exec.Command("runc", "--root", filepath.Join(n.DataRoot, "containers", "runc"), "list", "-q").CombinedOutput()
		if err != nil {
			left = append(left, fmt.Sprintf("%s: runc list: %v: %s", n.Name, err, out))
		} else if ids := strings.Fields(string(out)); len(ids) > 0 {
			left = append(left, fmt.Sprintf("%s: %d runc containers", n.Name, len(ids)))
		}
	}
	return left
}

// benchShoal runs the shoal CLI against a lab node and fails the benchmark on error.
func benchShoal(b testing.TB, l *lab.Lab, nodeName string, args ...string) string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, shoalBin(b), args...)
	cmd.Env = append(os.Environ(), "SHOAL_HOST="+node(b, l, nodeName).Host())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		b.Fatalf("shoal %s on %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), nodeName, err, out.String(), errOut.String())
	}
	return out.String()
}

// loadOnEveryNode loads an image archive on every node at once (images are node-local).
func loadOnEveryNode(b testing.TB, l *lab.Lab, archive string) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make([]string, len(l.Nodes()))
	for i, n := range l.Nodes() {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, shoalBin(b), "image", "load", "-i", archive)
			cmd.Env = append(os.Environ(), "SHOAL_HOST="+n.Host())
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Sprintf("image load -i %s on %s: %v\n%s", archive, n.Name, err, out)
			}
		})
	}
	wg.Wait()
	if msg := strings.Join(errs, ""); msg != "" {
		b.Fatal(msg)
	}
}

// waitNodesReady waits until want nodes are ready and returns their IDs by hostname.
func waitNodesReady(b testing.TB, mc *client.Client, want int) map[string]string {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := mc.NodeList(ctx, client.NodeListOptions{})
		cancel()
		ready, ids := 0, map[string]string{}
		if err == nil {
			for _, n := range res.Items {
				ids[n.Description.Hostname] = n.ID
				if n.Status.State == swarm.NodeStateReady {
					ready++
				}
			}
			if ready == want {
				return ids
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d nodes ready after 30s (%v)", ready, want, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// benchSampleImages is sampleImages for a benchmark: the directory holding the sleepy
// archives, packing them first (make sample-images) when missing.
func benchSampleImages(b testing.TB) string {
	b.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(root, "build", "images")
	if _, err := os.Stat(filepath.Join(dir, "sleepy-1.docker.tar")); err != nil {
		cmd := exec.Command("make", "sample-images")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("make sample-images: %v\n%s", err, out)
		}
	}
	return dir
}

// descendantsMB sums the resident memory of a process's descendants (a worker's runc
// and container processes), read from /proc.
func descendantsMB(pid int) float64 {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name, in parentheses, may hold spaces: fields start after its ')'.
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(data[i+1:]))
		if len(fields) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(fields[1]); err == nil {
			children[ppid] = append(children[ppid], p)
		}
	}
	var total float64
	queue := append([]int(nil), children[pid]...)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		total += residentMB(p)
		queue = append(queue, children[p]...)
	}
	return total
}

// cpuSample is the machine's CPU time and each daemon's at one moment, to tell where a
// phase's CPU went: the daemons themselves, or the containers, runc and the kernel.
type cpuSample struct {
	at          time.Time
	busy, total float64            // the machine's CPU seconds, all cores
	daemon      map[string]float64 // each daemon's user+system CPU seconds, by node
	helpers     map[string]float64 // CPU seconds of the processes each daemon ran and reaped
}

// clockTick is USER_HZ, the unit of /proc's CPU times (100 on every Linux we run on).
const clockTick = 100

func sampleCPU(nodes []lab.Node) cpuSample {
	s := cpuSample{at: time.Now(), daemon: map[string]float64{}, helpers: map[string]float64{}}
	if data, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(data), "\n")
		for i, f := range strings.Fields(line)[1:] {
			v, _ := strconv.ParseFloat(f, 64)
			s.total += v / clockTick
			if i != 3 && i != 4 { // idle, iowait
				s.busy += v / clockTick
			}
		}
	}
	for _, n := range nodes {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n.PID))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			continue
		}
		// After the command: state is field 3; utime, stime, cutime, cstime are 14 to 17.
		f := strings.Fields(string(data[i+1:]))
		if len(f) < 15 {
			continue
		}
		ticks := func(k int) float64 { v, _ := strconv.ParseFloat(f[k-3], 64); return v / clockTick }
		s.daemon[n.Name] = ticks(14) + ticks(15)
		s.helpers[n.Name] = ticks(16) + ticks(17)
	}
	return s
}

// logSince logs the CPU each daemon and the whole machine used since s.
func (s cpuSample) logSince(b *testing.B, phase string, nodes []lab.Node) {
	now := sampleCPU(nodes)
	wall := now.at.Sub(s.at).Seconds()
	var parts []string
	var daemons float64
	for _, n := range nodes {
		d := now.daemon[n.Name] - s.daemon[n.Name]
		daemons += d
		parts = append(parts, fmt.Sprintf("%s %.1fs (+%.1fs reaped helpers)", n.Name, d, now.helpers[n.Name]-s.helpers[n.Name]))
	}
	busy, total := now.busy-s.busy, now.total-s.total
	b.Logf("%s CPU over %.1fs: machine %.1f of %.1f CPU-s busy (%.0f%%); daemons %.1f CPU-s: %s",
		phase, wall, busy, total, 100*busy/max(total, 1e-9), daemons, strings.Join(parts, ", "))
}
