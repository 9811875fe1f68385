package lb

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shoal/shoal/internal/clock"
)

// parked waits until the goroutine under test has set its timer on the fake clock.
func parked(clk *clock.Fake) {
	for clk.Waiters() == 0 {
		runtime.Gosched()
	}
}

func TestWaitDrained(t *testing.T) {
	t.Run("all drain", func(t *testing.T) {
		clk := clock.NewFake(t0)
		a, b := make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() { done <- WaitDrained(context.Background(), clk, 10*time.Second, a, b) }()
		parked(clk)
		close(b)
		close(a)
		if err := <-done; err != nil {
			t.Errorf("both drained: %v", err)
		}
	})
	t.Run("the bound passes on the clock", func(t *testing.T) {
		clk := clock.NewFake(t0)
		a, b := make(chan struct{}), make(chan struct{})
		close(a)
		done := make(chan error, 1)
		go func() { done <- WaitDrained(context.Background(), clk, 10*time.Second, a, b) }()
		parked(clk)
		clk.Advance(9 * time.Second)
		select {
		case err := <-done:
			t.Fatalf("returned %v before the bound", err)
		default:
		}
		clk.Advance(time.Second)
		err := <-done
		if !errors.Is(err, ErrDrainTimeout) || !strings.Contains(err.Error(), "1 of 2") {
			t.Errorf("after the bound: %v, want ErrDrainTimeout naming 1 of 2 backends", err)
		}
	})
	t.Run("context ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := WaitDrained(ctx, clock.NewFake(t0), time.Hour, make(chan struct{})); !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	})
	t.Run("no wait", func(t *testing.T) {
		if err := WaitDrained(context.Background(), clock.NewFake(t0), 0, closedChan); err != nil {
			t.Errorf("drained, zero timeout: %v", err)
		}
		if err := WaitDrained(context.Background(), clock.NewFake(t0), 0, make(chan struct{})); !errors.Is(err, ErrDrainTimeout) {
			t.Errorf("not drained, zero timeout: %v, want ErrDrainTimeout", err)
		}
	})
}

func TestDrainAndWaitUsesTheBalancersClock(t *testing.T) {
	clk := clock.NewFake(t0)
	b := startBalancer(t, Config{Mode: TCP, Clock: clk})
	e := newTCPBackend(t, "e", echo)
	setBackends(t, b, e.backend())
	c := dialBalancer(t, b)
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.DrainAndWait(context.Background(), "e", 10*time.Second) }()
	parked(clk)
	clk.Advance(10 * time.Second)
	if err := <-done; !errors.Is(err, ErrDrainTimeout) {
		t.Errorf("connection still open after the bound: %v, want ErrDrainTimeout", err)
	}
}

func TestConfigAndBackendsAreValidated(t *testing.T) {
	for _, cfg := range []Config{
		{Mode: Mode(7)},
		{Policy: Policy(9)},
		{MaxAttempts: -1},
		{DialTimeout: -time.Second},
	} {
		cfg.Addr = "127.0.0.1:0"
		if b, err := New(cfg); err == nil {
			_ = b.Close()
			t.Errorf("New(%+v): want an error", cfg)
		}
	}

	b, err := New(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, tc := range []struct {
		set  []Backend
		want string
	}{
		{[]Backend{{ID: "", Addr: "127.0.0.1:1"}}, "empty ID"},
		{[]Backend{{ID: "a", Addr: "127.0.0.1:1"}, {ID: "a", Addr: "127.0.0.1:2"}}, "listed twice"},
		{[]Backend{{ID: "a", Addr: "127.0.0.1"}}, "must be ip:port"},
		{[]Backend{{ID: "a", Addr: "127.0.0.1:0"}}, "port in 1-65535"},
		{[]Backend{{ID: "a", Addr: ":80"}}, "must be ip:port"},
		{[]Backend{{ID: "a", Addr: "127.0.0.1:1", Weight: -1}}, "weight -1"},
	} {
		err := b.SetBackends(tc.set)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SetBackends(%+v) = %v, want an error saying %q", tc.set, err, tc.want)
		}
	}
	if err := b.SetBackends([]Backend{{ID: "a", Addr: "127.0.0.1:1"}}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetBackends([]Backend{{ID: "a", Addr: "127.0.0.1:2"}}); err == nil || !strings.Contains(err.Error(), "address changed") {
		t.Errorf("changing an ID's address: %v, want refused", err)
	}
	if st := b.Stats(); len(st.Backends) != 1 || st.Backends[0].Addr != "127.0.0.1:1" {
		t.Errorf("a refused SetBackends changed the set: %+v", st.Backends)
	}
}

// TestRemovedBackendKeepsNoIdleConnection: a backend removed through SetBackends (no Drain) has
// its idle pooled connections closed at once, and the rest as soon as its last request is done,
// so its task sees no connection from the balancer (the agent's idle test counts them) long
// before net/http's 90 s idle timeout would close them.
func TestRemovedBackendKeepsNoIdleConnection(t *testing.T) {
	const within = 5 * time.Second
	for _, mode := range []Mode{HTTP, Auto} {
		t.Run(mode.String(), func(t *testing.T) {
			b := startBalancer(t, Config{Mode: mode})
			leaving, warmGate, slowGate := newGatedBackend(t, "leaving")
			staying := newHTTPBackend(t, "staying", nil)
			setBackends(t, b, leaving.backend())

			// Three requests at once on keep-alive clients leave three pooled connections.
			const pooled = 3
			clients := make([]*testClient, pooled)
			warmDone := make(chan error, pooled)
			for i := range clients {
				clients[i] = newTestClient(t, true)
				go func() {
					_, err := clients[i].get(urlOf(b) + "warm")
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
			// One slow request holds one of them.
			slowDone := make(chan error, 1)
			go func() {
				_, err := clients[0].get(urlOf(b))
				slowDone <- err
			}()
			<-slowGate.started
			if n := leaving.open.Load(); n != pooled {
				t.Fatalf("leaving backend has %d connections, want %d", n, pooled)
			}

			setBackends(t, b, staying.backend())
			leaving.waitOpen(t, 1, within) // the idle ones, at once
			for i, c := range clients[1:] {
				if body, err := c.get(urlOf(b)); err != nil || body != "staying" {
					t.Fatalf("client %d after the removal: %q, %v; want staying", i+1, body, err)
				}
			}
			close(slowGate.open)
			if err := <-slowDone; err != nil {
				t.Fatalf("the request in flight during the removal: %v", err)
			}
			leaving.waitOpen(t, 0, within) // the last one, once its request is done
			if st := b.Stats(); len(st.Backends) != 1 || st.Backends[0].ID != "staying" {
				t.Errorf("stats %+v: want the removed backend forgotten", st.Backends)
			}
		})
	}
}
