package dns

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParseResolvConf(t *testing.T) {
	conf, err := ParseResolvConf(strings.NewReader(`# written by the node
nameserver 127.0.0.53
nameserver 2001:db8::53
search corp.example lab.example
options ndots:2 timeout:1
`))
	if err != nil {
		t.Fatal(err)
	}
	wantServers := []netip.AddrPort{
		netip.MustParseAddrPort("127.0.0.53:53"),
		netip.MustParseAddrPort("[2001:db8::53]:53"),
	}
	if !slices.Equal(conf.Nameservers, wantServers) {
		t.Errorf("nameservers %v, want %v", conf.Nameservers, wantServers)
	}
	if want := []string{"corp.example", "lab.example"}; !slices.Equal(conf.Search, want) {
		t.Errorf("search %v, want %v", conf.Search, want)
	}

	empty, err := ParseResolvConf(strings.NewReader("options edns0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(empty.Nameservers) != 0 {
		t.Errorf("nameservers %v from a resolv.conf with none, want none (forward nothing)", empty.Nameservers)
	}

	if _, err := ParseResolvConf(strings.NewReader("nameserver dns.example\n")); err == nil {
		t.Error("a nameserver given by name was accepted")
	}
}
