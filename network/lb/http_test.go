package lb

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestHTTPRoundRobinSpreadsPerRequest(t *testing.T) {
	for _, keepAlive := range []bool{false, true} {
		name := map[bool]string{false: "new connection each", true: "one keep-alive connection"}[keepAlive]
		t.Run(name, func(t *testing.T) {
			b := startBalancer(t, Config{Mode: HTTP})
			backends := []*httpBackend{newHTTPBackend(t, "a", nil), newHTTPBackend(t, "b", nil), newHTTPBackend(t, "c", nil)}
			setBackends(t, b, backends[0].backend(), backends[1].backend(), backends[2].backend())
			client := newTestClient(t, keepAlive)
			var got []string
			for range 30 {
				body, err := client.get(urlOf(b))
				if err != nil {
					t.Fatalf("request %d: %v", len(got), err)
				}
				got = append(got, body)
			}
			if want := strings.Repeat("abc", 10); strings.Join(got, "") != want {
				t.Errorf("backends in order %q, want %q", strings.Join(got, ""), want)
			}
			for _, hb := range backends {
				if n := hb.hits.Load(); n != 10 {
					t.Errorf("backend %s served %d requests, want 10", hb.name, n)
				}
				if s := statsOf(t, b, hb.name); s.Total != 10 || s.Failures != 0 || s.Active != 0 {
					t.Errorf("stats of %s = %+v, want total 10, no failure, none active", hb.name, s)
				}
			}
			if keepAlive && client.dials.Load() != 1 {
				t.Errorf("client opened %d connections, want 1", client.dials.Load())
			}
		})
	}
}

func TestHTTPSetBackendsTakesEffectForNewRequests(t *testing.T) {
	b := startBalancer(t, Config{Mode: HTTP})
	a, bb, c := newHTTPBackend(t, "a", nil), newHTTPBackend(t, "b", nil), newHTTPBackend(t, "c", nil)
	client := newTestClient(t, true) // one connection throughout: changes apply per request

	resp, err := client.Get(urlOf(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("with no backend: status %d, want 503", resp.StatusCode)
	}

	setBackends(t, b, a.backend(), bb.backend())
	seen := map[string]int{}
	for range 10 {
		body, err := client.get(urlOf(b))
		if err != nil {
			t.Fatal(err)
		}
		seen[body]++
	}
	if seen["a"] != 5 || seen["b"] != 5 {
		t.Errorf("with {a,b}: served %v, want 5 each", seen)
	}

	setBackends(t, b, c.backend())
	for range 10 {
		body, err := client.get(urlOf(b))
		if err != nil {
			t.Fatal(err)
		}
		if body != "c" {
			t.Fatalf("with {c}: served by %q", body)
		}
	}
	if st := b.Stats(); len(st.Backends) != 1 || st.Backends[0].ID != "c" {
		t.Errorf("stats after a and b left with nothing in flight: %+v, want only c", st.Backends)
	}
	if client.dials.Load() != 1 {
		t.Errorf("client opened %d connections, want 1", client.dials.Load())
	}
}

// gate is a slow handler the test controls: requests report that they started, then wait
// until the test opens the gate (a "1 s handler" whose second the test decides).
type gate struct {
	started chan struct{}
	open    chan struct{}
}

func newGate() *gate { return &gate{started: make(chan struct{}, 100), open: make(chan struct{})} }

// newGatedBackend is a backend whose requests to /warm wait at warm and all others at slow.
func newGatedBackend(t *testing.T, name string) (be *httpBackend, warm, slow *gate) {
	warm, slow = newGate(), newGate()
	be = newHTTPBackend(t, name, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/warm" {
			warm.handler(w, r)
			return
		}
		slow.handler(w, r)
	})
	return be, warm, slow
}

func (g *gate) handler(w http.ResponseWriter, r *http.Request) {
	g.started <- struct{}{}
	<-g.open
}

