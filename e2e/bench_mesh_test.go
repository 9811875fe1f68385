package e2e

// BenchmarkMesh puts numbers on the routing mesh against the same traffic sent straight to
// the task, in one run on one lab. Run it alone, with one iteration:
//
//	make build && SHOAL_BIN=$PWD/bin/shoal go test -run '^$' -bench BenchmarkMesh -benchtime 1x -timeout 20m ./e2e/
//
// (root; it packs the sample images first if build/images lacks them). One iteration is a
// fixed amount of work: about 20s of load after 10s of setup on 2 cores, so `make bench`
// (-benchtime 2s) runs exactly one as well.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoal/shoal/lab"
	"github.com/shoal/shoal/network/netns"
)

const (
	meshTaskNode  = "worker-1"     // runs the one web task
	meshEntryNode = svcMgr         // runs none: the mesh path enters here and the direct path leaves from here
	meshPort      = 8080           // published and target port
	meshRequests  = 5000           // requests per traffic kind and path in one iteration
	meshRounds    = 10             // the paths take turns this many times per traffic kind
	meshStream    = int64(1 << 30) // bytes per stream: the most sleepy's /bytes sends
)

// meshTraffic is the HTTP load sent down each path.
var meshTraffic = []struct {
	name      string // the metrics' infix
	clients   int
	keepAlive bool
}{
	{"newconn", 10, false},
	{"keepalive", 10, true},
	{"newconn-c1", 1, false},
	{"keepalive-c1", 1, true},
}

// meshPath is one way from the test process to the web task.
type meshPath struct {
	name string
	base string // http://host:port
	dial dialFunc
}

// BenchmarkMesh measures, on a lab of 1 manager + 2 workers with the sample app (sleepy:1,
// no delay) as one task on worker-1 published on port 8080, two paths to that task from
// the test process:
//
//   - mesh: to the manager's lab address, port 8080: the manager's balancer (agent/mesh.go,
//     network/lb in TCP mode) dials the task from the manager's ingress sandbox, over the
//     ingress overlay (VXLAN) to worker-1;
//   - direct: the same client, its sockets made inside that same ingress sandbox (the
//     manager's), to the task's ingress address: the same VXLAN hop, without the balancer
//     (and without the veth from the machine into the manager's namespace).
//
// For each path, in the same run: HTTP GET / with 10 concurrent clients, a new connection
// per request and then keep-alive connections (requests/s, p50, p99), the same with one
// client (latency is what the p99 aim is about), and MB/s (10^6 bytes) of a 1 GiB
// download over one connection. The paths take turns in rounds so drift in the machine's
// speed falls on both. It reports each path's figures, mesh/direct ratios of throughput
// and the mesh's added p99 (the aim: at least 0.7 and under 1 ms), and the entry daemon's
// CPU per request while the mesh serves (the balancer's: user, and sys, which includes the
// kernel's work on the packets it sends). It logs a table, the cost of one namespace
// switch (the balancer makes one per connection it proxies), and how busy the machine was.
func BenchmarkMesh(b *testing.B) {
	needLab(b)
	archive := filepath.Join(benchSampleImages(b), "sleepy-1.docker.tar")
	l := startLab(b, lab.Options{Name: "benchmesh", Managers: 1, Workers: 2})
	loadOnEveryNode(b, l, archive)
	mc := apiClient(b, l, svcMgr)
	if ids := waitNodesReady(b, mc, 3); ids[meshTaskNode] == "" || ids[meshEntryNode] == "" {
		b.Fatalf("nodes by hostname %v: want %s and %s", ids, meshTaskNode, meshEntryNode)
	}
	benchShoal(b, l, svcMgr, "service", "create", "-d", "--name", "web",
		"--constraint", "node.hostname=="+meshTaskNode, "-p", fmt.Sprintf("%d:%d", meshPort, meshPort),
		"-e", "SLEEPY_DELAY=0", "sleepy:1")
	sandbox := netns.Path(node(b, l, meshEntryNode).Netns + ".ingress")
	paths, taskHost := meshPaths(b, l, mc, sandbox)
	b.Logf("task %s on %s; direct from %s; one netns.Do there (the balancer makes one per connection it proxies): %s",
		taskHost, meshTaskNode, sandbox, netnsSwitchCost(b, sandbox))

	// Warm up both paths: neighbour and forwarding entries, pools, the scheduler.
	for _, p := range paths {
		for _, keepAlive := range []bool{false, true} {
			if r := sendHTTPLoad(p.base+"/", 200, 10, keepAlive, p.dial); r.failed > 0 {
				b.Fatalf("%s path, warming up: %d of 200 requests failed: %v", p.name, r.failed, r.errors)
			}
		}
	}

	nodes := l.Nodes()
	res := newMeshResults(node(b, l, meshEntryNode).PID)
	b.ResetTimer()
	for iter := range b.N {
		cpu := sampleCPU(nodes)
		res.sendHTTP(b, paths)
		mid := sampleCPU(nodes)
		res.stream(b, paths)
		if iter == 0 { // once: benchmark logs are cut after 10 lines, and the table comes last
			b.Logf("CPU (the load generator, the balancer, the task and the kernel share the machine's): HTTP load %s; streams %s",
				cpuBetween(cpu, mid), cpuBetween(mid, sampleCPU(nodes)))
		}
	}
	b.StopTimer()
	res.report(b, paths)
}

