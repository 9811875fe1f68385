package manager

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/shoal/shoal/ca"
	"github.com/shoal/shoal/clusterapi"
)

// port is a manager's single mTLS listener. ALPN splits each connection: Raft streams go
// to the Raft transport, everything else to the cluster API's HTTP server.
type port struct {
	ln        net.Listener
	tlsConfig *tls.Config
	logger    *slog.Logger
	// raftPeerAllowed decides whether a verified peer may speak Raft to us.
	raftPeerAllowed func(ca.NodeIdentity) error

	raftConns chan net.Conn
	apiConns  chan net.Conn
	closeOnce sync.Once
	closed    chan struct{}
}

func listenPort(addr string, creds *ca.Credentials, logger *slog.Logger, allowed func(ca.NodeIdentity) error) (*port, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s for managers and nodes: %w", addr, err)
	}
	return &port{
		ln:              ln,
		tlsConfig:       creds.ServerTLSConfig([]string{clusterapi.ProtoRaft, clusterapi.ProtoAPI}),
		logger:          logger,
		raftPeerAllowed: allowed,
		raftConns:       make(chan net.Conn),
		apiConns:        make(chan net.Conn),
		closed:          make(chan struct{}),
	}, nil
}

// serve accepts connections until the port is closed.
func (p *port) serve() {
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			select {
			case <-p.closed:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			p.logger.Warn("manager port accept failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		go p.route(conn)
	}
}

func (p *port) route(raw net.Conn) {
	conn := tls.Server(raw, p.tlsConfig)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.HandshakeContext(ctx); err != nil {
		p.logger.Debug("tls handshake failed", "remote", raw.RemoteAddr(), "err", err)
		raw.Close()
		return
	}
	state := conn.ConnectionState()
	var dest chan net.Conn
	switch state.NegotiatedProtocol {
	case clusterapi.ProtoRaft:
		id, ok := ca.PeerIdentity(&state)
		if !ok {
			p.logger.Warn("refused raft connection without a node certificate", "remote", raw.RemoteAddr())
			conn.Close()
			return
		}
		if err := p.raftPeerAllowed(id); err != nil {
			p.logger.Warn("refused raft connection", "remote", raw.RemoteAddr(), "node", id.NodeID, "err", err)
			conn.Close()
			return
		}
		dest = p.raftConns
	default:
		dest = p.apiConns
	}
	select {
	case dest <- conn:
	case <-p.closed:
		conn.Close()
	}
}

func (p *port) close() {
	p.closeOnce.Do(func() {
		close(p.closed)
		p.ln.Close()
	})
}

// chanListener is a net.Listener fed by the port.
type chanListener struct {
	p     *port
	conns chan net.Conn
}

func (l chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.p.closed:
		return nil, net.ErrClosed
	}
}

func (l chanListener) Close() error   { return nil }
func (l chanListener) Addr() net.Addr { return l.p.ln.Addr() }

// raftLayer is hashicorp/raft's StreamLayer over the port: it accepts the port's Raft
// connections and dials other managers with this node's certificate.
type raftLayer struct {
	chanListener
	advertise net.Addr
	creds     *ca.Credentials
}

func (l *raftLayer) Addr() net.Addr { return l.advertise }

func (l *raftLayer) Dial(address hraft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: l.creds.ClientTLSConfig(clusterapi.ProtoRaft)}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, "tcp", string(address))
}

type advertiseAddr string

func (a advertiseAddr) Network() string { return "tcp" }
func (a advertiseAddr) String() string  { return string(a) }
