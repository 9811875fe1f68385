package vip

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shoal/shoal/network/netns"
)

func TestRules(t *testing.T) {
	a := netip.MustParseAddr
	got := Rules([]Service{
		{VIP: a("10.0.1.2"), Backends: []netip.Addr{a("10.0.1.4"), a("10.0.1.3")}},
		{VIP: a("10.0.1.9")},
	})
	want := `add table ip shoal_vip
delete table ip shoal_vip
table ip shoal_vip {
	chain output {
		type nat hook output priority -100; policy accept;
		ip daddr 10.0.1.2 dnat to numgen random mod 2 map { 0 : 10.0.1.3, 1 : 10.0.1.4 }
	}
	chain refuse {
		type filter hook output priority 0; policy accept;
		ip daddr 10.0.1.9 meta l4proto tcp reject with tcp reset
		ip daddr 10.0.1.9 reject
	}
}
`
	if got != want {
		t.Fatalf("rules:\n%s\nwant:\n%s", got, want)
	}
}

// TestVIPInANamespace spreads connections to a VIP over two listeners inside a namespace
// the test makes, then takes one out of the set.
func TestVIPInANamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft (Debian's nftables)")
	}
	name := fmt.Sprintf("vip-test-%d", os.Getpid())
	path, err := netns.CreateWithLoopback(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.Delete(name) })
	// Two "tasks" are two loopback addresses in the namespace; the VIP is a third.
	b1, b2, vipAddr := "127.0.10.1", "127.0.10.2", netip.MustParseAddr("127.0.10.100")
	var lns []net.Listener
	err = netns.Do(path, func() error {
		for _, a := range []string{b1, b2} {
			ln, err := net.Listen("tcp4", a+":8080")
			if err != nil {
				return err
			}
			lns = append(lns, ln)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan string, 100)
	for _, ln := range lns {
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				served <- strings.Split(c.LocalAddr().String(), ":")[0]
				c.Close()
			}
		}()
	}
	ctx := context.Background()
	svc := Service{VIP: vipAddr, Backends: []netip.Addr{netip.MustParseAddr(b1), netip.MustParseAddr(b2)}}
	// Loopback traffic needs route_localnet for DNAT to 127/8 from the output hook.
	if out, err := exec.Command("nsenter", "--net="+path, "--", "sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1").CombinedOutput(); err != nil {
		t.Skipf("cannot enable route_localnet in the test namespace: %v %s", err, out)
	}
	if err := Apply(ctx, path, []Service{svc}); err != nil {
		t.Fatal(err)
	}
	dial := func() error {
		return netns.Do(path, func() error {
			c, err := net.DialTimeout("tcp4", vipAddr.String()+":8080", time.Second)
			if err != nil {
				return err
			}
			return c.Close()
		})
	}
	seen := map[string]int{}
	for i := 0; i < 40; i++ {
		if err := dial(); err != nil {
			t.Fatal(err)
		}
		seen[<-served]++
	}
	if seen[b1] == 0 || seen[b2] == 0 {
		t.Fatalf("connections per backend = %v, want both used", seen)
	}
	// Take b2 out: every new connection goes to b1.
	svc.Backends = svc.Backends[:1]
	if err := Apply(ctx, path, []Service{svc}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if err := dial(); err != nil {
			t.Fatal(err)
		}
		if got := <-served; got != b1 {
			t.Fatalf("a connection reached %s after it left the set", got)
		}
	}
	// No backend: refused at once.
	if err := Apply(ctx, path, []Service{{VIP: vipAddr}}); err != nil {
		t.Fatal(err)
	}
	if err := dial(); err == nil {
		t.Fatal("a VIP without tasks accepted a connection")
	}
}
