package lb

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal/shoal/internal/clock"
)

// tlsClientHello is the start of a TLS 1.2/1.3 ClientHello record: handshake, version, length,
// ClientHello, length, client version.
var tlsClientHello = []byte{0x16, 0x03, 0x01, 0x00, 0xf4, 0x01, 0x00, 0x00, 0xf0, 0x03, 0x03}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		first string
		want  sniffVerdict
	}{
		{"GET / HTTP/1.1\r\n", sniffHTTP},
		{"HEAD / HTTP/1.1\r\n", sniffHTTP},
		{"POST /form HTTP/1.1\r\n", sniffHTTP},
		{"PUT /x HTTP/1.0\r\n", sniffHTTP},
		{"DELETE /x HTTP/1.1\r\n", sniffHTTP},
		{"OPTIONS * HTTP/1.1\r\n", sniffHTTP},
		{"PATCH /x HTTP/1.1\r\n", sniffHTTP},
		{"TRACE / HTTP/1.1\r\n", sniffHTTP},
		{"CONNECT example.org:443 HTTP/1.1\r\n", sniffHTTP},
		{"GET ", sniffHTTP}, // the space decides; the rest is the HTTP server's to parse
		// A proper prefix of a method and its space: wait for more.
		{"", sniffUndecided},
		{"G", sniffUndecided},
		{"GE", sniffUndecided},
		{"GET", sniffUndecided},
		{"P", sniffUndecided}, // POST, PUT or PATCH
		{"OPTIONS", sniffUndecided},
		{"CONNEC", sniffUndecided},
		// Anything else is TCP, decided as soon as it stops being a prefix.
		{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", sniffTCP}, // HTTP/2 with prior knowledge
		{"PR", sniffTCP},
		{string(tlsClientHello), sniffTCP},
		{"\x16", sniffTCP},
		{"get / HTTP/1.1\r\n", sniffTCP}, // methods are case-sensitive
		{"GETS / HTTP/1.1\r\n", sniffTCP},
		{"GET/ HTTP/1.1\r\n", sniffTCP},
		{"PROPFIND / HTTP/1.1\r\n", sniffTCP},          // not a method we balance per request
		{"*3\r\n$3\r\nSET\r\n", sniffTCP},              // Redis
		{"\x00\x00\x00\x08\x04\xd2\x16\x2f", sniffTCP}, // Postgres SSLRequest
		{"SSH-2.0-OpenSSH_9.6\r\n", sniffTCP},
		{"\r\nGET / HTTP/1.1\r\n", sniffTCP},
	} {
		if got := classify([]byte(tc.first)); got != tc.want {
			t.Errorf("classify(%q) = %v, want %v", tc.first, got, tc.want)
		}
	}
}

