package lb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"
)

// errNoBackend: no backend may take the request (the set is empty, all are draining, or every
// one was tried).
var errNoBackend = errors.New("no backend available")

// errBackendFinished: a dial completed for a backend that has drained meanwhile.
var errBackendFinished = errors.New("backend drained")

// idleConnTimeout closes pooled connections nobody used for this long (net/http's timer).
const idleConnTimeout = 90 * time.Second

// httpProxy is HTTP mode: a ReverseProxy whose Transport picks a backend per request and
// retries by the package's rule.
type httpProxy struct {
	b       *Balancer
	rp      *httputil.ReverseProxy
	buffers sync.Pool
}

func newHTTPProxy(b *Balancer) *httpProxy {
	p := &httpProxy{b: b}
	p.buffers.New = func() any { return new([32 << 10]byte) }
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.SetXForwarded() // the client's address, which the reference's mesh loses
			// Out.Host stays the client's Host header; each attempt sets URL.Host.
		},
		Transport:    p,
		BufferPool:   p,
		ErrorHandler: p.writeError,
		ErrorLog:     slog.NewLogLogger(b.log.Handler(), slog.LevelDebug),
	}
	return p
}

// Get and Put make httpProxy the ReverseProxy's BufferPool.
func (p *httpProxy) Get() []byte  { return p.buffers.Get().(*[32 << 10]byte)[:] }
func (p *httpProxy) Put(b []byte) { p.buffers.Put((*[32 << 10]byte)(b[:32<<10])) }

// newHTTPServer is the server of HTTP mode, and of Auto mode's HTTP connections.
func (b *Balancer) newHTTPServer() *http.Server {
	return &http.Server{
		Handler:                      b.proxy,
		ErrorLog:                     slog.NewLogLogger(b.log.Handler(), slog.LevelDebug),
		DisableGeneralOptionsHandler: true, // OPTIONS * is the backend's to answer
	}
}

// runHTTP serves HTTP clients until ctx ends.
func (b *Balancer) runHTTP(ctx context.Context) error {
	srv := b.newHTTPServer()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(b.ln) }()
	var err error
	select {
	case <-ctx.Done():
		_ = srv.Close()
		<-served
	case err = <-served:
		_ = srv.Close()
	}
	// Closing the backend connections ends upgraded (hijacked) streams, which srv.Close leaves.
	b.closeBackendConns()
	b.work.closeAndWait()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("lb %s: serve: %w", b.Addr(), err)
	}
	return nil
}

// ServeHTTP proxies one client request.
func (p *httpProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.b.work.start() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	defer p.b.work.done()
	p.rp.ServeHTTP(w, r)
}

func (p *httpProxy) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadGateway
	if errors.Is(err, errNoBackend) {
		status = http.StatusServiceUnavailable
	}
	if r.Context().Err() != nil {
		p.b.log.Debug("request abandoned by its client", "method", r.Method, "uri", r.RequestURI, "err", err)
	} else {
		p.b.log.Warn("request failed", "method", r.Method, "uri", r.RequestURI, "status", status, "err", err)
	}
	w.WriteHeader(status)
}

// newTransport builds backend be's connection pool.
func (p *httpProxy) newTransport(be *backend) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return p.dial(ctx, be)
		},
		MaxIdleConnsPerHost:   p.b.cfg.MaxIdleConnsPerBackend,
		IdleConnTimeout:       idleConnTimeout,
		DisableCompression:    true, // pass Accept-Encoding and bodies through untouched
		ExpectContinueTimeout: time.Second,
	}
}

// dialError marks an error as a failed dial: nothing of the request was sent.
type dialError struct {
	addr string
	err  error
}

func (e *dialError) Error() string { return fmt.Sprintf("dial backend %s: %v", e.addr, e.err) }
func (e *dialError) Unwrap() error { return e.err }

func (p *httpProxy) dial(ctx context.Context, be *backend) (net.Conn, error) {
	c, err := p.b.dial(ctx, be.addr)
	if err != nil {
		return nil, &dialError{addr: be.addr, err: err}
	}
	bc := &backendConn{Conn: c, owner: &be.conns}
	if !be.conns.add(bc) {
		_ = c.Close()
		return nil, &dialError{addr: be.addr, err: errBackendFinished}
	}
	p.b.dialed(be, false)
	return bc, nil
}

// RoundTrip sends one client request to a backend chosen for it, and on failure to others, by
// the retry rule (mayRetry).
func (p *httpProxy) RoundTrip(req *http.Request) (*http.Response, error) {
	b := p.b
	idempotent := isIdempotent(req)
	var body *replayBody
	if req.Body != nil && req.Body != http.NoBody {
		body = newReplayBody(req.Body, max(b.cfg.MaxReplayBody, 0))
	}
	var triedBuf [DefaultMaxAttempts]*backend
	tried := triedBuf[:0]
	lastErr := errNoBackend
	for range b.cfg.MaxAttempts {
		be := b.acquire(tried)
		if be == nil {
			break
		}
		out, sent := attemptRequest(req, be, body, idempotent)
		resp, err := be.transport.RoundTrip(out)
		if err == nil {
			resp.Body = releaseOnClose(resp.Body, b, be)
			return resp, nil
		}
		clientGone := req.Context().Err() != nil
		var de *dialError
		switch {
		case clientGone: // not the backend's failure
			b.release(be, attemptDone)
		case errors.As(err, &de):
			b.release(be, attemptDialFailed)
		default:
			b.release(be, attemptFailed)
		}
		lastErr = err
		retry := mayRetry(attemptOutcome{
			clientGone:     clientGone,
			idempotent:     idempotent,
			sentBytes:      sent.any(),
			bodyReplayable: body.replayable(),
		})
		if !retry {
			break
		}
		b.log.Debug("backend attempt failed; retrying on another", "backend", be.id, "method", req.Method, "err", err)
		tried = append(tried, be)
	}
	b.noteUnserved()
	return nil, lastErr
}

// attemptRequest makes the request of one attempt on be: a shallow copy of req aimed at be, with
// its own view of the body, and, for a request the rule may not resend once sent, a tracker of
// what reached the backend (nil otherwise).
func attemptRequest(req *http.Request, be *backend, body *replayBody, idempotent bool) (*http.Request, *sentTracker) {
	out := new(http.Request)
	*out = *req
	u := *req.URL
	u.Host = be.addr
	out.URL = &u
	if body != nil {
		out.Body = body.attempt()
	}
	if idempotent {
		return out, nil
	}
	sent := &sentTracker{}
	return out.WithContext(httptrace.WithClientTrace(req.Context(), sent.trace())), sent
}

// releaseOnClose ends the attempt on be when the response body is closed: the request is in
// flight until its response has been relayed (ReverseProxy always closes it). The body of a 101
// response is the upgraded connection and must stay writable.
func releaseOnClose(body io.ReadCloser, b *Balancer, be *backend) io.ReadCloser {
	rb := &releasingBody{ReadCloser: body, b: b, be: be}
	if w, ok := body.(io.ReadWriteCloser); ok {
		return releasingRWBody{releasingBody: rb, w: w}
	}
	return rb
}

type releasingBody struct {
	io.ReadCloser
	b    *Balancer
	be   *backend
	done atomic.Bool
}

func (r *releasingBody) Close() error {
	err := r.ReadCloser.Close()
	if r.done.CompareAndSwap(false, true) {
		r.b.release(r.be, attemptDone)
	}
	return err
}

type releasingRWBody struct {
	*releasingBody
	w io.Writer
}

func (r releasingRWBody) Write(p []byte) (int, error) { return r.w.Write(p) }
