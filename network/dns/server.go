package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Defaults of Config.
const (
	// DefaultForwardTimeout bounds one upstream's answer. Stub resolvers give up after 5s
	// (glibc's default); a dead upstream must cost less than that, so the next one is tried in time.
	DefaultForwardTimeout = 2 * time.Second
	// DefaultMaxForwards bounds the queries forwarded at once, so a task flooding names that are
	// not ours cannot hold unbounded goroutines and sockets (Docker's limit too).
	DefaultMaxForwards = 100
)

// Config configures a Server.
type Config struct {
	// Addr is where to listen, on UDP and TCP alike ("127.0.0.11:53"); port 0 picks a port free
	// for both.
	Addr string
	// PacketConn and Listener, when both set, are sockets the caller made (inside a task's network
	// namespace, say) and hands over; Addr is then ignored.
	PacketConn net.PacketConn
	Listener   net.Listener
	// AskerNetworks returns the IDs of the networks of whoever sends from src. It is called for
	// every query, concurrently. A server inside one task's namespace returns that task's
	// networks for any address; nil means a stranger, which sees none of our names.
	AskerNetworks func(src netip.Addr) []string
	// Upstreams are the resolvers that get the names that are not ours, tried in order: the node's
	// resolv.conf nameservers. None means those names get SERVFAIL at once.
	Upstreams []netip.AddrPort
	// ForwardTimeout bounds each upstream's answer; 0 means DefaultForwardTimeout.
	ForwardTimeout time.Duration
	// MaxForwards bounds the queries forwarded at once (more get SERVFAIL); 0 means
	// DefaultMaxForwards.
	MaxForwards int
	// ShuffleSeed seeds the order of multi-address answers; 0 picks a random seed. Tests set it
	// to get the same order each run.
	ShuffleSeed uint64
	Logger      *slog.Logger
}

// Server answers DNS queries over UDP and TCP from the Table it was last given and forwards what
// is not ours. Build it with NewServer, serve with Run; Update may be called at any time.
type Server struct {
	pc            net.PacketConn
	ln            net.Listener
	askerNetworks func(netip.Addr) []string
	fwd           forwarder
	forwardSlots  chan struct{} // a token per forward in flight
	log           *slog.Logger
	table         atomic.Pointer[Table]
	ran           atomic.Bool

	rngMu sync.Mutex
	rng   *rand.Rand // guarded by rngMu
}

// NewServer checks cfg and binds (or adopts) the sockets. The Server knows no name until Update.
// Call Run to serve, or Close to give the sockets back without serving.
func NewServer(cfg Config) (*Server, error) {
	if cfg.AskerNetworks == nil {
		return nil, errors.New("dns server: AskerNetworks is required")
	}
	if cfg.ForwardTimeout < 0 {
		return nil, fmt.Errorf("dns server: forward timeout %v: must not be negative", cfg.ForwardTimeout)
	}
	if cfg.MaxForwards < 0 {
		return nil, fmt.Errorf("dns server: max forwards %d: must not be negative", cfg.MaxForwards)
	}
	for _, up := range cfg.Upstreams {
		if !up.IsValid() || up.Port() == 0 {
			return nil, fmt.Errorf("dns server: upstream %v: must be an IP address and a port", up)
		}
	}
	pc, ln := cfg.PacketConn, cfg.Listener
	if (pc == nil) != (ln == nil) {
		return nil, errors.New("dns server: PacketConn and Listener come together, or neither")
	}
	if pc == nil {
		var err error
		if pc, ln, err = listen(cfg.Addr); err != nil {
			return nil, err
		}
	}
	s := &Server{
		pc:            pc,
		ln:            ln,
		askerNetworks: cfg.AskerNetworks,
		fwd: forwarder{
			upstreams: cfg.Upstreams,
			timeout:   cfg.ForwardTimeout,
		},
		forwardSlots: make(chan struct{}, cfg.MaxForwards),
		log:          cfg.Logger,
	}
	if s.fwd.timeout == 0 {
		s.fwd.timeout = DefaultForwardTimeout
	}
	if cfg.MaxForwards == 0 {
		s.forwardSlots = make(chan struct{}, DefaultMaxForwards)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	seed := cfg.ShuffleSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s.rng = rand.New(rand.NewPCG(seed, seed))
	if self := s.Addr(); self.IsValid() {
		for _, up := range cfg.Upstreams {
			if up == self {
				s.Close()
				return nil, fmt.Errorf("dns server: upstream %v is this server's own address", up)
			}
		}
	}
	return s, nil
}

// listen binds UDP and TCP on the same address; with port 0, on the same free port.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dns server: listen address %q: %w", addr, err)
	}
	attempts := 1
	if port == "0" {
		// The UDP port picked may be taken for TCP; another pick almost always is not.
		attempts = 20
	}
	var lastErr error
	for range attempts {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dns server: %w", err)
		}
		bound := net.JoinHostPort(host, strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port))
		ln, err := net.Listen("tcp", bound)
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		lastErr = err
	}
	return nil, nil, fmt.Errorf("dns server: %w", lastErr)
}

