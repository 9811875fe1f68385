package lb

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/shoal/shoal/internal/clock"
)

func dialBalancer(t *testing.T, b *Balancer) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

func TestTCPEchoesBothWays(t *testing.T) {
	b := startBalancer(t, Config{Mode: TCP})
	e := newTCPBackend(t, "echo", echo)
	setBackends(t, b, e.backend())

	c := dialBalancer(t, b)
	data := make([]byte, 4<<20)
	_, _ = rand.Read(data)
	go func() {
		_, _ = c.Write(data)
		_ = c.CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("echoed %d bytes, differing from the %d sent", len(got), len(data))
	}
}

// In TCP mode, and in Auto mode for a connection that is not HTTP.
func TestTCPHalfClosePassesFINAndKeepsTheOtherWay(t *testing.T) {
	for _, mode := range []Mode{TCP, Auto} {
		t.Run(mode.String(), func(t *testing.T) {
			b := startBalancer(t, Config{Mode: mode})
			// The backend reads the whole request (until the client's FIN), then answers and
			// closes: it only works if the FIN crosses the balancer while the reply direction
			// stays open.
			counter := newTCPBackend(t, "counter", func(c *net.TCPConn) {
				n, err := io.Copy(io.Discard, c)
				if err != nil {
					return
				}
				_, _ = io.WriteString(c, strings.Repeat("k", int(n)))
			})
			setBackends(t, b, counter.backend())

			c := dialBalancer(t, b)
			if _, err := io.WriteString(c, "12345"); err != nil {
				t.Fatal(err)
			}
			if err := c.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			got, err := readAllString(c)
			if err != nil || got != "kkkkk" {
				t.Errorf("reply after half-close: %q, %v; want kkkkk", got, err)
			}
		})
	}
}

func TestTCPRoundRobinAndSetBackends(t *testing.T) {
	b := startBalancer(t, Config{Mode: TCP})
	x, y, z := newTCPBackend(t, "x", sayName("x")), newTCPBackend(t, "y", sayName("y")), newTCPBackend(t, "z", sayName("z"))
	read := func() string {
		got, err := readAllString(dialBalancer(t, b))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	setBackends(t, b, x.backend(), y.backend())
	var order strings.Builder
	for range 6 {
		order.WriteString(read())
	}
	if order.String() != "xyxyxy" {
		t.Errorf("connections went to %q, want xyxyxy", order.String())
	}
	setBackends(t, b, z.backend())
	for range 3 {
		if got := read(); got != "z" {
			t.Errorf("after SetBackends({z}): connection went to %q", got)
		}
	}
}

func TestTCPWeights(t *testing.T) {
	b := startBalancer(t, Config{Mode: TCP})
	x, y := newTCPBackend(t, "x", sayName("x")), newTCPBackend(t, "y", sayName("y"))
	setBackends(t, b, Backend{ID: "x", Addr: x.addr, Weight: 3}, Backend{ID: "y", Addr: y.addr, Weight: 1})
	count := map[string]int{}
	for range 8 {
		got, err := readAllString(dialBalancer(t, b))
		if err != nil {
			t.Fatal(err)
		}
		count[got]++
	}
	if count["x"] != 6 || count["y"] != 2 {
		t.Errorf("with weights 3:1, 8 connections went %v; want x 6, y 2", count)
	}
}

func TestTCPConnectRetryOnDeadBackend(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	b := startBalancer(t, Config{Mode: TCP, Clock: clk, SuspectFor: 10 * time.Second})
	alive := newTCPBackend(t, "alive", sayName("alive"))
	setBackends(t, b, Backend{ID: "dead", Addr: deadAddr(t)}, alive.backend())

	for i := range 5 {
		got, err := readAllString(dialBalancer(t, b))
		if err != nil || got != "alive" {
			t.Fatalf("connection %d: %q, %v; want alive", i, got, err)
		}
	}
	dead := statsOf(t, b, "dead")
	if dead.Total != 1 || dead.Failures != 1 || !dead.Suspect {
		t.Errorf("dead backend %+v: want one failed dial, then passed over as suspect", dead)
	}
	if u := b.Stats().Unserved; u != 0 {
		t.Errorf("unserved = %d, want 0", u)
	}
	clk.Advance(10 * time.Second)
	if statsOf(t, b, "dead").Suspect {
		t.Error("still suspect after its window passed on the clock")
	}
	for range 2 {
		if got, err := readAllString(dialBalancer(t, b)); err != nil || got != "alive" {
			t.Fatalf("after the window: %q, %v; want alive", got, err)
		}
	}
	if s := statsOf(t, b, "dead"); s.Total != 2 || !s.Suspect {
		t.Errorf("dead backend %+v: want tried again once the window passed, and suspect again", s)
	}
}

func TestTCPAllBackendsDeadResetsClient(t *testing.T) {
	b := startBalancer(t, Config{Mode: TCP})
	setBackends(t, b, Backend{ID: "d1", Addr: deadAddr(t)}, Backend{ID: "d2", Addr: deadAddr(t)})
	// The reset may come back before the dialer has seen its connection established, and then
	// fails the dial itself.
	c, err := net.Dial("tcp", b.Addr().String())
	if err == nil {
		defer c.Close()
		_, err = c.Read(make([]byte, 1))
	}
	if err == nil {
		t.Error("read from a connection no backend could take: want an error")
	}
	if st := b.Stats(); st.Unserved != 1 || st.Backends[0].Failures != 1 || st.Backends[1].Failures != 1 {
		t.Errorf("stats %+v: want one unserved client, one failed dial on each backend", st)
	}
}

func TestTCPDrainWaitsForOpenConnections(t *testing.T) {
	b := startBalancer(t, Config{Mode: TCP})
	first, second := newTCPBackend(t, "first", echo), newTCPBackend(t, "second", sayName("second"))
	setBackends(t, b, first.backend())

	held := dialBalancer(t, b)
	if _, err := io.WriteString(held, "hi"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(held, make([]byte, 2)); err != nil {
		t.Fatal(err)
	}
	setBackends(t, b, first.backend(), second.backend())
	drained := b.Drain("first")
	for range 3 {
		if got, err := readAllString(dialBalancer(t, b)); err != nil || got != "second" {
			t.Fatalf("while first drains: %q, %v; want second", got, err)
		}
	}
	select {
	case <-drained:
		t.Fatal("drained closed while a connection was open")
	default:
	}
	// The held connection still works while draining.
	if _, err := io.WriteString(held, "yo"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(held, make([]byte, 2)); err != nil {
		t.Fatal(err)
	}
	_ = held.CloseWrite()
	if _, err := readAllString(held); err != nil {
		t.Fatal(err)
	}
	<-drained
	if s := statsOf(t, b, "first"); s.Active != 0 || first.conns.Load() != 1 {
		t.Errorf("first %+v, %d connections: want 1 connection in all, none active", s, first.conns.Load())
	}
}
