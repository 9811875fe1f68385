package dns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"time"

	"github.com/miekg/dns"
)

// ResolvConf is what the resolver needs from the node's resolv.conf.
type ResolvConf struct {
	Nameservers []netip.AddrPort
	Search      []string
}

// ParseResolvConf reads a resolv.conf. Nameservers that are not IP addresses are refused, since
// they could only be resolved through themselves.
func ParseResolvConf(r io.Reader) (ResolvConf, error) {
	cc, err := dns.ClientConfigFromReader(r)
	if err != nil {
		return ResolvConf{}, fmt.Errorf("parse resolv.conf: %w", err)
	}
	port, err := strconv.ParseUint(cc.Port, 10, 16)
	if err != nil {
		return ResolvConf{}, fmt.Errorf("parse resolv.conf: port %q: %w", cc.Port, err)
	}
	var conf ResolvConf
	for _, s := range cc.Servers {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return ResolvConf{}, fmt.Errorf("parse resolv.conf: nameserver %q: must be an IP address", s)
		}
		conf.Nameservers = append(conf.Nameservers, netip.AddrPortFrom(ip.Unmap(), uint16(port)))
	}
	conf.Search = cc.Search
	return conf, nil
}

// forwarder sends questions that are not ours to the upstream resolvers, in order, each with its
// own timeout, over UDP and again over TCP when the UDP answer is truncated.
type forwarder struct {
	upstreams []netip.AddrPort
	timeout   time.Duration
}

// errNoUpstream is returned when no upstream resolver is configured.
var errNoUpstream = errors.New("no upstream resolver configured")

// forward asks the upstreams for req and returns the first answer that is not SERVFAIL or
// REFUSED (or the last answer when all say so), with req's ID.
func (f *forwarder) forward(ctx context.Context, req *dns.Msg) (*dns.Msg, error) {
	if len(f.upstreams) == 0 {
		return nil, errNoUpstream
	}
	query := req.Copy()
	query.Id = dns.Id()
	var last *dns.Msg
	var errs []error
	for _, up := range f.upstreams {
		resp, err := f.exchange(ctx, up, query)
		if err != nil {
			errs = append(errs, fmt.Errorf("upstream %s: %w", up, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		resp.Id = req.Id
		if resp.Rcode != dns.RcodeServerFailure && resp.Rcode != dns.RcodeRefused {
			return resp, nil
		}
		last = resp
	}
	if last != nil {
		return last, nil
	}
	return nil, errors.Join(errs...)
}

// exchange asks one upstream: over UDP, then over TCP if the answer came back truncated.
func (f *forwarder) exchange(ctx context.Context, upstream netip.AddrPort, query *dns.Msg) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	resp, err := exchangeOver(ctx, "udp", upstream, query)
	if err != nil || !resp.Truncated {
		return resp, err
	}
	return exchangeOver(ctx, "tcp", upstream, query)
}

func exchangeOver(ctx context.Context, network string, upstream netip.AddrPort, query *dns.Msg) (*dns.Msg, error) {
	// The client's own timeouts apply only below ctx's deadline; UDPSize lets a reply larger than
	// 512 bytes be read whole when the query carries no EDNS0 size of its own.
	client := &dns.Client{Net: network, UDPSize: dns.MaxMsgSize}
	conn, err := client.DialContext(ctx, upstream.String())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// The client honours ctx's deadline but not its cancellation; closing the connection
	// unblocks it when the server shuts down.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	resp, _, err := client.ExchangeWithConnContext(ctx, query, conn)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%s: %w", network, ctxErr)
		}
		return nil, fmt.Errorf("%s: %w", network, err)
	}
	return resp, nil
}
