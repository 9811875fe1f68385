package lb

// Benchmarks put numbers on the balancer's cost against a baseline measured in the same
// benchmark: the same load sent straight to the backend. Everything runs on loopback, on one
// machine, so the load generator, the balancer and the backend share its CPUs.
//
//	go test -run '^$' -bench HTTP -benchtime 20000x ./network/lb/
//	go test -run '^$' -bench TCPStream -benchtime 4x ./network/lb/ [-lb.stream-mb 1024]
//
// In BenchmarkHTTP b.N is the number of requests sent to each side (direct, through the balancer
// in HTTP mode, in TCP mode, in Auto mode), in rounds where the sides take turns; in
// BenchmarkTCPStream it is the number of streams per side (direct, TCP mode, Auto mode), each
// -lb.stream-mb MiB (256 unless set). Every side's figures are reported, and each balanced side's
// ratio to direct. Auto mode's sides show the cost of sniffing each connection's first bytes;
// the clients here all speak first, so none waits for the sniff timeout (a server-first
// protocol's connection would start SniffTimeout late).

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

var streamMiB = flag.Int("lb.stream-mb", 256, "MiB per stream in BenchmarkTCPStream")

// benchRounds: each side's load is sent in this many rounds, the sides taking turns, so that
// drift in the machine's speed (other tenants, frequency) falls on all sides alike.
const benchRounds = 10

// loadResult is what one side of a benchmark measured.
type loadResult struct {
	requests  int
	elapsed   time.Duration
	latencies []time.Duration
}

func (r loadResult) perSecond() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// quantile returns the q-quantile (0 < q < 1) of the latencies; it sorts them.
func (r loadResult) quantile(q float64) time.Duration {
	slices.Sort(r.latencies)
	return r.latencies[int(float64(len(r.latencies))*q)]
}

// add merges another round into r.
func (r *loadResult) add(o loadResult) {
	r.requests += o.requests
	r.elapsed += o.elapsed
	r.latencies = append(r.latencies, o.latencies...)
}

// interleave runs load(addr, n/benchRounds) on every side in turn, benchRounds times, and
// returns each side's totals.
func interleave(n int, addrs []string, load func(addr string, n int) loadResult) []loadResult {
	out := make([]loadResult, len(addrs))
	for round := range benchRounds {
		for i := range addrs {
			side := (i + round) % len(addrs) // rotate who goes first
			out[side].add(load(addrs[side], max(1, n/benchRounds)))
		}
	}
	return out
}

// runHTTPLoad sends n GET requests to addr from clients concurrent workers, each on one
// keep-alive connection or a new connection per request (as ab -c clients -n n does, with or
// without -k), and measures throughput and latency. A failed request fails the benchmark.
func runHTTPLoad(b *testing.B, addr string, clients, n int, keepAlive bool) loadResult {
	b.Helper()
	latencies := make([][]time.Duration, clients)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range clients {
		share := n / clients
		if w < n%clients {
			share++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, share)
			var err error
			if keepAlive {
				err = keepAliveRequests(addr, share, &lat)
			} else {
				err = newConnRequests(addr, share, &lat)
			}
			latencies[w] = lat
			errs <- err
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	all := slices.Concat(latencies...)
	return loadResult{requests: len(all), elapsed: elapsed, latencies: all}
}

const (
	keepAliveRequest = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
	closeRequest     = "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
)

func keepAliveRequests(addr string, n int, lat *[]time.Duration) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for range n {
		t := time.Now()
		if _, err := io.WriteString(c, keepAliveRequest); err != nil {
			return err
		}
		if err := readResponse(br); err != nil {
			return err
		}
		*lat = append(*lat, time.Since(t))
	}
	return nil
}

func newConnRequests(addr string, n int, lat *[]time.Duration) error {
	br := bufio.NewReader(nil)
	for range n {
		t := time.Now()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		br.Reset(c)
		if _, err := io.WriteString(c, closeRequest); err != nil {
			c.Close()
			return err
		}
		err = readResponse(br)
		c.Close()
		if err != nil {
			return err
		}
		*lat = append(*lat, time.Since(t))
	}
	return nil
}

func readResponse(br *bufio.Reader) error {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %s", resp.Status)
	}
	return err
}

// benchBackend starts an HTTP backend answering a short body, like a small web app.
func benchBackend(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello from the backend\n")
	})}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// benchBalancer runs a balancer in mode over the given backend addresses.
func benchBalancer(b *testing.B, mode Mode, backends ...string) string {
	b.Helper()
	lb, err := New(Config{Addr: "127.0.0.1:0", Mode: mode})
	if err != nil {
		b.Fatal(err)
	}
	var set []Backend
	for i, addr := range backends {
		set = append(set, Backend{ID: fmt.Sprint("task", i), Addr: addr})
	}
	if err := lb.SetBackends(set); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = lb.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	return lb.Addr().String()
}

