package lb

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Backend is one destination of a Balancer: a serving task.
type Backend struct {
	// ID names the backend for Drain and Stats: the task ID.
	ID string
	// Addr is the task's "ip:port" for this frontend's target port.
	Addr string
	// Weight is its share of new work relative to the others; 0 means 1.
	Weight int
}

// BackendStats is a snapshot of one backend's counters.
type BackendStats struct {
	ID     string
	Addr   string
	Weight int
	// InSet: in the set last given to SetBackends. A backend that left the set is still reported
	// while work is in flight on it.
	InSet bool
	// Draining: Drain was called for it.
	Draining bool
	// Suspect: a dial to it failed less than SuspectFor ago.
	Suspect bool
	// Active counts the requests (HTTP mode) or connections (TCP mode) in flight on it; in Auto
	// mode both, its proxied TCP connections and its HTTP requests.
	Active int
	// Conns counts the connections open to it: one per proxied TCP client connection (TCP mode,
	// and Auto mode for clients that are not HTTP) plus, in HTTP and Auto modes, the pooled ones,
	// idle or carrying a request.
	Conns int
	// Total counts attempts sent to it (connections in TCP mode, requests in HTTP mode, both in
	// Auto mode), retries included; Failures counts those that failed (dial error, or the
	// connection broke before a response arrived).
	Total    uint64
	Failures uint64
}

// Stats is a snapshot of a Balancer's counters.
type Stats struct {
	// Backends, sorted by ID.
	Backends []BackendStats
	// Unserved counts client connections (TCP) or requests (HTTP) that no backend served: none
	// was available, or every attempt failed.
	Unserved uint64
}

// backend is the balancer's state for one Backend.
type backend struct {
	id     string
	addr   string
	weight int // guarded by Balancer.mu

	// Guarded by Balancer.mu.
	inSet        bool
	draining     bool
	suspectUntil time.Time
	credit       int // smooth weighted round robin
	active       int // attempts in flight: proxied TCP connections (and their dials) and HTTP requests
	proxied      int // proxied TCP connections whose backend side is open
	total        uint64
	failures     uint64
	finished     bool // retiring with nothing in flight: connections closed, drained closed

	drained chan struct{} // closed once, by Balancer.finish
	conns   connSet
	// transport pools connections to this backend in HTTP and Auto modes; nil in TCP mode.
	transport *http.Transport
}

// retiring says the backend takes no new work and is on its way out.
func (be *backend) retiring() bool { return be.draining || !be.inSet }

// validateBackends checks a new set up front, before anything changes.
func validateBackends(bs []Backend) error {
	seen := make(map[string]bool, len(bs))
	for i, b := range bs {
		if b.ID == "" {
			return fmt.Errorf("backend %d (%s): empty ID: every backend needs the ID of its task", i, b.Addr)
		}
		if seen[b.ID] {
			return fmt.Errorf("backend %q: listed twice: IDs must be unique", b.ID)
		}
		seen[b.ID] = true
		host, port, err := net.SplitHostPort(b.Addr)
		if err != nil {
			return fmt.Errorf("backend %q: address %q: %w: must be ip:port", b.ID, b.Addr, err)
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 || host == "" {
			return fmt.Errorf("backend %q: address %q: must be ip:port with a port in 1-65535", b.ID, b.Addr)
		}
		if b.Weight < 0 {
			return fmt.Errorf("backend %q: weight %d: must be 0 (meaning 1) or more", b.ID, b.Weight)
		}
	}
	return nil
}

// connSet tracks the connections open to one backend, so a drained backend's pooled
// connections can all be closed, and none opened after it finished.
type connSet struct {
	mu     sync.Mutex
	conns  map[*backendConn]struct{} // guarded by mu
	closed bool                      // guarded by mu: the backend finished; refuse new ones
}

// add registers c, or reports false if the backend has finished (the caller closes c).
func (s *connSet) add(c *backendConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.conns == nil {
		s.conns = make(map[*backendConn]struct{})
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *connSet) remove(c *backendConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *connSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// closeAll closes every connection and, if final, refuses new ones from now on.
func (s *connSet) closeAll(final bool) {
	s.mu.Lock()
	if final {
		s.closed = true
	}
	conns := make([]*backendConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// backendConn is a pooled HTTP connection to a backend. It counts the bytes written to it so
// the retry rule can tell a request that never reached the backend from one that may have.
type backendConn struct {
	net.Conn
	owner   *connSet
	written atomic.Int64 // bytes the kernel accepted
	writing atomic.Int32 // writes under way
	once    sync.Once
}

func (c *backendConn) Write(p []byte) (int, error) {
	c.writing.Add(1)
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	c.writing.Add(-1)
	return n, err
}

func (c *backendConn) Close() error {
	c.once.Do(func() { c.owner.remove(c) })
	return c.Conn.Close()
}
