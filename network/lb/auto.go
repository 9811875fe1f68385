package lb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/shoal/shoal/internal/clock"
)

// runAuto serves every client connection in the mode its first bytes call for, until ctx ends:
// HTTP/1.x ones go to one http.Server (as in HTTP mode) through an in-memory listener, the rest
// are proxied whole (as in TCP mode). Each connection is sniffed on its own goroutine, so a slow
// or silent client holds up nobody else.
func (b *Balancer) runAuto(ctx context.Context) error {
	httpConns := newHandoffListener(b.ln.Addr())
	srv := b.newHTTPServer()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(httpConns) }()

	acceptErr := b.acceptConns(ctx, func(ctx context.Context, c net.Conn) {
		b.serveSniffed(ctx, c, httpConns)
	})
	// The listener is closed and the connections still being sniffed or proxied were reset; a
	// sniffer handing a connection over finds httpConns closed and closes it.
	_ = srv.Close()
	serveErr := <-served
	// Closing the backend connections ends upgraded (hijacked) streams, which srv.Close leaves.
	b.closeBackendConns()
	b.work.closeAndWait()
	if acceptErr != nil {
		return acceptErr
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("lb %s: serve: %w", b.Addr(), serveErr)
	}
	return nil
}

// serveSniffed reads the first bytes of client connection c and serves it in HTTP mode or proxies
// it in TCP mode. The bytes read go first to whoever reads c next.
func (b *Balancer) serveSniffed(ctx context.Context, c net.Conn, httpConns *handoffListener) {
	kind, sniffed, err := sniff(c, b.clk, b.cfg.SniffTimeout)
	if err != nil { // reset or closed under us: there is nobody to serve
		b.log.Debug("client connection failed before its protocol was known", "client", c.RemoteAddr().String(), "err", err)
		abort(c)
		return
	}
	sc := &sniffedConn{Conn: c, sniffed: sniffed}
	if kind == sniffHTTP {
		if !httpConns.handoff(sc) { // Run is stopping
			abort(c)
		}
		return
	}
	b.proxyConn(ctx, sc)
}

// sniffVerdict is what the first bytes of a client connection say about its protocol.
type sniffVerdict int

const (
	sniffUndecided sniffVerdict = iota // too few bytes yet
	sniffHTTP                          // an HTTP/1.x request line begins
	sniffTCP                           // anything else
)

func (v sniffVerdict) String() string {
	switch v {
	case sniffHTTP:
		return "http"
	case sniffTCP:
		return "tcp"
	}
	return "undecided"
}

// httpRequestStarts are the methods of RFC 9110 (and PATCH) with the space that ends them in a
// request line. A request with another method (WebDAV's PROPFIND, say) is taken for TCP: it
// still works, pinned to one backend.
var httpRequestStarts = []string{"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "TRACE ", "CONNECT "}

// maxSniffNeed is how many bytes classify needs at most to decide.
const maxSniffNeed = len("CONNECT ")

// sniffBufSize is how much one sniff reads at most. A whole small request usually arrives in
// the first segment; reading it all in one read saves the HTTP server a read of its own.
const sniffBufSize = 1024

// classify decides from the first bytes p of a client connection whether it carries HTTP/1.x:
// it does when p starts with a method and a space. While p is a proper prefix of one (a request
// split over segments: "GE", then "T /") it is undecided; anything else, HTTP/2's "PRI *
// HTTP/2.0" preface and TLS's ClientHello included, is TCP. classify is a pure decision.
func classify(p []byte) sniffVerdict {
	verdict := sniffTCP
	for _, start := range httpRequestStarts {
		n := min(len(p), len(start))
		if string(p[:n]) != start[:n] {
			continue
		}
		if n == len(start) {
			return sniffHTTP
		}
		verdict = sniffUndecided
	}
	return verdict
}

// sniff reads from c until classify decides, or until timeout passes on clk; a client that said
// nothing in time, or closed its sending side first (EOF), is TCP. It returns the verdict and the
// bytes it read, which the caller must pass on. An error means c failed (reset, or closed
// under it). On return c has no read deadline.
func sniff(c net.Conn, clk clock.Clock, timeout time.Duration) (sniffVerdict, []byte, error) {
	// The clock's timer cuts the read short through a deadline in the past, so tests can drive
	// the timeout. The watcher has ended before the deadline is cleared, so a timer firing as the
	// verdict comes in leaves no deadline behind.
	stop, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-clk.After(timeout):
			_ = c.SetReadDeadline(aLongTimeAgo)
		case <-stop:
		}
	}()
	buf := make([]byte, sniffBufSize)
	n, verdict := 0, sniffUndecided
	var err error
	for verdict == sniffUndecided && err == nil {
		var m int
		m, err = c.Read(buf[n:])
		n += m
		verdict = classify(buf[:n])
	}
	close(stop)
	<-watched
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, io.EOF) {
		err = nil
	}
	if err != nil {
		return sniffTCP, nil, err
	}
	// An error here means c is closed; whoever uses it next will hear of that.
	_ = c.SetReadDeadline(time.Time{})
	if verdict == sniffUndecided {
		verdict = sniffTCP
	}
	return verdict, buf[:n:n], nil
}

// aLongTimeAgo is a read deadline that has passed: it ends a blocked read at once.
var aLongTimeAgo = time.Unix(1, 0)

// sniffedConn is a client connection whose first bytes a sniff has read: reads return those
// first. Writes, deadlines and Close are the connection's own. A sniffedConn has one reader at a
// time (the HTTP server's, or the TCP proxy's copy); copyStream takes the sniffed bytes itself
// and then copies from the bare connection, so TCP streams still splice.
type sniffedConn struct {
	net.Conn
	sniffed []byte // not yet read
}

func (c *sniffedConn) Read(p []byte) (int, error) {
	if len(c.sniffed) == 0 {
		return c.Conn.Read(p)
	}
	n := copy(p, c.sniffed)
	c.sniffed = c.sniffed[n:]
	if len(c.sniffed) == 0 {
		c.sniffed = nil // let the buffer go
	}
	return n, nil
}

// takeSniffed returns the sniffed bytes not read yet; reads go to the connection from then on.
func (c *sniffedConn) takeSniffed() []byte {
	p := c.sniffed
	c.sniffed = nil
	return p
}

// CloseWrite half-closes the connection, as net/http's server and copyHalf expect of a TCP
// connection.
func (c *sniffedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// bare returns the connection under a sniffedConn, or c itself.
func bare(c net.Conn) net.Conn {
	if sc, ok := c.(*sniffedConn); ok {
		return sc.Conn
	}
	return c
}

// handoffListener is the net.Listener Auto mode's http.Server accepts from: the sniffing
// goroutines hand it the connections they found to be HTTP.
type handoffListener struct {
	addr   net.Addr
	conns  chan net.Conn // unbuffered: a connection handed over is one Accept took
	closed chan struct{}
	once   sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

// handoff gives c to the server, waiting until it accepts; false if the listener closed first
// (the caller still owns c).
func (l *handoffListener) handoff(c net.Conn) bool {
	select {
	case <-l.closed:
		return false
	default:
	}
	select {
	case l.conns <- c:
		return true
	case <-l.closed:
		return false
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close makes Accept and handoff fail from now on; http.Server.Close calls it.
func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }
