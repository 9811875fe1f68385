package allocator

import (
	"errors"
	"fmt"
	"testing"
)

// portStep is one call in a scripted port test.
type portStep struct {
	op    string // reserve, auto, release, releaseAll
	proto string
	port  uint32 // reserve and release: the port; auto: the port wanted
	owner string
	kind  error
	err   string
}

func runPorts(t *testing.T, a *Allocator, steps []portStep) {
	t.Helper()
	for i, s := range steps {
		var err error
		switch s.op {
		case "reserve":
			err = a.ReservePort(s.proto, s.port, s.owner)
		case "auto":
			var got uint32
			got, err = a.AutoPort(s.proto, s.owner)
			if err == nil && got != s.port {
				t.Fatalf("step %d: AutoPort(%s, %s) = %d, want %d", i, s.proto, s.owner, got, s.port)
			}
		case "release":
			a.ReleasePort(s.proto, s.port, s.owner)
		case "releaseAll":
			a.ReleasePorts(s.owner)
		}
		if s.err == "" && err != nil {
			t.Fatalf("step %d (%s %d/%s %s): %v", i, s.op, s.port, s.proto, s.owner, err)
		}
		if s.err != "" && (err == nil || err.Error() != s.err || !errors.Is(err, s.kind)) {
			t.Fatalf("step %d (%s %d/%s %s): error %v,\n want %q (%v)", i, s.op, s.port, s.proto, s.owner, err, s.err, s.kind)
		}
		checkConsistent(t, a)
	}
}

func TestReservePort(t *testing.T) {
	a := newAllocator(t, Config{})
	runPorts(t, a, []portStep{
		{op: "reserve", proto: "tcp", port: 8080, owner: "web"},
		{op: "reserve", proto: "tcp", port: 8080, owner: "web"}, // idempotent
		{op: "reserve", proto: "udp", port: 8080, owner: "dns"}, // per protocol
		{op: "reserve", proto: "sctp", port: 8080, owner: "sig"},
		{op: "reserve", proto: "TCP", port: 443, owner: "web"},
		{op: "reserve", proto: "", port: 8080, owner: "api", kind: ErrConflict,
			err: "port 8080/tcp is already published by service web"},
		{op: "reserve", proto: "tcp", port: 443, owner: "api", kind: ErrConflict,
			err: "port 443/tcp is already published by service web"},
		{op: "reserve", proto: "udp", port: 8080, owner: "web", kind: ErrConflict,
			err: "port 8080/udp is already published by service dns"},
		{op: "reserve", proto: "icmp", port: 1, owner: "web", kind: ErrInvalid,
			err: `invalid protocol "icmp": must be tcp, udp or sctp`},
		{op: "reserve", proto: "tcp", port: 0, owner: "web", kind: ErrInvalid,
			err: "invalid published port 0: must be from 1 to 65535"},
		{op: "reserve", proto: "tcp", port: 65536, owner: "web", kind: ErrInvalid,
			err: "invalid published port 65536: must be from 1 to 65535"},
		{op: "reserve", proto: "tcp", port: 9000, owner: "", kind: ErrInvalid,
			err: "published port 9000/tcp needs an owner"},
		{op: "reserve", proto: "tcp", port: 65535, owner: "api"},
		{op: "reserve", proto: "tcp", port: 30000, owner: "api"}, // the automatic range is open to explicit ports
	})
	if got := fmt.Sprint(a.Ports("web")); got != "[443/tcp 8080/tcp]" {
		t.Errorf("Ports(web) = %s", got)
	}
	if got := a.Ports("nobody"); len(got) != 0 {
		t.Errorf("Ports(nobody) = %v", got)
	}
	if owner, ok := a.PortOwner("UDP", 8080); !ok || owner != "dns" {
		t.Errorf("PortOwner(udp, 8080) = %q, %v", owner, ok)
	}
	if _, ok := a.PortOwner("tcp", 1); ok {
		t.Errorf("PortOwner of a free port answers")
	}
	if _, ok := a.PortOwner("icmp", 8080); ok {
		t.Errorf("PortOwner of a bad protocol answers")
	}
}