// TestSniff drives sniff over a pipe, whose writes arrive as separate reads (segments), with
// the timeout on a fake clock.
func TestSniff(t *testing.T) {
	const timeout = 100 * time.Millisecond
	for _, tc := range []struct {
		name     string
		segments []string
		then     string // "": nothing; "timeout": the clock passes the timeout; "eof": the client closes
		want     sniffVerdict
		sniffed  string
	}{
		{"whole request line", []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n"}, "", sniffHTTP, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"method split over segments", []string{"GE", "T /"}, "", sniffHTTP, "GET /"},
		{"byte by byte", []string{"O", "P", "T", "I", "O", "N", "S", " *"}, "", sniffHTTP, "OPTIONS *"},
		{"method then space apart", []string{"DELETE", " /x"}, "", sniffHTTP, "DELETE /x"},
		{"a prefix, then not", []string{"P", "RI * HTTP/2.0\r\n"}, "", sniffTCP, "PRI * HTTP/2.0\r\n"},
		{"HTTP/2 preface", []string{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"}, "", sniffTCP, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
		{"TLS ClientHello", []string{string(tlsClientHello)}, "", sniffTCP, string(tlsClientHello)},
		{"other bytes", []string{"hello"}, "", sniffTCP, "hello"},
		{"silent until the timeout", nil, "timeout", sniffTCP, ""},
		{"a prefix, then silent until the timeout", []string{"GE"}, "timeout", sniffTCP, "GE"},
		{"a prefix, then EOF", []string{"PU"}, "eof", sniffTCP, "PU"},
		{"EOF at once", nil, "eof", sniffTCP, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake(t0)
			server, client := net.Pipe()
			defer server.Close()
			defer client.Close()
			// A sniff that stops reading too soon leaves a write blocked: fail, rather than hang.
			_ = client.SetWriteDeadline(time.Now().Add(10 * time.Second))
			wrote := make(chan error, 1)
			go func() {
				for _, seg := range tc.segments {
					if _, err := io.WriteString(client, seg); err != nil {
						wrote <- err
						return
					}
				}
				switch tc.then {
				case "timeout":
					parked(clk)
					clk.Advance(timeout - time.Nanosecond)
					if clk.Waiters() == 0 {
						wrote <- errors.New("the sniff timed out before its timeout")
						return
					}
					clk.Advance(time.Nanosecond)
				case "eof":
					_ = client.Close()
				}
				wrote <- nil
			}()
			got, sniffed, err := sniff(server, clk, timeout)
			if err != nil {
				t.Fatalf("sniff: %v", err)
			}
			if err := <-wrote; err != nil {
				t.Fatal(err)
			}
			if got != tc.want || string(sniffed) != tc.sniffed {
				t.Errorf("sniff = %v, %q; want %v, %q", got, sniffed, tc.want, tc.sniffed)
			}
			if tc.then == "eof" {
				return
			}
			// The connection goes on, with no deadline left behind by the sniff.
			go func() { _, _ = io.WriteString(client, "more") }()
			rest := make([]byte, 4)
			if _, err := io.ReadFull(server, rest); err != nil || string(rest) != "more" {
				t.Errorf("reading on after the sniff: %q, %v", rest, err)
			}
		})
	}
}

func TestSniffedConnReadsSniffedBytesFirst(t *testing.T) {
	server, client := net.Pipe()
	defer server.Close()
	go func() {
		_, _ = io.WriteString(client, " world")
		_ = client.Close()
	}()
	sc := &sniffedConn{Conn: server, sniffed: []byte("hello")}
	got, err := io.ReadAll(iotestHalfReader{sc})
	if err != nil || string(got) != "hello world" {
		t.Errorf("read %q, %v; want \"hello world\"", got, err)
	}
}

// iotestHalfReader reads at most 3 bytes at a time, so the sniffed bytes take several reads.
type iotestHalfReader struct{ r io.Reader }

func (h iotestHalfReader) Read(p []byte) (int, error) { return h.r.Read(p[:min(len(p), 3)]) }

// mixedBackend serves, on one port, HTTP/1.1 to connections that start with "GET " and echo to
// any other. It answers a request with its name; with a gate, it sends the response header,
// then waits at the gate before the body, so the request is in flight until the gate opens.
func mixedBackend(t *testing.T, name string, g *gate) *tcpBackend {
	return newTCPBackend(t, name, func(c *net.TCPConn) {
		br := bufio.NewReader(c)
		head, err := br.Peek(4)
		if err != nil {
			return
		}
		if string(head) != "GET " {
			if _, err := io.Copy(c, br); err == nil {
				_ = c.CloseWrite()
			}
			return
		}
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_ = req.Body.Close()
			if _, err := fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(name)); err != nil {
				return
			}
			if g != nil {
				g.handler(nil, req)
			}
			if _, err := io.WriteString(c, name); err != nil {
				return
			}
		}
	})
}

func TestAutoServesHTTPPerRequestAndTCPWhole(t *testing.T) {
	b := startBalancer(t, Config{Mode: Auto})
	x, y := mixedBackend(t, "x", nil), mixedBackend(t, "y", nil)
	setBackends(t, b, x.backend(), y.backend())

	t.Run("HTTP keep-alive client is balanced per request", func(t *testing.T) {
		client := newTestClient(t, true)
		var order strings.Builder
		for range 10 {
			body, err := client.get(urlOf(b))
			if err != nil {
				t.Fatal(err)
			}
			order.WriteString(body)
		}
		if order.String() != "xyxyxyxyxy" {
			t.Errorf("requests went to %q, want xyxyxyxyxy", order.String())
		}
		if n := client.dials.Load(); n != 1 {
			t.Errorf("client opened %d connections, want 1", n)
		}
	})
	t.Run("TCP stream is proxied whole, byte-exact both ways", func(t *testing.T) {
		before := x.conns.Load() + y.conns.Load()
		c := dialBalancer(t, b)
		data := make([]byte, 4<<20)
		_, _ = rand.Read(data)
		copy(data, "GEMINI") // starts like a method, so the sniff reads a prefix first
		go func() {
			_, _ = c.Write(data)
			_ = c.CloseWrite() // the echo answers EOF only once this FIN crossed
		}()
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("echoed %d bytes, differing from the %d sent", len(got), len(data))
		}
		if n := x.conns.Load() + y.conns.Load() - before; n != 1 {
			t.Errorf("the stream made %d backend connections, want 1", n)
		}
	})
}

func TestAutoServerFirstProtocolStartsAfterTheSniffTimeout(t *testing.T) {
	clk := clock.NewFake(t0)
	const sniffFor = 150 * time.Millisecond
	b := startBalancer(t, Config{Mode: Auto, Clock: clk, SniffTimeout: sniffFor})
	// A server-first protocol (SMTP, MySQL): the server greets, then the client speaks.
	smtp := newTCPBackend(t, "smtp", func(c *net.TCPConn) {
		if _, err := io.WriteString(c, "220 smtp ready\r\n"); err != nil {
			return
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return
		}
		_, _ = io.WriteString(c, "221 bye "+line)
	})
	setBackends(t, b, smtp.backend())

	c := dialBalancer(t, b)
	parked(clk) // the sniff waits for the client's first bytes
	if n := smtp.conns.Load(); n != 0 {
		t.Fatalf("backend connected while the sniff was waiting: %d connections", n)
	}
	clk.Advance(sniffFor)
	br := bufio.NewReader(c)
	greeting, err := br.ReadString('\n')
	if err != nil || greeting != "220 smtp ready\r\n" {
		t.Fatalf("greeting: %q, %v", greeting, err)
	}
	if _, err := io.WriteString(c, "QUIT\r\n"); err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(br); err != nil || string(rest) != "221 bye QUIT\r\n" {
		t.Errorf("reply: %q, %v", rest, err)
	}
}

// TestKeepAliveClientSurvivesBackendRemoval is promise 4: a keep-alive client holding one
// connection while its backend leaves the set and then stops sees no error, and keeps its
// connection. In TCP mode the client is pinned to the backend, and its connection is cut.
func TestKeepAliveClientSurvivesBackendRemoval(t *testing.T) {
	for _, tc := range []struct {
		mode    Mode
		wantCut bool
	}{
		{TCP, true},
		{HTTP, false},
		{Auto, false},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			b := startBalancer(t, Config{Mode: tc.mode})
			old, next := newHTTPBackend(t, "old", nil), newHTTPBackend(t, "next", nil)
			setBackends(t, b, old.backend())
			client := newTestClient(t, true)
			for i := range 5 {
				if body, err := client.get(urlOf(b)); err != nil || body != "old" {
					t.Fatalf("request %d: %q, %v; want old", i, body, err)
				}
			}
			setBackends(t, b, next.backend())
			old.kill()
			var errs []error
			for range 5 {
				body, err := client.get(urlOf(b))
				if err != nil {
					errs = append(errs, err)
				} else if body != "next" && !tc.wantCut {
					t.Errorf("after the removal: served by %q, want next", body)
				}
			}
			cut := len(errs) > 0 || client.dials.Load() != 1
			if cut != tc.wantCut {
				t.Errorf("connection cut = %v (errors %v, %d connections opened), want %v", cut, errs, client.dials.Load(), tc.wantCut)
			}
		})
	}
}

