package lb

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// runTCP accepts client connections and proxies each to one backend until ctx ends.
func (b *Balancer) runTCP(ctx context.Context) error {
	err := b.acceptConns(ctx, b.proxyConn)
	b.work.closeAndWait()
	return err
}

// acceptConns accepts client connections until ctx ends or the listener fails, and runs serve
// on each in its own goroutine, counted in b.work. When it returns, the listener is closed and
// every client connection still being served was reset (serve sees its reads fail); the caller
// waits for the serving goroutines with b.work.closeAndWait. serve owns the connection: it
// closes it before returning, unless it handed it on to an owner that will.
func (b *Balancer) acceptConns(ctx context.Context, serve func(ctx context.Context, c net.Conn)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	clients := &clientConns{conns: make(map[net.Conn]struct{})}

	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		_ = b.ln.Close()
		clients.closeAll()
	}()

	var acceptErr error
	backoff := time.Duration(0)
	for {
		c, err := b.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if isTemporary(err) {
				// Out of file descriptors and the like: wait a little, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				b.log.Warn("accept failed; retrying", "err", err, "in", backoff)
				select {
				case <-b.clk.After(backoff):
				case <-ctx.Done():
				}
				continue
			}
			acceptErr = err
			break
		}
		backoff = 0
		if !b.work.start() {
			_ = c.Close()
			continue
		}
		clients.add(c)
		go func() {
			defer b.work.done()
			defer clients.remove(c)
			serve(ctx, c)
		}()
	}
	cancel()
	<-stopped
	if acceptErr != nil {
		return &net.OpError{Op: "accept", Net: "tcp", Addr: b.ln.Addr(), Err: acceptErr}
	}
	return nil
}

// isTemporary reports errors that an accept loop should outlive.
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// proxyConn connects one client connection to a backend and copies both ways until both are
// done. A client no backend would take is reset.
func (b *Balancer) proxyConn(ctx context.Context, client net.Conn) {
	be, server := b.connect(ctx)
	if be == nil {
		b.noteUnserved()
		abort(client)
		return
	}
	defer b.release(be, attemptProxyEnded)
	proxyStreams(client, server)
}

// connect dials backends, one not tried yet each time, until one answers or MaxAttempts dials
// failed. The backend it returns is acquired; the caller releases it.
func (b *Balancer) connect(ctx context.Context) (*backend, net.Conn) {
	var triedBuf [DefaultMaxAttempts]*backend
	tried := triedBuf[:0]
	for range b.cfg.MaxAttempts {
		be := b.acquire(tried)
		if be == nil {
			return nil, nil
		}
		c, err := b.dial(ctx, be.addr)
		if err == nil {
			b.dialed(be, true)
			return be, c
		}
		b.release(be, attemptDialFailed)
		b.log.Debug("backend dial failed; trying another", "backend", be.id, "addr", be.addr, "err", err)
		if ctx.Err() != nil {
			return nil, nil
		}
		tried = append(tried, be)
	}
	return nil, nil
}

// proxyStreams copies client→server and server→client at once. An EOF on one side is passed on
// as a FIN to the other (half-close) and the other direction goes on; an error on either side
// resets both connections. It returns when both directions are done, with both closed.
func proxyStreams(client, server net.Conn) {
	upDone := make(chan struct{})
	go func() {
		defer close(upDone)
		copyHalf(server, client)
	}()
	copyHalf(client, server)
	<-upDone
	_ = client.Close()
	_ = server.Close()
}

// copyHalf copies src to dst until src's EOF, then half-closes dst. Between two *net.TCPConn,
// io.Copy uses splice(2) on Linux: the bytes never enter user space. Either side may be a
// sniffedConn (Auto mode): its sniffed bytes are written first, then the bare connections splice.
func copyHalf(dst, src net.Conn) {
	err := copyStream(dst, src)
	if err == nil {
		if cw, ok := bare(dst).(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			return
		}
	}
	// A broken side: reset both, so the other copy stops and each peer learns of it.
	abort(dst)
	abort(src)
}

// copyStream copies src to dst until src's EOF: first what a sniff already read from src, then
// the rest from the bare connection, so that io.Copy sees two *net.TCPConn and splices.
func copyStream(dst, src net.Conn) error {
	if sc, ok := src.(*sniffedConn); ok {
		if sniffed := sc.takeSniffed(); len(sniffed) > 0 {
			if _, err := dst.Write(sniffed); err != nil {
				return err
			}
		}
	}
	_, err := io.Copy(bare(dst), bare(src))
	return err
}

// abort closes c with a reset rather than a FIN, so its peer knows the stream was cut.
func abort(c net.Conn) {
	c = bare(c)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// clientConns tracks the live client connections of a TCP frontend, so Run can cut them when it
// stops.
type clientConns struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{} // guarded by mu
	closed bool                  // guarded by mu
}

func (s *clientConns) add(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = c.Close()
		return
	}
	s.conns[c] = struct{}{}
}

func (s *clientConns) remove(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *clientConns) closeAll() {
	s.mu.Lock()
	s.closed = true
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		abort(c)
	}
}
