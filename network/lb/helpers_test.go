package lb

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// startBalancer builds a balancer on a loopback port, runs it, and stops it when the test ends,
// checking that Run returned cleanly.
func startBalancer(t *testing.T, cfg Config) *Balancer {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	b, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return b
}

func setBackends(t *testing.T, b *Balancer, bs ...Backend) {
	t.Helper()
	if err := b.SetBackends(bs); err != nil {
		t.Fatalf("SetBackends: %v", err)
	}
}

func statsOf(t *testing.T, b *Balancer, id string) BackendStats {
	t.Helper()
	for _, s := range b.Stats().Backends {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no stats for backend %s in %+v", id, b.Stats())
	return BackendStats{}
}

// httpBackend is a task serving HTTP on loopback: it answers its name and counts its requests
// and its open connections.
type httpBackend struct {
	name string
	srv  *http.Server
	addr string
	hits atomic.Int64
	open atomic.Int64 // connections the server has open
	// connClosed gets a signal (dropped when one is pending) each time a connection closes.
	connClosed chan struct{}
}

// newHTTPBackend starts a backend; handler, if not nil, runs before the name is written.
func newHTTPBackend(t *testing.T, name string, handler func(w http.ResponseWriter, r *http.Request)) *httpBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hb := &httpBackend{name: name, addr: ln.Addr().String(), connClosed: make(chan struct{}, 1)}
	hb.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hb.hits.Add(1)
			if handler != nil {
				handler(w, r)
			}
			_, _ = io.WriteString(w, name)
		}),
		ConnState: func(_ net.Conn, state http.ConnState) {
			switch state {
			case http.StateNew:
				hb.open.Add(1)
			case http.StateClosed, http.StateHijacked:
				hb.open.Add(-1)
				select {
				case hb.connClosed <- struct{}{}:
				default:
				}
			}
		},
	}
	go func() { _ = hb.srv.Serve(ln) }()
	t.Cleanup(hb.kill)
	return hb
}

func (hb *httpBackend) backend() Backend { return Backend{ID: hb.name, Addr: hb.addr} }

// waitOpen waits until the backend's server has at most n connections open, failing the test if
// that takes longer than within: a bound for an event expected at once, far below the 90 s after
// which an idle pooled connection would be closed anyway.
func (hb *httpBackend) waitOpen(t *testing.T, n int64, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for hb.open.Load() > n {
		select {
		case <-hb.connClosed:
		case <-deadline:
			t.Fatalf("backend %s still has %d connections open after %v, want %d at most", hb.name, hb.open.Load(), within, n)
		}
	}
}

// kill stops the backend abruptly, as a program exiting on SIGTERM does: the listener closes
// (new connections are refused) and every open connection is closed.
func (hb *httpBackend) kill() { _ = hb.srv.Close() }

// deadAddr returns a loopback address where nothing listens: connections are refused.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// testClient is an HTTP client that counts the connections it opens.
type testClient struct {
	*http.Client
	dials atomic.Int64
}

// newTestClient makes a client that opens a new connection per request, or keeps one open
// (at most one at a time) when keepAlive.
func newTestClient(t *testing.T, keepAlive bool) *testClient {
	t.Helper()
	c := &testClient{}
	var d net.Dialer
	tr := &http.Transport{
		DisableKeepAlives: !keepAlive,
		MaxConnsPerHost:   1,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c.dials.Add(1)
			return d.DialContext(ctx, network, addr)
		},
	}
	if !keepAlive {
		tr.MaxConnsPerHost = 0
	}
	// The timeout only turns a test that would hang into one that fails.
	c.Client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return c
}

// get fetches url and returns the body of a 200 response, or an error.
func (c *testClient) get(url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	return readOK(resp)
}

// do sends a request with the given method and body and returns the body of a 200 response.
func (c *testClient) do(method, url, body string) (string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	return readOK(resp)
}

func readOK(resp *http.Response) (string, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("reading body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s: %s", resp.Status, body)
	}
	return string(body), nil
}

func urlOf(b *Balancer) string { return "http://" + b.Addr().String() + "/" }

// swallowBackend reads one request head per connection and hangs up without answering, like a
// task that crashes while handling a request. It counts the requests it swallowed.
type swallowBackend struct {
	addr     string
	requests atomic.Int64
}

func newSwallowBackend(t *testing.T) *swallowBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sb := &swallowBackend{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
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
				if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					sb.requests.Add(1)
				}
			}()
		}
	}()
	return sb
}

// tcpBackend is a raw TCP task on loopback running serve on each connection. When the test
// ends it closes its listener and the connections still open, and waits for serve to return.
type tcpBackend struct {
	name  string
	addr  string
	conns atomic.Int64 // accepted, in all

	mu     sync.Mutex
	open   map[net.Conn]struct{} // guarded by mu
	closed bool                  // guarded by mu: the test ended
}

func newTCPBackend(t *testing.T, name string, serve func(c *net.TCPConn)) *tcpBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tb := &tcpBackend{name: name, addr: ln.Addr().String(), open: make(map[net.Conn]struct{})}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		tb.mu.Lock()
		tb.closed = true
		for c := range tb.open {
			_ = c.Close()
		}
		tb.mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tb.conns.Add(1)
			tb.mu.Lock()
			tb.open[c] = struct{}{}
			if tb.closed {
				_ = c.Close()
			}
			tb.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					tb.mu.Lock()
					delete(tb.open, c)
					tb.mu.Unlock()
					_ = c.Close()
				}()
				serve(c.(*net.TCPConn))
			}()
		}
	}()
	return tb
}

func (tb *tcpBackend) backend() Backend { return Backend{ID: tb.name, Addr: tb.addr} }

// echo copies what it reads back until EOF, then half-closes.
func echo(c *net.TCPConn) {
	if _, err := io.Copy(c, c); err == nil {
		_ = c.CloseWrite()
	}
}

// sayName writes the backend's name and closes.
func sayName(name string) func(c *net.TCPConn) {
	return func(c *net.TCPConn) { _, _ = io.WriteString(c, name) }
}

// readAllString reads c to EOF.
func readAllString(c net.Conn) (string, error) {
	var sb strings.Builder
	_, err := io.Copy(&sb, c)
	return sb.String(), err
}
