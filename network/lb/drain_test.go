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
