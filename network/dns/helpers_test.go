package dns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestMain fails the run if a goroutine of a server (ours or a fake upstream) outlives the
// tests: every Run and every fake must have stopped everything it started.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := waitForLeaks(); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines left running after the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// waitForLeaks gives goroutines that are on their way out a moment to end, then reports those
// still running code of this package's servers or of miekg/dns.
func waitForLeaks() string {
	var leaked []string
	for range 100 {
		leaked = leaked[:0]
		buf := make([]byte, 1<<20)
		stacks := strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n")
		for _, g := range stacks[1:] { // the first is this goroutine
			if strings.Contains(g, "github.com/miekg/dns") ||
				strings.Contains(g, "network/dns.(*Server)") ||
				strings.Contains(g, "network/dns.(*forwarder)") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return ""
		}
		time.Sleep(50 * time.Millisecond)
	}
	return strings.Join(leaked, "\n\n")
}

// startServer runs a Server for the test on 127.0.0.1 with a random port; askers are on
// frontnet unless cfg says otherwise. The test's cleanup stops it and checks Run's result.
func startServer(t *testing.T, cfg Config, table *Table) *Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	if cfg.AskerNetworks == nil {
		cfg.AskerNetworks = func(netip.Addr) []string { return askerFront }
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	s.Update(table)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return s
}

// ask sends m to server over network ("udp" or "tcp") and returns the reply.
func ask(t *testing.T, network string, server netip.AddrPort, m *dns.Msg) *dns.Msg {
	t.Helper()
	resp, err := askFrom(network, netip.Addr{}, server, m)
	if err != nil {
		t.Fatalf("%s query %s to %s: %v", network, m.Question[0].Name, server, err)
	}
	return resp
}

// askFrom sends m from the source address src (any when zero).
func askFrom(network string, src netip.Addr, server netip.AddrPort, m *dns.Msg) (*dns.Msg, error) {
	c := &dns.Client{Net: network, Timeout: 10 * time.Second}
	if src.IsValid() {
		var local net.Addr = &net.UDPAddr{IP: src.AsSlice()}
		if network == "tcp" {
			local = &net.TCPAddr{IP: src.AsSlice()}
		}
		c.Dialer = &net.Dialer{LocalAddr: local, Timeout: 10 * time.Second}
	}
	resp, _, err := c.Exchange(m, server.String())
	return resp, err
}

func query(name string, qtype uint16) *dns.Msg {
	return new(dns.Msg).SetQuestion(name, qtype)
}

// fakeUpstream is a resolver the test runs on loopback, standing in for the node's upstream.
type fakeUpstream struct {
	addr netip.AddrPort

	mu   sync.Mutex
	seen []string // "udp example.com. A", in arrival order; guarded by mu
}

// startFakeUpstream serves answer on UDP and TCP on one random loopback port until the test ends.
func startFakeUpstream(t *testing.T, answer func(req *dns.Msg, overTCP bool) *dns.Msg) *fakeUpstream {
	t.Helper()
	pc, ln, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeUpstream{addr: pc.LocalAddr().(*net.UDPAddr).AddrPort()}
	handler := func(overTCP bool) dns.HandlerFunc {
		return func(w dns.ResponseWriter, req *dns.Msg) {
			transport := "udp"
			if overTCP {
				transport = "tcp"
			}
			f.mu.Lock()
			f.seen = append(f.seen, fmt.Sprintf("%s %s %s", transport, req.Question[0].Name, dns.TypeToString[req.Question[0].Qtype]))
			f.mu.Unlock()
			if resp := answer(req, overTCP); resp != nil {
				w.WriteMsg(resp)
			}
		}
	}
	var wg sync.WaitGroup
	var servers []*dns.Server
	for _, srv := range []*dns.Server{
		{PacketConn: pc, Handler: handler(false)},
		{Listener: ln, Handler: handler(true)},
	} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		wg.Go(func() {
			if err := srv.ActivateAndServe(); err != nil {
				t.Errorf("fake upstream: %v", err)
			}
		})
		<-started
		servers = append(servers, srv)
	}
	t.Cleanup(func() {
		for _, srv := range servers {
			srv.Shutdown()
		}
		wg.Wait()
	})
	return f
}

func (f *fakeUpstream) queries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

// answerA answers every A question with the given addresses, and NXDOMAIN for nxName.
func answerA(nxName string, addrs ...string) func(*dns.Msg, bool) *dns.Msg {
	return func(req *dns.Msg, _ bool) *dns.Msg {
		resp := new(dns.Msg).SetReply(req)
		q := req.Question[0]
		if strings.EqualFold(q.Name, nxName) {
			resp.Rcode = dns.RcodeNameError
			return resp
		}
		if q.Qtype == dns.TypeA {
			for _, a := range addrs {
				resp.Answer = append(resp.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.ParseIP(a),
				})
			}
		}
		return resp
	}
}

// manyAddrs lists n addresses of the benchmarking range 198.18.0.0/15: answer data only, never
// contacted.
func manyAddrs(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("198.18.%d.%d", i/250, i%250+1))
	}
	return out
}
