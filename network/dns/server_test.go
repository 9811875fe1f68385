package dns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var transports = []string{"udp", "tcp"}

func TestServerAnswersOverUDPAndTCP(t *testing.T) {
	s := startServer(t, Config{}, fixtureTable(t))
	for _, network := range transports {
		t.Run(network, func(t *testing.T) {
			resp := ask(t, network, s.Addr(), query("web.", dns.TypeA))
			if resp.Rcode != dns.RcodeSuccess || !resp.Authoritative || !resp.RecursionAvailable {
				t.Errorf("web: rcode %s, AA %v, RA %v; want NOERROR, AA and RA", dns.RcodeToString[resp.Rcode], resp.Authoritative, resp.RecursionAvailable)
			}
			if got, want := briefAll(resp.Answer), []string{"A 10.0.1.2 ttl=2"}; !slices.Equal(got, want) {
				t.Errorf("web = %q, want %q", got, want)
			}
			resp = ask(t, network, s.Addr(), query("Tasks.Web.", dns.TypeA))
			got := briefAll(resp.Answer)
			slices.Sort(got)
			if want := []string{"A 10.0.1.3 ttl=0", "A 10.0.1.4 ttl=0"}; !slices.Equal(got, want) {
				t.Errorf("tasks.web = %q, want %q", got, want)
			}
			resp = ask(t, network, s.Addr(), query("web.", dns.TypeAAAA))
			if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 0 {
				t.Errorf("AAAA web: %s %q, want NOERROR and nothing", dns.RcodeToString[resp.Rcode], briefAll(resp.Answer))
			}
		})
	}
}

