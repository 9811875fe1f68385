package dns

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestAnswerGolden asks the fixture every name it knows, and some it does not, from every kind of
// asker, and compares the whole answer set with testdata/answers.golden. Rewrite it with
// `go test ./network/dns/ -run Golden -update` and read the diff.
func TestAnswerGolden(t *testing.T) {
	table := fixtureTable(t)
	askers := []struct {
		label    string
		networks []string
	}{
		{"frontnet", askerFront},
		{"backnet", askerBack},
		{"frontnet+backnet", askerBoth},
		{"othernet", askerOther},
		{"none", nil},
	}
	names := []string{
		"web", "tasks.web", "www", "tasks.www", "db", "tasks.db", "lonely", "tasks.lonely",
		"secret", "tasks.secret", "agent", "tasks.agent", "old", "tasks.old",
		"web.1.t1", "t1host", "web.2.t2", "web.3.t3", "web.4.t4", "web.5.t5", "web.6.t6",
		"db.1.d1", "db.2.d2", "db.3.d3", "secret.1.s1", "old.1.o1", "agent.node1.g1", "g1host",
		"debug", "debughost", "dbg",
		"web.frontnet", "web.backnet", "web.othernet", "tasks.db.backnet", "secret.othernet",
		"web.corp.example", "tasks.web.corp.example", "db.backnet.corp.example",
		"example.com", "tasks", "frontnet",
	}
	reverse := []string{"10.0.1.2", "10.0.2.2", "10.0.3.2", "10.0.1.3", "10.0.2.3", "10.0.1.6", "10.0.2.10", "10.0.3.3", "10.0.1.30", "10.0.1.99"}

	var b strings.Builder
	ask := func(label string, networks []string, q dns.Question) {
		rrs, rcode := Answer(table, networks, q)
		fmt.Fprintf(&b, "asker=%s %s %s -> %s\n", label, dns.TypeToString[q.Qtype], q.Name, dns.RcodeToString[rcode])
		for _, rr := range rrs {
			fmt.Fprintf(&b, "    %s\n", strings.ReplaceAll(rr.String(), "\t", " "))
		}
	}
	for _, a := range askers {
		for _, name := range names {
			ask(a.label, a.networks, question(name+".", dns.TypeA))
			ask(a.label, a.networks, question(name+".", dns.TypeAAAA))
		}
		for _, addr := range reverse {
			arpa, err := dns.ReverseAddr(addr)
			if err != nil {
				t.Fatal(err)
			}
			ask(a.label, a.networks, question(arpa, dns.TypePTR))
		}
	}
	compareGolden(t, filepath.Join("testdata", "answers.golden"), b.String())
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got == string(want) {
		return
	}
	gotLines, wantLines := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gotLines) || i < len(wantLines); i++ {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			t.Fatalf("%s differs at line %d:\n got %q\nwant %q\n(run with -update to accept the new answers, then read the diff)", path, i+1, g, w)
		}
	}
}