func TestHTTPDrainFinishesInFlightAndSendsNewWorkElsewhere(t *testing.T) {
	b := startBalancer(t, Config{Mode: HTTP})
	slow, warmGate, slowGate := newGatedBackend(t, "slow")
	fast := newHTTPBackend(t, "fast", nil)
	setBackends(t, b, slow.backend())

	// Five requests at once leave five pooled connections to slow behind.
	const pooled = 5
	warmDone := make(chan error, pooled)
	for range pooled {
		client := newTestClient(t, false)
		go func() {
			_, err := client.get(urlOf(b) + "warm")
			warmDone <- err
		}()
	}
	for range pooled {
		<-warmGate.started
	}
	close(warmGate.open)
	for range pooled {
		if err := <-warmDone; err != nil {
			t.Fatal(err)
		}
	}

	// Three slow requests take three of them.
	const inFlight = 3
	results := make(chan string, inFlight)
	errs := make(chan error, inFlight)
	for range inFlight {
		client := newTestClient(t, false)
		go func() {
			body, err := client.get(urlOf(b))
			if err != nil {
				errs <- err
				return
			}
			results <- body
		}()
	}
	for range inFlight {
		<-slowGate.started
	}
	if s := statsOf(t, b, "slow"); s.Active != inFlight || s.Conns != pooled {
		t.Fatalf("slow backend %+v, want %d active on %d pooled connections", s, inFlight, pooled)
	}

	setBackends(t, b, slow.backend(), fast.backend())
	drained := b.Drain("slow")
	if s := statsOf(t, b, "slow"); !s.Draining || s.Conns != inFlight {
		t.Errorf("after Drain: %+v, want draining with %d connections (idle ones closed)", s, inFlight)
	}

	client := newTestClient(t, true)
	for i := range 20 {
		body, err := client.get(urlOf(b))
		if err != nil || body != "fast" {
			t.Fatalf("request %d while draining: %q, %v; want fast", i, body, err)
		}
	}
	if n := slow.hits.Load(); n != pooled+inFlight {
		t.Errorf("draining backend got %d requests, want only the %d in flight", n, inFlight)
	}
	select {
	case <-drained:
		t.Fatal("drained closed while requests were in flight")
	default:
	}

	close(slowGate.open)
	for range inFlight {
		select {
		case body := <-results:
			if body != "slow" {
				t.Errorf("in-flight request answered %q, want slow", body)
			}
		case err := <-errs:
			t.Errorf("in-flight request failed: %v", err)
		}
	}
	<-drained
	if s := statsOf(t, b, "slow"); s.Active != 0 || s.Conns != 0 || s.Failures != 0 {
		t.Errorf("after drain: %+v, want nothing active, no connection, no failure", s)
	}
	// Drain is final: listing the backend again does not bring it back.
	setBackends(t, b, slow.backend(), fast.backend())
	for range 4 {
		if body, err := client.get(urlOf(b)); err != nil || body != "fast" {
			t.Fatalf("after re-listing a drained backend: %q, %v; want fast", body, err)
		}
	}
}

func TestHTTPDrainUnknownBackendIsDone(t *testing.T) {
	b := startBalancer(t, Config{Mode: HTTP})
	<-b.Drain("nobody")
	a := newHTTPBackend(t, "a", nil)
	setBackends(t, b, a.backend())
	if _, err := newTestClient(t, true).get(urlOf(b)); err != nil {
		t.Fatal(err)
	}
	setBackends(t, b) // a leaves with nothing in flight: forgotten
	<-b.Drain("a")
}

func TestHTTPDeadBackendIsRetriedElsewhere(t *testing.T) {
	for _, keepAlive := range []bool{false, true} {
		name := map[bool]string{false: "new connection each", true: "one keep-alive connection"}[keepAlive]
		t.Run(name, func(t *testing.T) {
			b := startBalancer(t, Config{Mode: HTTP})
			a, victim, c := newHTTPBackend(t, "a", nil), newHTTPBackend(t, "victim", nil), newHTTPBackend(t, "c", nil)
			setBackends(t, b, a.backend(), victim.backend(), c.backend())
			client := newTestClient(t, keepAlive)
			for range 6 { // warm every pool, including the victim's
				if _, err := client.get(urlOf(b)); err != nil {
					t.Fatal(err)
				}
			}
			victim.kill() // still in the set: its pooled connections die and dials are refused
			for i := range 30 {
				if body, err := client.get(urlOf(b)); err != nil || body == "victim" {
					t.Fatalf("request %d after the kill: %q, %v", i, body, err)
				}
			}
			s := statsOf(t, b, "victim")
			if s.Failures == 0 || !s.Suspect {
				t.Errorf("victim stats %+v: want failures counted and suspect", s)
			}
			if u := b.Stats().Unserved; u != 0 {
				t.Errorf("unserved = %d, want 0", u)
			}
		})
	}
}