// The asker's networks come from its source address: two tasks on different networks, on
// 127.0.0.1 and 127.0.0.2, see different answers for the same name.
func TestServerScopesAnswersByAskerAddress(t *testing.T) {
	var mu sync.Mutex
	var sources []netip.Addr
	lookup := func(src netip.Addr) []string {
		mu.Lock()
		sources = append(sources, src)
		mu.Unlock()
		if src == netip.MustParseAddr("127.0.0.2") {
			return askerBack
		}
		return askerFront
	}
	s := startServer(t, Config{AskerNetworks: lookup}, fixtureTable(t))
	for _, network := range transports {
		for _, tt := range []struct {
			src   string
			name  string
			rcode int
			want  []string
		}{
			{"127.0.0.1", "web.", dns.RcodeSuccess, []string{"A 10.0.1.2 ttl=2"}},
			{"127.0.0.2", "web.", dns.RcodeSuccess, []string{"A 10.0.2.2 ttl=2"}},
			{"127.0.0.2", "db.", dns.RcodeSuccess, []string{"A 10.0.2.10 ttl=0", "A 10.0.2.11 ttl=0"}},
			// Not ours for this asker, and no upstream to ask.
			{"127.0.0.1", "db.", dns.RcodeServerFailure, []string{}},
		} {
			resp, err := askFrom(network, netip.MustParseAddr(tt.src), s.Addr(), query(tt.name, dns.TypeA))
			if err != nil {
				t.Fatalf("%s from %s: %v", tt.name, tt.src, err)
			}
			got := briefAll(resp.Answer)
			slices.Sort(got)
			if resp.Rcode != tt.rcode || !slices.Equal(got, tt.want) {
				t.Errorf("%s %s from %s: %s %q, want %s %q", network, tt.name, tt.src, dns.RcodeToString[resp.Rcode], got, dns.RcodeToString[tt.rcode], tt.want)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(sources, netip.MustParseAddr("127.0.0.2")) {
		t.Errorf("AskerNetworks saw sources %v, want 127.0.0.2 among them", sources)
	}
}

func TestServerUpdateIsSeenByTheNextQuery(t *testing.T) {
	s := startServer(t, Config{}, fixtureTable(t))
	r := fixtureRecords()
	r.Services[0].Networks[0].VIP = ip("10.0.1.100") // web created again with a new VIP
	moved, err := NewTable(r)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		table *Table
		rcode int
		want  []string
	}{
		{fixtureTable(t), dns.RcodeSuccess, []string{"A 10.0.1.2 ttl=2"}},
		{moved, dns.RcodeSuccess, []string{"A 10.0.1.100 ttl=2"}},
		{nil, dns.RcodeServerFailure, []string{}}, // no name is ours, and no upstream
		{fixtureTable(t), dns.RcodeSuccess, []string{"A 10.0.1.2 ttl=2"}},
	}
	for i, step := range steps {
		s.Update(step.table)
		for _, network := range transports {
			resp := ask(t, network, s.Addr(), query("web.", dns.TypeA))
			if got := briefAll(resp.Answer); resp.Rcode != step.rcode || !slices.Equal(got, step.want) {
				t.Errorf("step %d over %s: %s %q, want %s %q", i, network, dns.RcodeToString[resp.Rcode], got, dns.RcodeToString[step.rcode], step.want)
			}
		}
	}
}

func TestServerForwardsNamesThatAreNotOurs(t *testing.T) {
	up := startFakeUpstream(t, answerA("secret.", "192.0.2.1"))
	s := startServer(t, Config{Upstreams: []netip.AddrPort{up.addr}}, fixtureTable(t))
	for _, network := range transports {
		resp := ask(t, network, s.Addr(), query("example.com.", dns.TypeA))
		if got, want := briefAll(resp.Answer), []string{"A 192.0.2.1 ttl=60"}; resp.Rcode != dns.RcodeSuccess || !slices.Equal(got, want) {
			t.Errorf("example.com over %s: %s %q, want NOERROR %q", network, dns.RcodeToString[resp.Rcode], got, want)
		}
		// A service on no network the asker shares is not ours for it: upstream decides.
		resp = ask(t, network, s.Addr(), query("secret.", dns.TypeA))
		if resp.Rcode != dns.RcodeNameError || len(resp.Answer) != 0 {
			t.Errorf("secret over %s: %s %q, want upstream's NXDOMAIN", network, dns.RcodeToString[resp.Rcode], briefAll(resp.Answer))
		}
		// Ours: never forwarded.
		ask(t, network, s.Addr(), query("web.", dns.TypeA))
		ask(t, network, s.Addr(), query("web.", dns.TypeAAAA))
	}
	want := []string{"udp example.com. A", "udp secret. A", "udp example.com. A", "udp secret. A"}
	if got := up.queries(); !slices.Equal(got, want) {
		t.Errorf("upstream saw %q, want %q", got, want)
	}
}

func TestServerWithoutUpstreamAnswersServfail(t *testing.T) {
	s := startServer(t, Config{}, fixtureTable(t))
	for _, network := range transports {
		for _, q := range []*dns.Msg{query("example.com.", dns.TypeA), query("secret.", dns.TypeA), query("4.3.2.1.in-addr.arpa.", dns.TypePTR)} {
			resp := ask(t, network, s.Addr(), q)
			if resp.Rcode != dns.RcodeServerFailure || !resp.RecursionAvailable {
				t.Errorf("%s over %s: %s (RA %v), want SERVFAIL", q.Question[0].Name, network, dns.RcodeToString[resp.Rcode], resp.RecursionAvailable)
			}
		}
	}
}

func TestServerTriesTheNextUpstream(t *testing.T) {
	good := startFakeUpstream(t, answerA("", "192.0.2.7"))
	failing := startFakeUpstream(t, func(req *dns.Msg, _ bool) *dns.Msg {
		return new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
	})
	// A socket that never answers: a dead upstream.
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	dead := silent.LocalAddr().(*net.UDPAddr).AddrPort()

	for _, tt := range []struct {
		name      string
		upstreams []netip.AddrPort
		rcode     int
		want      []string
	}{
		{"after SERVFAIL", []netip.AddrPort{failing.addr, good.addr}, dns.RcodeSuccess, []string{"A 192.0.2.7 ttl=60"}},
		{"after a timeout", []netip.AddrPort{dead, good.addr}, dns.RcodeSuccess, []string{"A 192.0.2.7 ttl=60"}},
		{"all fail", []netip.AddrPort{dead, failing.addr}, dns.RcodeServerFailure, []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Config{Upstreams: tt.upstreams, ForwardTimeout: 200 * time.Millisecond}, fixtureTable(t))
			resp := ask(t, "udp", s.Addr(), query("example.com.", dns.TypeA))
			if got := briefAll(resp.Answer); resp.Rcode != tt.rcode || !slices.Equal(got, tt.want) {
				t.Errorf("got %s %q, want %s %q", dns.RcodeToString[resp.Rcode], got, dns.RcodeToString[tt.rcode], tt.want)
			}
		})
	}
}