func TestAutoPort(t *testing.T) {
	a := newAllocator(t, Config{})
	runPorts(t, a, []portStep{
		{op: "reserve", proto: "tcp", port: 30001, owner: "pinned"},
		{op: "auto", proto: "tcp", port: 30000, owner: "web"},
		{op: "auto", proto: "tcp", port: 30002, owner: "web"}, // skips 30001; each call is another port
		{op: "auto", proto: "udp", port: 30000, owner: "web"}, // protocols are apart
		{op: "release", proto: "tcp", port: 30000, owner: "web"},
		{op: "auto", proto: "tcp", port: 30003, owner: "api"}, // 30000 waits for its turn
		{op: "auto", proto: "icmp", owner: "api", kind: ErrInvalid, err: `invalid protocol "icmp": must be tcp, udp or sctp`},
		{op: "auto", proto: "tcp", owner: "", kind: ErrInvalid, err: "an automatic tcp port needs an owner"},
	})
	if got := a.NextAutoPort("tcp"); got != 30004 {
		t.Errorf("NextAutoPort(tcp) = %d, want 30004", got)
	}
	if got := a.NextAutoPort("sctp"); got != AutoPortFirst {
		t.Errorf("NextAutoPort(sctp) = %d, want %d", got, AutoPortFirst)
	}
	if got := a.NextAutoPort("icmp"); got != 0 {
		t.Errorf("NextAutoPort(icmp) = %d, want 0", got)
	}
}

func TestAutoPortWrapsAndExhausts(t *testing.T) {
	a := newAllocator(t, Config{})
	for port := uint32(AutoPortFirst); port <= AutoPortLast; port++ {
		got, err := a.AutoPort("tcp", fmt.Sprintf("svc%d", port))
		if err != nil || got != port {
			t.Fatalf("AutoPort = %d, %v; want %d", got, err, port)
		}
	}
	if got := a.NextAutoPort("tcp"); got != AutoPortFirst {
		t.Fatalf("cursor after the last port %d, want it wrapped to %d", got, AutoPortFirst)
	}
	runPorts(t, a, []portStep{
		{op: "auto", proto: "tcp", owner: "late", kind: ErrExhausted,
			err: "no tcp port is free in the automatic range 30000-32767; publish one explicitly or release some"},
		{op: "releaseAll", owner: "svc31000"},
		{op: "auto", proto: "tcp", port: 31000, owner: "late"},
		{op: "auto", proto: "udp", port: 30000, owner: "late"},
	})
}

func TestReleasePorts(t *testing.T) {
	a := newAllocator(t, Config{})
	runPorts(t, a, []portStep{
		{op: "reserve", proto: "tcp", port: 80, owner: "web"},
		{op: "reserve", proto: "udp", port: 53, owner: "web"},
		{op: "reserve", proto: "tcp", port: 81, owner: "api"},
		{op: "release", proto: "tcp", port: 81, owner: "web"},  // not web's: left alone
		{op: "release", proto: "icmp", port: 80, owner: "web"}, // bad protocol: nothing to release
		{op: "release", proto: "tcp", port: 9, owner: "web"},   // not published at all
		{op: "reserve", proto: "tcp", port: 81, owner: "web", kind: ErrConflict,
			err: "port 81/tcp is already published by service api"},
		{op: "release", proto: "TCP", port: 81, owner: "api"},
		{op: "reserve", proto: "tcp", port: 81, owner: "web"},
		{op: "releaseAll", owner: "web"},
		{op: "releaseAll", owner: "web"}, // again: no-op
		{op: "reserve", proto: "tcp", port: 80, owner: "api"},
		{op: "reserve", proto: "udp", port: 53, owner: "api"},
		{op: "reserve", proto: "tcp", port: 81, owner: "api"},
	})
	if got := len(a.Ports("web")); got != 0 {
		t.Errorf("web still has %d ports", got)
	}
}

func TestPortString(t *testing.T) {
	if got := (Port{Protocol: "udp", Port: 53}).String(); got != "53/udp" {
		t.Errorf("Port.String() = %q", got)
	}
}