func TestAutoDrainWaitsForBothKindsOfWork(t *testing.T) {
	for _, last := range []string{"TCP connection", "HTTP request"} {
		t.Run(last+" ends last", func(t *testing.T) {
			b := startBalancer(t, Config{Mode: Auto})
			g := newGate()
			var opened sync.Once
			openGate := func() { opened.Do(func() { close(g.open) }) }
			m := mixedBackend(t, "m", g)
			t.Cleanup(openGate) // runs before the backend's cleanup waits for its handlers
			setBackends(t, b, m.backend())

			stream := dialBalancer(t, b)
			if _, err := io.WriteString(stream, "hello"); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(stream, make([]byte, 5)); err != nil {
				t.Fatal(err)
			}
			answered := make(chan error, 1)
			go func() {
				body, err := newTestClient(t, true).get(urlOf(b))
				if err == nil && body != "m" {
					err = fmt.Errorf("answered %q, want m", body)
				}
				answered <- err
			}()
			<-g.started
			if s := statsOf(t, b, "m"); s.Active != 2 || s.Conns != 2 {
				t.Errorf("with a stream and a request in flight: %+v, want 2 active on 2 connections", s)
			}

			drained := b.Drain("m")
			endStream := func() {
				if err := stream.CloseWrite(); err != nil {
					t.Fatal(err)
				}
				if _, err := readAllString(stream); err != nil {
					t.Fatal(err)
				}
			}
			endRequest := func() {
				openGate()
				if err := <-answered; err != nil {
					t.Fatal(err)
				}
			}
			first, second := endRequest, endStream
			if last == "HTTP request" {
				first, second = endStream, endRequest
			}
			first()
			select {
			case <-drained:
				t.Fatalf("drained while the %s was still in flight", last)
			default:
			}
			second()
			waitDrained(t, drained)
			if s := statsOf(t, b, "m"); s.Active != 0 || s.Conns != 0 {
				t.Errorf("after the drain: %+v, want nothing active and no connection", s)
			}
		})
	}
}

// TestAutoRunClosesEverything: when Run's context ends, every kind of client connection is
// closed (one being sniffed, a proxied stream, an idle HTTP keep-alive connection, a request
// in flight), and Run returns nil.
func TestAutoRunClosesEverything(t *testing.T) {
	b, err := New(Config{Mode: Auto, Addr: "127.0.0.1:0", SniffTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	g := newGate()
	m := mixedBackend(t, "m", g)
	t.Cleanup(func() { close(g.open) }) // runs before the backend's cleanup waits for its handlers
	setBackends(t, b, m.backend())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()

	silent := dialBalancer(t, b)
	stream := dialBalancer(t, b)
	if _, err := io.WriteString(stream, "hello"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(stream, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	inFlight := dialBalancer(t, b)
	if _, err := io.WriteString(inFlight, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	<-g.started
	if s := statsOf(t, b, "m"); s.Active != 2 {
		t.Fatalf("%+v: want the stream and the request active", s)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	for name, c := range map[string]net.Conn{"silent": silent, "stream": stream, "request in flight": inFlight} {
		// EOF or reset, the read must end; the deadline only keeps a failing test from hanging.
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s client connection still open after Run returned", name)
		}
	}
	if _, err := net.Dial("tcp", b.Addr().String()); err == nil {
		t.Error("balancer still accepts connections after Run returned")
	}
	if s := statsOf(t, b, "m"); s.Conns != 0 {
		t.Errorf("backend connections left open after Run: %+v", s)
	}
}

// waitDrained waits for a drain that is due at once; the bound only turns a hang into a failure.
func waitDrained(t *testing.T, drained <-chan struct{}) {
	t.Helper()
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		t.Fatal("not drained 10 s after its last work ended")
	}
}