// An upstream answer too large for UDP comes back truncated; the server asks again over TCP and
// hands the asker the whole answer, itself truncated only if the asker's UDP size is too small.
func TestServerForwardFallsBackToTCPOnTruncation(t *testing.T) {
	full := answerA("", manyAddrs(60)...)
	up := startFakeUpstream(t, func(req *dns.Msg, overTCP bool) *dns.Msg {
		if overTCP {
			return full(req, true)
		}
		resp := new(dns.Msg).SetReply(req)
		resp.Truncated = true
		return resp
	})
	s := startServer(t, Config{Upstreams: []netip.AddrPort{up.addr}}, fixtureTable(t))

	big := query("big.example.", dns.TypeA).SetEdns0(4096, false)
	resp := ask(t, "udp", s.Addr(), big)
	if resp.Truncated || len(resp.Answer) != 60 {
		t.Errorf("UDP with a 4096-byte buffer: TC %v and %d answers, want the whole 60", resp.Truncated, len(resp.Answer))
	}
	if got, want := up.queries(), []string{"udp big.example. A", "tcp big.example. A"}; !slices.Equal(got, want) {
		t.Errorf("upstream saw %q, want %q", got, want)
	}

	resp = ask(t, "udp", s.Addr(), query("big.example.", dns.TypeA))
	if !resp.Truncated || len(resp.Answer) >= 60 {
		t.Errorf("UDP without EDNS: TC %v and %d answers, want TC and fewer than 60", resp.Truncated, len(resp.Answer))
	}
	resp = ask(t, "tcp", s.Addr(), query("big.example.", dns.TypeA))
	if resp.Truncated || len(resp.Answer) != 60 {
		t.Errorf("TCP: TC %v and %d answers, want the whole 60", resp.Truncated, len(resp.Answer))
	}
}

// Our own answers too large for the asker's UDP size come truncated, so it asks again over TCP.
func TestServerTruncatesLargeAnswersOverUDP(t *testing.T) {
	r := Records{Services: []Service{{ID: "svc-db", Name: "db", EndpointMode: EndpointDNSRR, Networks: []ServiceNetwork{{Network: netFront}}}}}
	for i := range 100 {
		r.Tasks = append(r.Tasks, Task{ID: fmt.Sprintf("d%d", i), ServiceID: "svc-db", Slot: i + 1, Running: true,
			Addresses: []Attachment{on(netFront, fmt.Sprintf("10.0.1.%d", i+2))}})
	}
	table, err := NewTable(r)
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, Config{}, table)
	resp := ask(t, "udp", s.Addr(), query("db.", dns.TypeA))
	if !resp.Truncated || len(resp.Answer) == 0 || len(resp.Answer) >= 100 {
		t.Errorf("UDP without EDNS: TC %v and %d answers, want TC and some but not all of 100", resp.Truncated, len(resp.Answer))
	}
	resp = ask(t, "udp", s.Addr(), query("db.", dns.TypeA).SetEdns0(4096, false))
	if resp.Truncated || len(resp.Answer) != 100 || resp.IsEdns0() == nil {
		t.Errorf("UDP with a 4096-byte buffer: TC %v, %d answers, EDNS %v; want all 100 with EDNS", resp.Truncated, len(resp.Answer), resp.IsEdns0() != nil)
	}
	resp = ask(t, "tcp", s.Addr(), query("db.", dns.TypeA))
	if resp.Truncated || len(resp.Answer) != 100 {
		t.Errorf("TCP: TC %v and %d answers, want all 100", resp.Truncated, len(resp.Answer))
	}
}

func TestServerRefusesWhatIsNotOneQuery(t *testing.T) {
	s := startServer(t, Config{}, fixtureTable(t))
	notify := new(dns.Msg).SetNotify("web.")
	if resp := ask(t, "udp", s.Addr(), notify); resp.Rcode != dns.RcodeNotImplemented {
		t.Errorf("NOTIFY: %s, want NOTIMP", dns.RcodeToString[resp.Rcode])
	}
	two := query("web.", dns.TypeA)
	two.Question = append(two.Question, question("db.", dns.TypeA))
	if resp := ask(t, "udp", s.Addr(), two); resp.Rcode != dns.RcodeFormatError {
		t.Errorf("two questions: %s, want FORMERR", dns.RcodeToString[resp.Rcode])
	}
}

