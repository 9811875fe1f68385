package lb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal/shoal/internal/clock"
)

// Mode is how a Balancer reads its clients' traffic.
type Mode int

const (
	// TCP proxies each client connection, whole, to one backend.
	TCP Mode = iota
	// HTTP parses HTTP/1.x requests and balances each request on its own.
	HTTP
	// Auto looks at the first bytes of each client connection: one that starts an HTTP/1.x
	// request is served as in HTTP mode, any other is proxied whole as in TCP mode.
	Auto
)

func (m Mode) String() string {
	switch m {
	case TCP:
		return "tcp"
	case HTTP:
		return "http"
	case Auto:
		return "auto"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Defaults of Config.
const (
	// DefaultMaxAttempts bounds the dials (TCP) or attempts (HTTP) for one client connection or
	// request: the first backend and two more.
	DefaultMaxAttempts = 3
	// DefaultDialTimeout bounds one dial. Inside a cluster a live backend answers a SYN in well
	// under a millisecond and a dead one is usually refused at once; a silent one (its node gone)
	// must cost the client less than its own timeouts before the next backend is tried.
	DefaultDialTimeout = time.Second
	// DefaultSuspectFor is how long a backend whose dial failed is passed over while others
	// remain: long enough to spare clients the failing dial during a crash, short enough for the
	// backend to come back on its own if the failure was passing.
	DefaultSuspectFor = 2 * time.Second
	// DefaultMaxIdleConnsPerBackend bounds the idle keep-alive connections pooled per backend in
	// HTTP mode (net/http's default of 2 would dial anew for most requests under load).
	DefaultMaxIdleConnsPerBackend = 256
	// DefaultMaxReplayBody is how much of a request body HTTP mode keeps to send it again.
	DefaultMaxReplayBody = 64 << 10
	// DefaultSniffTimeout bounds how long Auto mode waits for a new client's first bytes.
	// Client-first protocols (HTTP, TLS, Redis, Postgres) write as soon as they are connected:
	// their first segment follows the handshake's last ACK within the client's own processing
	// time, microseconds for curl, browsers or Go, whatever the round-trip time, so they are
	// classified at once and never wait for this. Server-first protocols (SMTP, MySQL, SSH, FTP)
	// send nothing until the server greets them, so each of their connections starts this much
	// late: 100 ms once per connection is little for such long-lived sessions. A client whose
	// first segment is lost arrives after a retransmission (200 ms at least on Linux) and is
	// taken for TCP: it still works, pinned to one backend as in TCP mode.
	DefaultSniffTimeout = 100 * time.Millisecond
)

// Config configures a Balancer.
type Config struct {
	// Addr is where to listen ("0.0.0.0:8080", "10.0.1.2:80"); port 0 picks a free port.
	Addr string
	// Listener, when set, is a socket the caller made (inside a namespace, say) and hands over;
	// Addr is then ignored.
	Listener net.Listener
	Mode     Mode
	Policy   Policy
	// MaxAttempts bounds the attempts per client connection (TCP) or request (HTTP), each on a
	// different backend; 0 means DefaultMaxAttempts.
	MaxAttempts int
	// DialTimeout bounds one dial to a backend; 0 means DefaultDialTimeout.
	DialTimeout time.Duration
	// Dial, when set, makes the connections to backends (from inside another network
	// namespace, say); it must honour ctx. nil dials from the process's own namespace.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// SuspectFor is how long a backend whose dial failed is passed over while others remain;
	// 0 means DefaultSuspectFor.
	SuspectFor time.Duration
	// MaxIdleConnsPerBackend bounds each backend's pool of idle connections (HTTP mode); 0 means
	// DefaultMaxIdleConnsPerBackend.
	MaxIdleConnsPerBackend int
	// MaxReplayBody is how many bytes of a request body HTTP mode keeps so the request can be
	// retried; 0 means DefaultMaxReplayBody, negative means none (a request whose body was read
	// is then never retried).
	MaxReplayBody int
	// SniffTimeout bounds how long Auto mode waits, on the Clock, for the first bytes of a client
	// connection before proxying it as TCP; 0 means DefaultSniffTimeout. Other modes ignore it.
	SniffTimeout time.Duration
	// Clock drives suspect windows, accept backoff, the sniff timeout and DrainAndWait; nil
	// means the wall clock.
	Clock  clock.Clock
	Logger *slog.Logger
}

func (cfg *Config) setDefaults() error {
	if cfg.Mode != TCP && cfg.Mode != HTTP && cfg.Mode != Auto {
		return fmt.Errorf("lb: mode %v: must be tcp, http or auto", cfg.Mode)
	}
	if cfg.Policy != RoundRobin && cfg.Policy != LeastConnections {
		return fmt.Errorf("lb: policy %v: must be round-robin or least-connections", cfg.Policy)
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"max attempts", int64(cfg.MaxAttempts)},
		{"dial timeout", int64(cfg.DialTimeout)},
		{"suspect window", int64(cfg.SuspectFor)},
		{"max idle connections per backend", int64(cfg.MaxIdleConnsPerBackend)},
		{"sniff timeout", int64(cfg.SniffTimeout)},
	} {
		if f.v < 0 {
			return fmt.Errorf("lb: %s %d: must not be negative (0 means the default)", f.name, f.v)
		}
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.SuspectFor == 0 {
		cfg.SuspectFor = DefaultSuspectFor
	}
	if cfg.MaxIdleConnsPerBackend == 0 {
		cfg.MaxIdleConnsPerBackend = DefaultMaxIdleConnsPerBackend
	}
	if cfg.MaxReplayBody == 0 {
		cfg.MaxReplayBody = DefaultMaxReplayBody
	}
	if cfg.SniffTimeout == 0 {
		cfg.SniffTimeout = DefaultSniffTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Balancer is the load balancer of one frontend. Build it with New, serve with Run; SetBackends,
// Drain and Stats may be called at any time, from any goroutine, before or during Run.
type Balancer struct {
	cfg    Config
	ln     net.Listener
	clk    clock.Clock
	log    *slog.Logger
	dialer net.Dialer
	ran    atomic.Bool
	proxy  *httpProxy // HTTP and Auto modes only

	mu       sync.Mutex
	set      []*backend          // guarded by mu: rotation order, as last given to SetBackends
	byID     map[string]*backend // guarded by mu: the set plus backends that left it with work in flight
	next     uint64              // guarded by mu: least-connections tie rotation
	unserved uint64              // guarded by mu

	// work counts what Run waits for: client connections (TCP), requests (HTTP), or in Auto mode
	// both, the HTTP connections only while they are being sniffed.
	work inflight
}

// New checks cfg and binds (or adopts) the listener. The Balancer has no backend until
// SetBackends. Call Run to serve, or Close to give the listener back without serving.
func New(cfg Config) (*Balancer, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	ln := cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return nil, fmt.Errorf("lb: listen on %s: %w", cfg.Addr, err)
		}
	}
	b := &Balancer{
		cfg:    cfg,
		ln:     ln,
		clk:    cfg.Clock,
		log:    cfg.Logger.With("frontend", ln.Addr().String(), "mode", cfg.Mode.String()),
		dialer: net.Dialer{Timeout: cfg.DialTimeout},
		byID:   make(map[string]*backend),
	}
	b.work.init()
	if cfg.Mode == HTTP || cfg.Mode == Auto {
		b.proxy = newHTTPProxy(b)
	}
	return b, nil
}

// Addr is the address the Balancer listens on.
func (b *Balancer) Addr() net.Addr { return b.ln.Addr() }

// Close releases the listener of a Balancer that will not Run. Run closes it itself.
func (b *Balancer) Close() error { return b.ln.Close() }

// Run serves clients until ctx ends, then closes the listener and every client and backend
// connection, waits for all its goroutines and returns nil. It returns an error only if the
// listener fails. Run may be called once.
func (b *Balancer) Run(ctx context.Context) error {
	if !b.ran.CompareAndSwap(false, true) {
		return errors.New("lb: Run called twice")
	}
	defer b.closeBackendConns()
	switch b.cfg.Mode {
	case HTTP:
		return b.runHTTP(ctx)
	case Auto:
		return b.runAuto(ctx)
	}
	return b.runTCP(ctx)
}

// SetBackends replaces the backend set, atomically: new connections and requests see either the
// old set or the new one. Backends keep their state and counters by ID. A backend left out stops
// taking new work at once; what is in flight on it finishes (see Drain).
func (b *Balancer) SetBackends(bs []Backend) error {
	if err := validateBackends(bs); err != nil {
		return fmt.Errorf("lb %s: %w", b.Addr(), err)
	}
	b.mu.Lock()
	for _, nb := range bs {
		if be, ok := b.byID[nb.ID]; ok && be.addr != nb.Addr {
			b.mu.Unlock()
			return fmt.Errorf("lb %s: backend %q: address changed from %s to %s: an ID's address is fixed; give the new address a new ID",
				b.Addr(), nb.ID, be.addr, nb.Addr)
		}
	}
	inNew := make(map[string]bool, len(bs))
	set := make([]*backend, 0, len(bs))
	for _, nb := range bs {
		inNew[nb.ID] = true
		be, ok := b.byID[nb.ID]
		if !ok {
			be = b.newBackend(nb)
			b.byID[nb.ID] = be
		}
		be.weight = nb.Weight
		be.inSet = true
		set = append(set, be)
	}
	var leaving, finished []*backend
	for _, be := range b.set {
		if inNew[be.id] {
			continue
		}
		if !be.draining {
			leaving = append(leaving, be)
		}
		be.inSet = false
		switch {
		case b.finishLocked(be):
			finished = append(finished, be)
		case be.finished: // drained earlier, while still in the set
			delete(b.byID, be.id)
		}
	}
	b.set = set
	b.mu.Unlock()

	// A leaving backend's idle pooled connections go now. net/http then also closes each
	// connection that becomes idle later, until a request asks the pool for one, which none does
	// for a backend out of rotation; and finish closes whatever is left when its last work ends.
	for _, be := range leaving {
		be.closeIdle()
	}
	for _, be := range finished {
		b.finish(be)
	}
	return nil
}

// Drain stops new work going to backend id at once and returns a channel that is closed when
// nothing is in flight on it any more: its in-flight requests (HTTP) or connections (TCP), or
// both (Auto), have finished and its connections are closed. In HTTP and Auto modes its idle
// pooled connections are closed at once. The channel of an ID the Balancer does not know (never set, or gone with nothing in
// flight) is already closed. Calling Drain again returns the same channel.
func (b *Balancer) Drain(id string) <-chan struct{} {
	b.mu.Lock()
	be := b.byID[id]
	if be == nil {
		b.mu.Unlock()
		return closedChan
	}
	newly := !be.retiring()
	be.draining = true
	fin := b.finishLocked(be)
	b.mu.Unlock()

	if fin {
		b.finish(be)
	} else if newly {
		be.closeIdle()
	}
	return be.drained
}

// Stats returns a snapshot of the counters.
func (b *Balancer) Stats() Stats {
	b.mu.Lock()
	now := b.clk.Now()
	st := Stats{Unserved: b.unserved, Backends: make([]BackendStats, 0, len(b.byID))}
	bes := make([]*backend, 0, len(b.byID))
	for _, be := range b.byID {
		bes = append(bes, be)
		st.Backends = append(st.Backends, BackendStats{
			ID: be.id, Addr: be.addr, Weight: weightOf(be),
			InSet: be.inSet, Draining: be.draining, Suspect: be.suspectUntil.After(now),
			Active: be.active, Conns: be.proxied, Total: be.total, Failures: be.failures,
		})
	}
	b.mu.Unlock()
	for i, be := range bes {
		st.Backends[i].Conns += be.conns.len()
	}
	sort.Slice(st.Backends, func(i, j int) bool { return st.Backends[i].ID < st.Backends[j].ID })
	return st
}

var closedChan = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

func (b *Balancer) newBackend(nb Backend) *backend {
	be := &backend{id: nb.ID, addr: nb.Addr, drained: make(chan struct{})}
	be.conns.conns = make(map[*backendConn]struct{})
	if b.proxy != nil {
		be.transport = b.proxy.newTransport(be)
	}
	return be
}

// acquire picks a backend for one attempt and counts the attempt in flight on it; nil if none
// may take it. Every non-nil result must be given back with release.
func (b *Balancer) acquire(tried []*backend) *backend {
	b.mu.Lock()
	defer b.mu.Unlock()
	be := pick(b.set, b.clk.Now(), tried, b.cfg.Policy, &b.next)
	if be != nil {
		be.active++
		be.total++
	}
	return be
}

// attemptResult says how an attempt on a backend ended.
type attemptResult int

const (
	attemptDone       attemptResult = iota // served (whatever the backend answered)
	attemptFailed                          // the connection broke before a response
	attemptDialFailed                      // no connection could be made: the backend is suspect
	attemptProxyEnded                      // a proxied TCP connection ended (served), its backend side closed
)

// release ends an attempt acquire counted, and finishes the backend if it was the last work on
// a retiring one.
func (b *Balancer) release(be *backend, res attemptResult) {
	b.mu.Lock()
	be.active--
	switch res {
	case attemptProxyEnded:
		be.proxied--
	case attemptDialFailed:
		be.failures++
		be.suspectUntil = b.clk.Now().Add(b.cfg.SuspectFor)
	case attemptFailed:
		be.failures++
	}
	fin := b.finishLocked(be)
	b.mu.Unlock()
	if fin {
		b.finish(be)
	}
}

// dialed records a dial that worked: a suspect backend is trusted again. proxied says the
// connection carries a proxied TCP stream, which the caller releases with attemptProxyEnded.
func (b *Balancer) dialed(be *backend, proxied bool) {
	b.mu.Lock()
	be.suspectUntil = time.Time{}
	if proxied {
		be.proxied++
	}
	b.mu.Unlock()
}

// noteUnserved counts a client connection or request no backend served.
func (b *Balancer) noteUnserved() {
	b.mu.Lock()
	b.unserved++
	b.mu.Unlock()
}

// finishLocked decides, exactly once per backend, that a retiring backend has nothing in flight;
// the caller then calls finish outside the lock. b.mu must be held.
func (b *Balancer) finishLocked(be *backend) bool {
	if !be.retiring() || be.active > 0 || be.finished {
		return false
	}
	be.finished = true
	if !be.inSet {
		delete(b.byID, be.id)
	}
	return true
}

// finish closes a finished backend's connections, then tells Drain's callers.
func (b *Balancer) finish(be *backend) {
	be.closeIdle()
	be.conns.closeAll(true)
	close(be.drained)
}

// closeIdle closes the backend's idle pooled connections (HTTP and Auto modes).
func (be *backend) closeIdle() {
	if be.transport != nil {
		be.transport.CloseIdleConnections()
	}
}

// closeBackendConns closes every connection to every backend; Run calls it on the way out.
func (b *Balancer) closeBackendConns() {
	b.mu.Lock()
	all := make([]*backend, 0, len(b.byID))
	for _, be := range b.byID {
		all = append(all, be)
	}
	b.mu.Unlock()
	for _, be := range all {
		be.closeIdle()
		be.conns.closeAll(false)
	}
}

// inflight counts units of work being served (client connections or requests) so Run can wait
// for them, and refuses new ones once closing.
type inflight struct {
	mu      sync.Mutex
	n       int           // guarded by mu
	closing bool          // guarded by mu
	idle    chan struct{} // closed when closing and n reaches 0
}

func (w *inflight) init() { w.idle = make(chan struct{}) }

// start counts one more unit, or reports false when closing.
func (w *inflight) start() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closing {
		return false
	}
	w.n++
	return true
}

func (w *inflight) done() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n--
	if w.closing && w.n == 0 {
		close(w.idle)
	}
}

// closeAndWait refuses new units and waits for the running ones.
func (w *inflight) closeAndWait() {
	w.mu.Lock()
	if !w.closing {
		w.closing = true
		if w.n == 0 {
			close(w.idle)
		}
	}
	w.mu.Unlock()
	<-w.idle
}

// dial connects to a backend, with the configured dialer.
func (b *Balancer) dial(ctx context.Context, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.DialTimeout)
	defer cancel()
	if b.cfg.Dial != nil {
		return b.cfg.Dial(ctx, "tcp", addr)
	}
	return b.dialer.DialContext(ctx, "tcp", addr)
}