func TestHTTPRetryRule(t *testing.T) {
	const body = "the body, which must arrive whole"
	type outcome struct {
		status    int
		swallowed int64 // requests the hang-up backend got
		good      int64 // requests the good backend got
	}
	for _, tc := range []struct {
		name   string
		first  string // "swallow": reads the request, hangs up; "dead": refuses connections
		method string
		header http.Header
		want   outcome
	}{
		{"GET after it was sent is retried", "swallow", http.MethodGet, nil, outcome{200, 1, 1}},
		{"PUT with body after it was sent is retried", "swallow", http.MethodPut, nil, outcome{200, 1, 1}},
		{"POST after it was sent is not retried", "swallow", http.MethodPost, nil, outcome{502, 1, 0}},
		{"PATCH after it was sent is not retried", "swallow", http.MethodPatch, nil, outcome{502, 1, 0}},
		{"POST with Idempotency-Key is retried", "swallow", http.MethodPost, http.Header{"Idempotency-Key": {"k1"}}, outcome{200, 1, 1}},
		{"POST refused at dial is retried", "dead", http.MethodPost, nil, outcome{200, 0, 1}},
		{"GET refused at dial is retried", "dead", http.MethodGet, nil, outcome{200, 0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startBalancer(t, Config{Mode: HTTP})
			var gotBody string
			var mu sync.Mutex
			good := newHTTPBackend(t, "good", func(w http.ResponseWriter, r *http.Request) {
				data, _ := io.ReadAll(r.Body)
				mu.Lock()
				gotBody = string(data)
				mu.Unlock()
			})
			sw := newSwallowBackend(t)
			first := Backend{ID: "first", Addr: sw.addr}
			if tc.first == "dead" {
				first.Addr = deadAddr(t)
			}
			setBackends(t, b, first, good.backend()) // round robin: the first request goes to first

			req, _ := http.NewRequest(tc.method, urlOf(b), strings.NewReader(body))
			for k, v := range tc.header {
				req.Header[k] = v
			}
			resp, err := newTestClient(t, false).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := outcome{resp.StatusCode, sw.requests.Load(), good.hits.Load()}
			if got != tc.want {
				t.Errorf("got status %d, hang-up backend %d requests, good backend %d; want %+v", got.status, got.swallowed, got.good, tc.want)
			}
			if got.good == 1 && gotBody != body {
				t.Errorf("good backend got body %q, want %q", gotBody, body)
			}
			if s := statsOf(t, b, "first"); s.Failures != 1 || s.Suspect != (tc.first == "dead") {
				t.Errorf("first backend stats %+v: want 1 failure, suspect only when the dial failed", s)
			}
		})
	}
}

func TestHTTPRetryRuleKeepsLargeBodiesFromReplay(t *testing.T) {
	b := startBalancer(t, Config{Mode: HTTP, MaxReplayBody: 16})
	sw := newSwallowBackend(t)
	good := newHTTPBackend(t, "good", nil)
	setBackends(t, b, Backend{ID: "first", Addr: sw.addr}, good.backend())
	// A PUT may be retried, but not once more of its body was read than could be kept.
	req, _ := http.NewRequest(http.MethodPut, urlOf(b), strings.NewReader(strings.Repeat("x", 4096)))
	resp, err := newTestClient(t, false).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || good.hits.Load() != 0 {
		t.Errorf("status %d, good backend %d requests; want 502 and none (body not replayable)", resp.StatusCode, good.hits.Load())
	}
}

func TestHTTPKeepAliveClientAcrossBackendSwap(t *testing.T) {
	b := startBalancer(t, Config{Mode: HTTP})
	a, bb := newHTTPBackend(t, "a", nil), newHTTPBackend(t, "b", nil)
	setBackends(t, b, a.backend())
	client := newTestClient(t, true)
	seen := map[string]int{}
	for i := range 200 {
		if i == 100 {
			setBackends(t, b, bb.backend())
			<-b.Drain("a")
			a.kill()
		}
		body, err := client.get(urlOf(b))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		seen[body]++
	}
	if seen["a"] != 100 || seen["b"] != 100 {
		t.Errorf("served %v, want a then b, 100 each", seen)
	}
	if n := client.dials.Load(); n != 1 {
		t.Errorf("client opened %d connections, want exactly 1 across the swap", n)
	}
}

func TestHTTPUpgradeCountsAsInFlightUntilClosed(t *testing.T) {
	b := startBalancer(t, Config{Mode: HTTP})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upgrader := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = brw.Flush()
		_, _ = io.Copy(c, brw)
	})}
	go func() { _ = upgrader.Serve(ln) }()
	t.Cleanup(func() { _ = upgrader.Close() })
	up := &httpBackend{name: "up", addr: ln.Addr().String()}
	setBackends(t, b, up.backend())

	c, err := net.Dial("tcp", b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v, %v", resp, err)
	}
	_, _ = io.WriteString(c, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo over the upgraded stream: %q, %v", buf, err)
	}
	drained := b.Drain("up")
	if s := statsOf(t, b, "up"); s.Active != 1 {
		t.Errorf("active during the upgraded stream = %d, want 1", s.Active)
	}
	c.Close()
	<-drained
}

func TestHTTPRunStopsServing(t *testing.T) {
	b, err := New(Config{Mode: HTTP, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	a := newHTTPBackend(t, "a", nil)
	setBackends(t, b, a.backend())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	if _, err := newTestClient(t, true).get(urlOf(b)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := net.Dial("tcp", b.Addr().String()); err == nil {
		t.Error("balancer still accepts connections after Run returned")
	}
	if s := statsOf(t, b, "a"); s.Conns != 0 {
		t.Errorf("backend connections left open after Run: %d", s.Conns)
	}
	if err := b.Run(context.Background()); err == nil {
		t.Error("second Run: want an error")
	}
}
