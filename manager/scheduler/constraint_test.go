package scheduler

import (
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"
)

func TestParseConstraint(t *testing.T) {
	cases := []struct {
		in      string
		want    string // String() of the parsed constraint
		wantErr string // substring of the error
	}{
		{in: "node.id==abc", want: "node.id==abc"},
		{in: " node.hostname != web-1 ", want: "node.hostname!=web-1"},
		{in: "NODE.ROLE==Manager", want: "node.role==Manager"},
		{in: "node.role==worker", want: "node.role==worker"},
		{in: "node.ip==10.0.0.7", want: "node.ip==10.0.0.7"},
		{in: "node.ip!=10.0.0.0/24", want: "node.ip!=10.0.0.0/24"},
		{in: "node.ip==2001:db8::1", want: "node.ip==2001:db8::1"},
		{in: "node.labels.Zone==eu-1", want: "node.labels.Zone==eu-1"},
		{in: "Node.Labels.zone==eu-1", want: "node.labels.zone==eu-1"},
		{in: "engine.labels.disk==ssd", want: "engine.labels.disk==ssd"},
		{in: "node.platform.os==linux", want: "node.platform.os==linux"},
		{in: "node.platform.arch!=arm64", want: "node.platform.arch!=arm64"},

		{in: "node.role", wantErr: `invalid constraint "node.role": must be KEY==VALUE or KEY!=VALUE; keys: node.id, node.hostname`},
		{in: "node.role=manager", wantErr: "must be KEY==VALUE or KEY!=VALUE"},
		{in: "==manager", wantErr: "must be KEY==VALUE or KEY!=VALUE"},
		{in: "node.role==", wantErr: `missing value after "=="`},
		{in: "node.role==a==b", wantErr: "may not contain"},
		{in: "node.name==x", wantErr: `unknown key "node.name"; keys: node.id`},
		{in: "node.labels.==x", wantErr: `unknown key "node.labels."`},
		{in: "node.ip==10.0.0.300", wantErr: "node.ip takes an IP address or a CIDR"},
		{in: "node.role==boss", wantErr: "node.role is manager or worker"},
	}
	for _, tc := range cases {
		c, err := ParseConstraint(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseConstraint(%q) error = %v, want it to contain %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseConstraint(%q): %v", tc.in, err)
			continue
		}
		if c.String() != tc.want {
			t.Errorf("ParseConstraint(%q) = %q, want %q", tc.in, c.String(), tc.want)
		}
	}
}

func TestParseConstraintsStopsAtFirstError(t *testing.T) {
	if _, err := ParseConstraints([]string{"node.role==manager", "bogus"}); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Fatalf("err = %v, want one naming \"bogus\"", err)
	}
	cs, err := ParseConstraints(nil)
	if err != nil || len(cs) != 0 {
		t.Fatalf("ParseConstraints(nil) = %v, %v", cs, err)
	}
}

func TestConstraintMatch(t *testing.T) {
	n := &swarm.Node{
		ID: "node-1",
		Spec: swarm.NodeSpec{
			Annotations: swarm.Annotations{Labels: map[string]string{"zone": "eu-1", "Tier": "Front"}},
			Role:        swarm.NodeRoleWorker,
		},
		Description: swarm.NodeDescription{
			Hostname: "worker-1",
			Platform: swarm.Platform{OS: "linux", Architecture: "x86_64"},
			Engine:   swarm.EngineDescription{Labels: map[string]string{"disk": "ssd"}},
		},
		Status: swarm.NodeStatus{State: swarm.NodeStateReady, Addr: "10.1.2.3"},
	}
	cases := []struct {
		expr string
		want bool
	}{
		{"node.id==node-1", true},
		{"node.id!=node-1", false},
		{"node.hostname==WORKER-1", true}, // values compare case-insensitively, as the reference
		{"node.hostname!=worker-2", true},
		{"node.role==worker", true},
		{"node.role==manager", false},
		{"node.role!=manager", true},
		{"node.ip==10.1.2.3", true},
		{"node.ip==10.1.2.4", false},
		{"node.ip==10.1.0.0/16", true},
		{"node.ip!=10.1.0.0/16", false},
		{"node.ip==192.168.0.0/16", false},
		{"node.ip!=192.168.0.0/16", true},
		{"node.labels.zone==eu-1", true},
		{"node.labels.zone==EU-1", true},
		{"node.labels.zone!=eu-1", false},
		{"node.labels.Zone==eu-1", false}, // label names are case-sensitive: no such label
		{"node.labels.Zone!=eu-1", true},  // a missing label differs from every value
		{"node.labels.Tier==front", true},
		{"node.labels.missing==x", false},
		{"engine.labels.disk==ssd", true},
		{"engine.labels.disk!=ssd", false},
		{"node.platform.os==linux", true},
		{"node.platform.arch==x86_64", true},
		{"node.platform.arch!=x86_64", false},
	}
	for _, tc := range cases {
		c, err := ParseConstraint(tc.expr)
		if err != nil {
			t.Fatalf("ParseConstraint(%q): %v", tc.expr, err)
		}
		if got := c.Match(n); got != tc.want {
			t.Errorf("%s on node = %v, want %v", tc.expr, got, tc.want)
		}
	}

	noAddr := &swarm.Node{ID: "x"}
	for expr, want := range map[string]bool{"node.ip==10.0.0.1": false, "node.ip!=10.0.0.1": true, "node.hostname!=a": true} {
		c, _ := ParseConstraint(expr)
		if got := c.Match(noAddr); got != want {
			t.Errorf("%s on a node without address or hostname = %v, want %v", expr, got, want)
		}
	}
	withPort := &swarm.Node{Status: swarm.NodeStatus{Addr: "10.9.9.9:2377"}}
	if c, _ := ParseConstraint("node.ip==10.9.9.9"); !c.Match(withPort) {
		t.Errorf("node.ip should match an address given with a port")
	}
}

func TestValidateSpread(t *testing.T) {
	if err := ValidateSpread("node.labels.zone"); err != nil {
		t.Errorf("ValidateSpread(node.labels.zone): %v", err)
	}
	if err := ValidateSpread("zone"); err == nil {
		t.Errorf("ValidateSpread(zone) accepted")
	}
}
