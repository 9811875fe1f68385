package dns

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/miekg/dns"
)

func TestNamesListsWhatAnAskerResolves(t *testing.T) {
	table := fixtureTable(t)
	front := table.Names(askerFront)
	for name, want := range map[string][]string{
		"web":       {"10.0.1.2"},
		"tasks.web": {"10.0.1.3", "10.0.1.4"},
		"www":       {"10.0.1.2"},
		"lonely":    {"10.0.1.9"},
		"debug":     {"10.0.1.30"},
	} {
		got, ok := front[name]
		if !ok {
			t.Errorf("%s missing from %v", name, front)
			continue
		}
		var gotS []string
		for _, a := range got {
			gotS = append(gotS, a.String())
		}
		if !slices.Equal(gotS, want) {
			t.Errorf("%s = %v, want %v", name, gotS, want)
		}
	}
	for _, name := range []string{"secret", "tasks.secret", "db", "tasks.db"} {
		if _, ok := front[name]; ok {
			t.Errorf("%s resolves for an asker not on its network", name)
		}
	}
	if got := table.Names(askerBack)["tasks.db"]; len(got) != 2 {
		t.Errorf("tasks.db on backnet = %v, want the two serving tasks", got)
	}
	if (*Table)(nil).Names(askerFront) != nil {
		t.Error("a nil table lists names")
	}
}

// Every listed name answers the same addresses through Answer, for every asker.
func TestNamesAgreesWithAnswer(t *testing.T) {
	table := fixtureTable(t)
	for _, asker := range [][]string{askerFront, askerBack, askerBoth, askerOther, nil} {
		for name, want := range table.Names(asker) {
			rrs, rcode := Answer(table, asker, dns.Question{Name: name + ".", Qtype: dns.TypeA, Qclass: dns.ClassINET})
			if rcode != dns.RcodeSuccess {
				t.Errorf("asker %v: %s listed but Answer says rcode %d", asker, name, rcode)
				continue
			}
			var got []netip.Addr
			for _, rr := range rrs {
				got = append(got, netip.MustParseAddr(rr.(*dns.A).A.String()))
			}
			slices.SortFunc(got, netip.Addr.Compare)
			if !slices.Equal(slices.Compact(got), want) {
				t.Errorf("asker %v: %s listed as %v, answered %v", asker, name, want, got)
			}
		}
	}
}