// meshResults adds up what each path (mesh first, then direct) measured over the
// iterations, with the entry node's daemon's CPU time during each path's turns. The
// balancer runs in that daemon, which has little else to do on an idle cluster: its CPU
// while the mesh serves is the balancer's cost (and about zero on direct turns).
type meshResults struct {
	entryPID int
	loads    [][2]httpLoad  // by meshTraffic entry
	loadCPU  [][2]procTimes // the entry daemon's, by meshTraffic entry
	streams  [2]struct {
		bytes int64
		took  time.Duration
		cpu   procTimes
		runs  []string // MB/s of each stream
	}
}

func newMeshResults(entryPID int) *meshResults {
	return &meshResults{entryPID: entryPID, loads: make([][2]httpLoad, len(meshTraffic)), loadCPU: make([][2]procTimes, len(meshTraffic))}
}

// sendHTTP sends meshRequests requests of each kind of meshTraffic down each path, in
// meshRounds rounds where the paths take turns, so drift in the machine's speed falls on
// both. Any failed request fails the benchmark.
func (r *meshResults) sendHTTP(b *testing.B, paths []meshPath) {
	b.Helper()
	for i, tc := range meshTraffic {
		for round := range meshRounds {
			for turn := range paths {
				side := (turn + round) % len(paths) // who goes first alternates
				p := paths[side]
				cpu := readProcTimes(r.entryPID)
				load := sendHTTPLoad(p.base+"/", meshRequests/meshRounds, tc.clients, tc.keepAlive, p.dial)
				if load.failed > 0 {
					b.Fatalf("%s path, %s: %d of %d requests failed; first: %v", p.name, tc.name, load.failed, meshRequests/meshRounds, load.errors)
				}
				r.loads[i][side].add(load)
				r.loadCPU[i][side] = r.loadCPU[i][side].plus(readProcTimes(r.entryPID).minus(cpu))
			}
		}
	}
}

// stream downloads meshStream bytes over one connection twice down each path, in the
// order mesh, direct, direct, mesh.
func (r *meshResults) stream(b *testing.B, paths []meshPath) {
	b.Helper()
	for _, side := range []int{0, 1, 1, 0} {
		p := paths[side]
		cpu := readProcTimes(r.entryPID)
		n, took, err := streamGet(fmt.Sprintf("%s/bytes?n=%d", p.base, meshStream), p.dial)
		if err == nil && n != meshStream {
			err = fmt.Errorf("%d bytes, want %d", n, meshStream)
		}
		if err != nil {
			b.Fatalf("%s path, 1 GiB stream: %v", p.name, err)
		}
		s := &r.streams[side]
		s.bytes += n
		s.took += took
		s.cpu = s.cpu.plus(readProcTimes(r.entryPID).minus(cpu))
		s.runs = append(s.runs, fmt.Sprintf("%.0f", float64(n)/1e6/took.Seconds()))
	}
}

