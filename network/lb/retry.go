package lb

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
)

// attemptOutcome is what the retry rule needs to know about an HTTP attempt that failed before
// any response header arrived.
type attemptOutcome struct {
	clientGone     bool // the client's request context is done
	idempotent     bool // see isIdempotent
	sentBytes      bool // some byte of the request may have reached the backend
	bodyReplayable bool // every body byte read so far is still held
}

// mayRetry is the HTTP retry rule of the package doc, whole: a failed attempt may go to another
// backend when the client still waits, the body can be replayed, and the request is idempotent
// or never reached the backend. (How many attempts, and on which backends, is the caller's.)
func mayRetry(o attemptOutcome) bool {
	return !o.clientGone && o.bodyReplayable && (o.idempotent || !o.sentBytes)
}

// isIdempotent: methods RFC 9110 section 9.2.2 calls idempotent, or a request whose client
// declared it safe to repeat with an idempotency key (the headers net/http honours too).
func isIdempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

// sentTracker tells whether any byte of one attempt reached a backend connection. net/http may
// use more than one connection within an attempt (a pooled one found dead, then a fresh one), so
// it notes every connection the attempt was given and how much had been written to it then.
type sentTracker struct {
	mu      sync.Mutex
	conns   []*backendConn // guarded by mu
	marks   []int64        // guarded by mu: conns[i].written when the attempt got it
	unknown bool           // guarded by mu: a connection that does not count its bytes
}

func (s *sentTracker) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{GotConn: s.gotConn}
}

func (s *sentTracker) gotConn(info httptrace.GotConnInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := info.Conn.(*backendConn)
	if !ok {
		s.unknown = true
		return
	}
	s.conns = append(s.conns, c)
	s.marks = append(s.marks, c.written.Load())
}

// any reports whether some byte may have been sent: the kernel accepted a write on one of the
// attempt's connections, or a write is still under way. A nil tracker (not traced) says yes.
func (s *sentTracker) any() bool {
	if s == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unknown {
		return true
	}
	for i, c := range s.conns {
		if c.writing.Load() > 0 || c.written.Load() > s.marks[i] {
			return true
		}
	}
	return false
}

var errBodyNotReplayable = errors.New("request body is larger than the replay buffer and was partly sent already")

// replayBody holds the bytes read from a client's request body, up to a limit, so a failed
// attempt's bytes can be sent again on the next one. Each attempt reads through its own
// attemptBody. net/http may still read an abandoned attempt's body after its RoundTrip returned;
// whatever it reads is kept for the next attempt all the same.
type replayBody struct {
	src   io.ReadCloser
	limit int

	readMu sync.Mutex // held across reads from src, so they are serialised

	mu       sync.Mutex
	buf      []byte // guarded by mu: every byte read from src, while !overflow
	total    int    // guarded by mu: bytes read from src
	overflow bool   // guarded by mu: more than limit read; buf dropped
	srcErr   error  // guarded by mu: src's sticky error, io.EOF included
}

func newReplayBody(src io.ReadCloser, limit int) *replayBody {
	return &replayBody{src: src, limit: limit}
}

// replayable reports whether a new attempt could send the body from its first byte. A nil
// replayBody (no body) always can.
func (r *replayBody) replayable() bool {
	if r == nil {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srcErr != nil && r.srcErr != io.EOF {
		return false
	}
	return r.total == 0 || !r.overflow
}

// attempt returns a reader for one attempt, starting at the body's first byte.
func (r *replayBody) attempt() io.ReadCloser { return &attemptBody{r: r} }

// attemptBody is one attempt's view of a replayBody.
type attemptBody struct {
	r      *replayBody
	off    int  // guarded by r.mu
	closed bool // guarded by r.mu
}

func (a *attemptBody) Read(p []byte) (int, error) {
	r := a.r
	for {
		r.mu.Lock()
		if a.closed {
			r.mu.Unlock()
			return 0, http.ErrBodyReadAfterClose
		}
		if a.off < r.total {
			if r.overflow {
				r.mu.Unlock()
				return 0, errBodyNotReplayable
			}
			n := copy(p, r.buf[a.off:r.total])
			a.off += n
			r.mu.Unlock()
			return n, nil
		}
		if r.srcErr != nil {
			r.mu.Unlock()
			return 0, r.srcErr
		}
		r.mu.Unlock()

		r.readMu.Lock()
		r.mu.Lock()
		caughtUp := a.off == r.total && r.srcErr == nil
		r.mu.Unlock()
		if !caughtUp { // another reader read meanwhile: serve from what it kept
			r.readMu.Unlock()
			continue
		}
		n, err := r.src.Read(p)
		r.mu.Lock()
		if n > 0 {
			if !r.overflow && r.total+n <= r.limit {
				r.buf = append(r.buf, p[:n]...)
			} else {
				r.overflow, r.buf = true, nil
			}
			r.total += n
			a.off += n
		}
		if err != nil {
			r.srcErr = err
		}
		r.mu.Unlock()
		r.readMu.Unlock()
		return n, err
	}
}

// Close ends this attempt's reading; the client's body itself belongs to the server.
func (a *attemptBody) Close() error {
	a.r.mu.Lock()
	a.closed = true
	a.r.mu.Unlock()
	return nil
}