// Run must end promptly even while a query waits on an upstream that will never answer, and
// leave no goroutine behind (TestMain checks the latter).
func TestServerShutdownAbandonsForwards(t *testing.T) {
	blackHole, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer blackHole.Close()
	s, err := NewServer(Config{
		Addr:           "127.0.0.1:0",
		AskerNetworks:  func(netip.Addr) []string { return askerFront },
		Upstreams:      []netip.AddrPort{blackHole.LocalAddr().(*net.UDPAddr).AddrPort()},
		ForwardTimeout: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	client, err := net.Dial("udp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	packed, err := query("example.com.", dns.TypeA).Pack()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write(packed); err != nil {
		t.Fatal(err)
	}
	// Once the black hole has the forwarded query, a handler is parked on it.
	buf := make([]byte, dns.MaxMsgSize)
	if _, _, err := blackHole.ReadFrom(buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after its context ended, with a forward in flight")
	}
	// The port is free again: the sockets were closed.
	pc, ln, err := listen(s.Addr().String())
	if err != nil {
		t.Fatalf("listening again on %s after Run: %v", s.Addr(), err)
	}
	pc.Close()
	ln.Close()
}

func TestServerRunsOnce(t *testing.T) {
	s := startServer(t, Config{}, fixtureTable(t))
	ask(t, "udp", s.Addr(), query("web.", dns.TypeA)) // answered, so the first Run is serving
	if err := s.Run(context.Background()); err == nil {
		t.Error("a second Run was accepted")
	}
}

func TestNewServerRefusesBadConfig(t *testing.T) {
	anyAsker := func(netip.Addr) []string { return nil }
	pc, ln, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	self := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	for _, tt := range []struct {
		name string
		cfg  Config
	}{
		{"no asker lookup", Config{Addr: "127.0.0.1:0"}},
		{"bad address", Config{Addr: "127.0.0.1", AskerNetworks: anyAsker}},
		{"negative timeout", Config{Addr: "127.0.0.1:0", AskerNetworks: anyAsker, ForwardTimeout: -time.Second}},
		{"negative forward limit", Config{Addr: "127.0.0.1:0", AskerNetworks: anyAsker, MaxForwards: -1}},
		{"upstream without port", Config{Addr: "127.0.0.1:0", AskerNetworks: anyAsker, Upstreams: []netip.AddrPort{netip.AddrPortFrom(ip("127.0.0.1"), 0)}}},
		{"only a PacketConn", Config{AskerNetworks: anyAsker, PacketConn: pc}},
		{"upstream is itself", Config{AskerNetworks: anyAsker, PacketConn: pc, Listener: ln, Upstreams: []netip.AddrPort{self}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewServer(tt.cfg)
			if err == nil {
				s.Close()
				t.Fatalf("NewServer accepted %+v", tt.cfg)
			}
			t.Log(err)
		})
	}
}

// Sockets made by the caller (inside a task's namespace, later) are served as they are.
func TestServerServesHandedOverSockets(t *testing.T) {
	pc, ln, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(Config{AskerNetworks: func(netip.Addr) []string { return askerFront }, PacketConn: pc, Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	s.Update(fixtureTable(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	for _, network := range transports {
		resp := ask(t, network, s.Addr(), query("web.", dns.TypeA))
		if got, want := briefAll(resp.Answer), []string{"A 10.0.1.2 ttl=2"}; !slices.Equal(got, want) {
			t.Errorf("web over %s = %q, want %q", network, got, want)
		}
	}
}

func TestServerCloseWithoutRun(t *testing.T) {
	s, err := NewServer(Config{Addr: "127.0.0.1:0", AskerNetworks: func(netip.Addr) []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	pc, ln, err := listen(addr.String())
	if err != nil {
		t.Fatalf("listening again on %s after Close: %v", addr, err)
	}
	pc.Close()
	ln.Close()
}

// The order of multi-address answers is shuffled, but the same seed gives the same orders.
func TestShuffleIsSeeded(t *testing.T) {
	orders := func(seed uint64) [][]string {
		s, err := NewServer(Config{Addr: "127.0.0.1:0", AskerNetworks: func(netip.Addr) []string { return nil }, ShuffleSeed: seed})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var out [][]string
		for range 5 {
			rrs := aRecords("tasks.web.", func() []resolvedAddr {
				var addrs []resolvedAddr
				for _, a := range manyAddrs(10) {
					addrs = append(addrs, resolvedAddr{ip: ip(a)})
				}
				return addrs
			}())
			out = append(out, briefAll(s.shuffle(rrs)))
		}
		return out
	}
	first, again := orders(7), orders(7)
	if !slices.EqualFunc(first, again, slices.Equal) {
		t.Errorf("seed 7 gave different orders:\n%q\n%q", first, again)
	}
	sorted := slices.Clone(first[0])
	slices.Sort(sorted)
	shuffled := false
	for _, o := range first {
		got := slices.Clone(o)
		slices.Sort(got)
		if !slices.Equal(got, sorted) {
			t.Fatalf("shuffle lost or added records: %q", o)
		}
		if !slices.Equal(o, first[0]) {
			shuffled = true
		}
	}
	if !shuffled {
		t.Errorf("five shuffles of ten records all came out the same: %q", first[0])
	}
}