// report reports the metrics and logs them as a table.
func (r *meshResults) report(b *testing.B, paths []meshPath) {
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "traffic\treq/s mesh/direct\tp50 ms mesh/direct\tp99 ms mesh/direct\tconns mesh/direct\tbalancer CPU µs/req user+sys (direct)")
	for i, tc := range meshTraffic {
		mesh, direct := r.loads[i][0], r.loads[i][1]
		mp50, mp99 := percentile(mesh.latencies, 50), percentile(mesh.latencies, 99)
		dp50, dp99 := percentile(direct.latencies, 50), percentile(direct.latencies, 99)
		if tc.clients > 1 {
			b.ReportMetric(mesh.perSecond(), "mesh-"+tc.name+"-req/s")
			b.ReportMetric(direct.perSecond(), "direct-"+tc.name+"-req/s")
			b.ReportMetric(mesh.perSecond()/direct.perSecond(), tc.name+"-ratio")
		}
		b.ReportMetric(ms(mp50), "mesh-"+tc.name+"-p50-ms")
		b.ReportMetric(ms(mp99), "mesh-"+tc.name+"-p99-ms")
		b.ReportMetric(ms(dp50), "direct-"+tc.name+"-p50-ms")
		b.ReportMetric(ms(dp99), "direct-"+tc.name+"-p99-ms")
		b.ReportMetric(ms(mp99-dp99), tc.name+"-p99-overhead-ms")
		perReq := func(side int, seconds float64) float64 { return 1e6 * seconds / float64(r.loads[i][side].requests) }
		user, sys := perReq(0, r.loadCPU[i][0].user), perReq(0, r.loadCPU[i][0].sys)
		b.ReportMetric(user, "mesh-"+tc.name+"-balancer-user-µs/req")
		b.ReportMetric(sys, "mesh-"+tc.name+"-balancer-sys-µs/req")
		fmt.Fprintf(tw, "%s c=%d\t%.0f/%.0f (x%.2f)\t%.3f/%.3f (%+.3f)\t%.3f/%.3f (%+.3f)\t%d/%d\t%.0f+%.0f (%.0f)\n",
			strings.TrimSuffix(tc.name, "-c1"), tc.clients,
			mesh.perSecond(), direct.perSecond(), mesh.perSecond()/direct.perSecond(),
			ms(mp50), ms(dp50), ms(mp50-dp50), ms(mp99), ms(dp99), ms(mp99-dp99),
			mesh.dials, direct.dials, user, sys, perReq(1, r.loadCPU[i][1].total()))
	}
	mbps := func(side int) float64 { return float64(r.streams[side].bytes) / 1e6 / r.streams[side].took.Seconds() }
	perGB := func(side int, seconds float64) float64 { return 1e3 * seconds / (float64(r.streams[side].bytes) / 1e9) }
	mesh, direct := r.streams[0], r.streams[1]
	b.ReportMetric(mbps(0), "mesh-stream-MB/s")
	b.ReportMetric(mbps(1), "direct-stream-MB/s")
	b.ReportMetric(mbps(0)/mbps(1), "stream-ratio")
	b.ReportMetric(perGB(0, mesh.cpu.user), "mesh-stream-balancer-user-ms/GB")
	b.ReportMetric(perGB(0, mesh.cpu.sys), "mesh-stream-balancer-sys-ms/GB")
	fmt.Fprintf(tw, "1 GiB stream\t%.0f/%.0f MB/s (x%.2f)\tmesh runs %s\tdirect runs %s\t\tms/GB %.0f+%.0f (%.0f)\n",
		mbps(0), mbps(1), mbps(0)/mbps(1), strings.Join(mesh.runs, ", "), strings.Join(direct.runs, ", "),
		perGB(0, mesh.cpu.user), perGB(0, mesh.cpu.sys), perGB(1, direct.cpu.total()))
	tw.Flush()
	// Benchmark logs are cut after 10 lines: with the two lines before it, the table's 7 fit.
	b.Logf("mesh (%s) vs direct (%s), %d requests per row:\n%s", paths[0].base, paths[1].base,
		r.loads[0][0].requests, strings.TrimSuffix(table.String(), "\n"))
}