// reportSides reports each side against the direct baseline (sides[0]).
func reportSides(b *testing.B, names []string, sides []loadResult) {
	direct := sides[0]
	dp99 := direct.quantile(0.99)
	for i, r := range sides {
		name := names[i]
		p99 := r.quantile(0.99)
		b.ReportMetric(r.perSecond(), name+"-req/s")
		b.ReportMetric(float64(r.quantile(0.50).Microseconds()), name+"-p50-µs")
		b.ReportMetric(float64(p99.Microseconds()), name+"-p99-µs")
		if i > 0 {
			b.ReportMetric(r.perSecond()/direct.perSecond(), name+"-ratio")
			b.ReportMetric(float64((p99 - dp99).Microseconds()), name+"-p99-overhead-µs")
		}
	}
}

// BenchmarkHTTP: requests/s and latency straight to one backend vs through the balancer in HTTP
// mode (per-request balancing), in TCP mode (L4) and in Auto mode (sniffed, then as HTTP mode:
// the mode published ports use), with 1 and 10 concurrent clients, keep-alive or a new
// connection per request.
func BenchmarkHTTP(b *testing.B) {
	for _, keepAlive := range []bool{true, false} {
		for _, clients := range []int{1, 10} {
			conn := map[bool]string{true: "keepalive", false: "newconn"}[keepAlive]
			b.Run(fmt.Sprintf("%s/c=%d", conn, clients), func(b *testing.B) {
				backend := benchBackend(b)
				addrs := []string{backend, benchBalancer(b, HTTP, backend), benchBalancer(b, TCP, backend), benchBalancer(b, Auto, backend)}
				load := func(addr string, n int) loadResult { return runHTTPLoad(b, addr, clients, n, keepAlive) }
				n := max(b.N, clients*benchRounds)
				interleave(min(n, 4000), addrs, load) // warm up: pools, caches, scheduler
				b.ResetTimer()
				sides := interleave(n, addrs, load)
				b.StopTimer()
				reportSides(b, []string{"direct", "lbhttp", "lbtcp", "lbauto"}, sides)
			})
		}
	}
}

// streamBackend reads a one-byte request on every connection, then writes size bytes and closes
// it: a download, whose client speaks first.
func streamBackend(b *testing.B, size int64) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	b.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	chunk := make([]byte, 1<<20)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
					return
				}
				for left := size; left > 0; {
					n, err := c.Write(chunk[:min(left, int64(len(chunk)))])
					if err != nil {
						return
					}
					left -= int64(n)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// readStream reads one whole stream from addr and returns its size and how long it took.
func readStream(b *testing.B, addr string, buf []byte) (int64, time.Duration) {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{'\n'}); err != nil {
		b.Fatal(err)
	}
	var total int64
	for {
		n, err := c.Read(buf)
		total += int64(n)
		if err == io.EOF {
			return total, time.Since(start)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTCPStream: MB/s of one large download straight from the backend vs through the
// balancer in TCP mode (spliced) and in Auto mode (sniffed, then spliced).
func BenchmarkTCPStream(b *testing.B) {
	size := int64(*streamMiB) << 20
	backend := streamBackend(b, size)
	via := benchBalancer(b, TCP, backend)
	viaAuto := benchBalancer(b, Auto, backend)
	buf := make([]byte, 256<<10)
	readStream(b, backend, buf) // warm up
	readStream(b, via, buf)
	readStream(b, viaAuto, buf)
	b.ResetTimer()
	var direct, through, throughAuto time.Duration
	for range b.N {
		for _, side := range []struct {
			addr string
			took *time.Duration
		}{{backend, &direct}, {via, &through}, {viaAuto, &throughAuto}} {
			got, took := readStream(b, side.addr, buf)
			if got != size {
				b.Fatalf("stream from %s: %d bytes, want %d", side.addr, got, size)
			}
			*side.took += took
		}
	}
	b.StopTimer()
	mbps := func(d time.Duration) float64 { return float64(size) * float64(b.N) / 1e6 / d.Seconds() }
	b.ReportMetric(float64(*streamMiB), "MiB/stream")
	b.ReportMetric(mbps(direct), "direct-MB/s")
	b.ReportMetric(mbps(through), "lbtcp-MB/s")
	b.ReportMetric(mbps(through)/mbps(direct), "lbtcp-ratio")
	b.ReportMetric(mbps(throughAuto), "lbauto-MB/s")
	b.ReportMetric(mbps(throughAuto)/mbps(direct), "lbauto-ratio")
}