// Addr is the UDP address the server listens on (TCP uses the same port when NewServer bound the
// sockets itself).
func (s *Server) Addr() netip.AddrPort {
	if a, ok := s.pc.LocalAddr().(*net.UDPAddr); ok {
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// Update makes t the table every later query is answered from. A nil t knows no name.
func (s *Server) Update(t *Table) {
	s.table.Store(t)
}

// Names lists what an asker at src resolves from the current table (see Table.Names).
func (s *Server) Names(src netip.Addr) map[string][]netip.Addr {
	return s.table.Load().Names(s.askerNetworks(src))
}

// Close releases the sockets of a Server whose Run was never called. Run releases them itself.
func (s *Server) Close() error {
	return errors.Join(s.pc.Close(), s.ln.Close())
}

// Run serves until ctx ends, then stops: queries being forwarded are abandoned, every goroutine
// it started has ended and the sockets are closed when it returns. It returns nil after ctx
// ends, or the error that stopped a listener. Run may be called once.
func (s *Server) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("dns server: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) { s.serveQuery(ctx, w, req) })

	type listener struct {
		srv     *dns.Server
		started chan struct{}
		done    chan error
	}
	newListener := func(srv *dns.Server) *listener {
		l := &listener{srv: srv, started: make(chan struct{}), done: make(chan error, 1)}
		srv.Handler = handler
		srv.NotifyStartedFunc = func() { close(l.started) }
		srv.WriteTimeout = 2 * time.Second
		return l
	}
	listeners := []*listener{
		newListener(&dns.Server{PacketConn: s.pc}),
		newListener(&dns.Server{Listener: s.ln}),
	}
	var wg sync.WaitGroup
	for _, l := range listeners {
		wg.Go(func() { l.done <- l.srv.ActivateAndServe() })
	}

	// Shutdown refuses a server that has not started yet, which would then serve on forever:
	// wait until each one has started or given up before anything can stop them.
	var err error
	for _, l := range listeners {
		select {
		case <-l.started:
		case e := <-l.done:
			err = errors.Join(err, e)
			l.done <- e // kept for the wait below
		}
	}
	if err == nil {
		select {
		case <-ctx.Done():
		case err = <-listeners[0].done:
		case err = <-listeners[1].done:
		}
		if err != nil {
			err = fmt.Errorf("dns server: %w", err)
		}
	}
	cancel() // abandons forwards in flight, so handlers end and Shutdown returns promptly
	for _, l := range listeners {
		// A listener that already stopped, or never started, refuses; that is fine here.
		_ = l.srv.Shutdown()
	}
	wg.Wait()
	s.pc.Close()
	s.ln.Close()
	return err
}

// serveQuery answers one query and writes the reply, cut down to the asker's UDP size (with TC
// set, so it asks again over TCP) when it came over UDP.
func (s *Server) serveQuery(ctx context.Context, w dns.ResponseWriter, req *dns.Msg) {
	src := sourceAddr(w.RemoteAddr())
	resp := s.reply(ctx, src, req)
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		resp.Truncate(requestUDPSize(req))
	}
	resp.Compress = true
	if err := w.WriteMsg(resp); err != nil {
		s.log.Debug("dns: write reply", "to", src, "error", err)
	}
}

func (s *Server) reply(ctx context.Context, src netip.Addr, req *dns.Msg) *dns.Msg {
	if req.Opcode != dns.OpcodeQuery {
		return new(dns.Msg).SetRcode(req, dns.RcodeNotImplemented)
	}
	if len(req.Question) != 1 {
		return new(dns.Msg).SetRcode(req, dns.RcodeFormatError)
	}
	answers, rcode := Answer(s.table.Load(), s.askerNetworks(src), req.Question[0])
	if rcode == dns.RcodeNameError {
		return s.forward(ctx, req)
	}
	resp := new(dns.Msg).SetReply(req)
	resp.Authoritative = true
	resp.RecursionAvailable = true
	resp.Rcode = rcode
	resp.Answer = s.shuffle(answers)
	if req.IsEdns0() != nil {
		resp.SetEdns0(dns.DefaultMsgSize, false)
	}
	return resp
}

// forward gets req answered upstream, or SERVFAIL when no upstream is configured, too many
// forwards are in flight, or every upstream failed.
func (s *Server) forward(ctx context.Context, req *dns.Msg) *dns.Msg {
	servfail := func() *dns.Msg {
		resp := new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
		resp.RecursionAvailable = true
		return resp
	}
	if len(s.fwd.upstreams) == 0 {
		return servfail()
	}
	select {
	case s.forwardSlots <- struct{}{}:
		defer func() { <-s.forwardSlots }()
	default:
		s.log.Warn("dns: too many queries forwarded at once; answering SERVFAIL", "limit", cap(s.forwardSlots))
		return servfail()
	}
	resp, err := s.fwd.forward(ctx, req)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Info("dns: forward failed", "name", req.Question[0].Name, "error", err)
		}
		return servfail()
	}
	return resp
}

// shuffle puts a multi-address answer in a random order, so clients that take the first address
// spread over the tasks.
func (s *Server) shuffle(rrs []dns.RR) []dns.RR {
	if len(rrs) < 2 {
		return rrs
	}
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	s.rng.Shuffle(len(rrs), func(i, j int) { rrs[i], rrs[j] = rrs[j], rrs[i] })
	return rrs
}

// requestUDPSize is the largest UDP reply the asker takes: its EDNS0 size, else 512 bytes.
func requestUDPSize(req *dns.Msg) int {
	if opt := req.IsEdns0(); opt != nil && opt.UDPSize() >= dns.MinMsgSize {
		return int(opt.UDPSize())
	}
	return dns.MinMsgSize
}

func sourceAddr(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