// meshPaths waits until the web task runs and answers both through the mesh on the entry
// node and straight from that node's ingress sandbox, and returns the two paths, mesh
// first, and the task's hostname. The direct path's dialer closes before the lab goes
// down, since its threads hold the sandbox.
func meshPaths(b *testing.B, l *lab.Lab, mc *client.Client, sandbox string) ([]meshPath, string) {
	b.Helper()
	entry := node(b, l, meshEntryNode)
	taskIP := waitIngressTask(b, l, mc)
	mesh := meshPath{name: "mesh", base: fmt.Sprintf("http://%s", net.JoinHostPort(entry.Addr.String(), fmt.Sprint(meshPort))), dial: (&net.Dialer{}).DialContext}

	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(sandbox); err == nil {
			break
		} else if time.Now().After(deadline) {
			b.Fatalf("%s has no ingress sandbox after a minute: %v", meshEntryNode, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Sixteen threads: more than the ten clients dial at once.
	nsd, err := newNSDialer(sandbox, 16)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nsd.Close)
	direct := meshPath{name: "direct", base: fmt.Sprintf("http://%s", net.JoinHostPort(taskIP.String(), fmt.Sprint(meshPort))), dial: nsd.DialContext}

	meshHost := waitAnswer(b, l, mesh, 90*time.Second)
	directHost := waitAnswer(b, l, direct, 30*time.Second)
	if meshHost != directHost {
		b.Fatalf("the mesh reached task host %q but the direct path %q: there should be one task", meshHost, directHost)
	}
	return []meshPath{mesh, direct}, meshHost
}

// waitIngressTask waits until web's task runs and returns its address on the ingress network.
func waitIngressTask(b *testing.B, l *lab.Lab, mc *client.Client) netip.Addr {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := mc.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", "web")})
		cancel()
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%d tasks", len(res.Items))
			for _, tk := range res.Items {
				if tk.DesiredState != swarm.TaskStateRunning {
					continue
				}
				last = fmt.Sprintf("task %s %s %s", tk.ID, tk.Status.State, tk.Status.Err)
				if tk.Status.State != swarm.TaskStateRunning {
					continue
				}
				for _, att := range tk.NetworksAttachments {
					if att.Network.Spec.Ingress && len(att.Addresses) > 0 {
						return att.Addresses[0].Addr()
					}
				}
				last += ": running, but with no ingress address"
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.Fatalf("web's task is not running with an ingress address after 2 minutes (last: %s)\n%s",
		last, benchShoal(b, l, svcMgr, "service", "ps", "--no-trunc", "web"))
	return netip.Addr{}
}

// waitAnswer polls GET / down a path until it answers 200 and returns the task's hostname
// (X-Sleepy-Host). It fails the benchmark with the last error at timeout.
func waitAnswer(b *testing.B, l *lab.Lab, p meshPath, timeout time.Duration) string {
	b.Helper()
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: p.dial, DisableKeepAlives: true}}
	start := time.Now()
	var err error
	for time.Since(start) < timeout {
		var resp *http.Response
		if resp, err = c.Get(p.base + "/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return resp.Header.Get("X-Sleepy-Host")
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.Fatalf("the %s path (%s) does not answer after %s: %v\n%s", p.name, p.base, timeout, err,
		benchShoal(b, l, svcMgr, "service", "ps", "--no-trunc", "web"))
	return ""
}

// netnsSwitchCost is the mean time of netns.Do with nothing to do in the namespace at path.
func netnsSwitchCost(b *testing.B, path string) time.Duration {
	b.Helper()
	const n = 1000
	start := time.Now()
	for range n {
		if err := netns.Do(path, func() error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start) / n
}

// cpuUse is the CPU one phase used: the machine's and the daemons' (the entry node's
// daemon runs the balancer).
type cpuUse struct {
	wall, busy, total float64            // seconds; busy and total over all cores
	daemon            map[string]float64 // CPU seconds by node
}

func cpuBetween(from, to cpuSample) cpuUse {
	u := cpuUse{wall: to.at.Sub(from.at).Seconds(), busy: to.busy - from.busy, total: to.total - from.total, daemon: map[string]float64{}}
	for name, v := range to.daemon {
		u.daemon[name] = v - from.daemon[name]
	}
	return u
}

func (u cpuUse) String() string {
	return fmt.Sprintf("%.1fs, machine %.0f%% busy, daemons %s %.1f CPU-s, %s %.1f CPU-s", u.wall, 100*u.busy/max(u.total, 1e-9),
		meshEntryNode, u.daemon[meshEntryNode], meshTaskNode, u.daemon[meshTaskNode])
}

// procTimes is a process's CPU time so far, in seconds: its own code and libraries (user)
// and the kernel working for it (sys). The kernel charges a sender's sys time with much of
// the virtual network's work on what it sends (veth, bridge, VXLAN), so sys is the
// balancer's hop in the kernel as well as its syscalls.
type procTimes struct{ user, sys float64 }

func (t procTimes) plus(o procTimes) procTimes  { return procTimes{t.user + o.user, t.sys + o.sys} }
func (t procTimes) minus(o procTimes) procTimes { return procTimes{t.user - o.user, t.sys - o.sys} }
func (t procTimes) total() float64              { return t.user + t.sys }

// readProcTimes reads a process's utime and stime from /proc; zero if it cannot.
func readProcTimes(pid int) procTimes {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procTimes{}
	}
	// Fields after the command name, which is in parentheses and may hold spaces: state is
	// field 3, utime and stime are 14 and 15.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procTimes{}
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return procTimes{}
	}
	user, _ := strconv.ParseFloat(f[14-3], 64)
	sys, _ := strconv.ParseFloat(f[15-3], 64)
	return procTimes{user / clockTick, sys / clockTick}
}
