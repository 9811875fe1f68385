package lb

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRollingReplaceDropsNoRequest is the headline experiment in miniature: 10
// concurrent clients keep sending requests while the service's 3 tasks are replaced one at a time,
// twice over (v1 → v2 → v3), the way a rolling update drives the balancer: the new task enters
// the set (start-first) or enters after the old one left (stop-first); the old one leaves the set,
// is drained, and once drained its program exits abruptly (listener and connections closed, as
// the sample app does on SIGTERM). Not one request may fail, and every version must answer.
// Killing the old task without the drain makes the POST cases fail (about 8 in 1000, as the
// reference failed 8 of 500); with retries off as well, the GET cases fail too.
func TestRollingReplaceDropsNoRequest(t *testing.T) {
	for _, tc := range []struct {
		name       string
		keepAlive  bool
		startFirst bool
		method     string
	}{
		{"GET, new connection each, stop-first", false, false, http.MethodGet},
		{"GET, new connection each, start-first", false, true, http.MethodGet},
		{"GET, keep-alive, stop-first", true, false, http.MethodGet},
		{"GET, keep-alive, start-first", true, true, http.MethodGet},
		// POSTs are never retried once sent: these pass on draining alone.
		{"POST, new connection each, stop-first", false, false, http.MethodPost},
		{"POST, keep-alive, start-first", true, true, http.MethodPost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rollingReplace(t, tc.keepAlive, tc.startFirst, tc.method)
		})
	}
}

func rollingReplace(t *testing.T, keepAlive, startFirst bool, method string) {
	const (
		clients           = 10
		requestsPerClient = 100 // at least; clients go on until the update is over
		replicas          = 3
	)
	b := startBalancer(t, Config{Mode: HTTP})
	// A little work per request, so requests are in flight whenever a task leaves.
	work := func(http.ResponseWriter, *http.Request) { time.Sleep(time.Millisecond) }
	live := make([]*httpBackend, replicas)
	for i := range live {
		live[i] = newHTTPBackend(t, fmt.Sprintf("v1.%d", i+1), work)
	}
	// The replacement tasks of versions 2 and 3, made up front: they take traffic only once set.
	var nexts []*httpBackend
	for version := 2; version <= 3; version++ {
		for slot := range replicas {
			nexts = append(nexts, newHTTPBackend(t, fmt.Sprintf("v%d.%d", version, slot+1), work))
		}
	}
	setLive := func(extra ...*httpBackend) error {
		var bs []Backend
		for _, hb := range append(live[:len(live):len(live)], extra...) {
			if hb != nil {
				bs = append(bs, hb.backend())
			}
		}
		return b.SetBackends(bs)
	}
	if err := setLive(); err != nil {
		t.Fatal(err)
	}

	var updateDone atomic.Bool
	updateErr := make(chan error, 1)
	// progress ticks as requests complete; the update waits for some between replacements, so
	// it overlaps the load however fast either side runs.
	progress := make(chan struct{}, 1)
	awaitRequests := func(n int) {
		for range n {
			<-progress
		}
	}
	go func() {
		defer updateDone.Store(true)
		awaitRequests(1)
		replace := func(slot int, next *httpBackend) error {
			old := live[slot]
			if startFirst {
				if err := setLive(next); err != nil { // the new task joins while the old serves
					return err
				}
			}
			live[slot] = nil
			if err := setLive(); err != nil { // the old task leaves: no new work
				return err
			}
			// Confirmed before the stop; the bound is the test's own timeout.
			if err := b.DrainAndWait(context.Background(), old.name, time.Hour); err != nil {
				return err
			}
			old.kill() // the stop signal: the program exits abruptly
			live[slot] = next
			return setLive()
		}
		for i, next := range nexts {
			awaitRequests(50)
			if err := replace(i%replicas, next); err != nil {
				updateErr <- err
				return
			}
		}
	}()

	var (
		mu       sync.Mutex
		failures []error
		versions = map[string]int{}
		total    atomic.Int64
		wg       sync.WaitGroup
		conns    atomic.Int64
	)
	for range clients {
		client := newTestClient(t, keepAlive)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { conns.Add(client.dials.Load()) }()
			for n := 0; n < requestsPerClient || !updateDone.Load(); n++ {
				body, err := client.do(method, urlOf(b), "form=1")
				total.Add(1)
				select {
				case progress <- struct{}{}:
				default:
				}
				mu.Lock()
				if err != nil {
					failures = append(failures, err)
				} else {
					versions[body[:2]]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-updateErr:
		t.Fatal(err)
	default:
	}

	if len(failures) > 0 {
		t.Errorf("%d of %d requests failed; first: %v", len(failures), total.Load(), failures[0])
	}
	for _, v := range []string{"v1", "v2", "v3"} {
		if versions[v] == 0 {
			t.Errorf("version %s never answered (versions seen: %v)", v, versions)
		}
	}
	if keepAlive && conns.Load() != clients {
		t.Errorf("keep-alive clients opened %d connections, want %d: a connection was cut", conns.Load(), clients)
	}
	if u := b.Stats().Unserved; u != 0 {
		t.Errorf("unserved = %d, want 0", u)
	}
	t.Logf("%d requests, versions %v", total.Load(), versions)
}
