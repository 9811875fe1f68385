package cli

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"
)

func TestNodeListGolden(t *testing.T) {
	tests := []struct {
		golden string
		args   []string
	}{
		{"node-ls", []string{"node", "ls"}},
		{"node-ls-quiet", []string{"node", "ls", "-q"}},
		{"node-ls-format-template", []string{"node", "ls", "--format", "{{.Hostname}}: {{.ManagerStatus}} self={{.Self}}"}},
		{"node-ls-format-table", []string{"node", "ls", "--format", `table {{.ID}}\t{{.Hostname}}\t{{.TLSStatus}}\t{{.Status | lower}}`}},
		{"node-ls-format-json", []string{"node", "ls", "--format", "json"}},
		{"node-ls-format-raw", []string{"node", "ls", "--format", "raw"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			d := newClusterDaemon(t)
			assertGolden(t, tt.golden, mustRun(t, d, tt.args...))
		})
	}
}

// With docker's spacing, a cluster of 25-character IDs and short hostnames lists under
// exactly docker's header.
func TestNodeListHeaderIsDockers(t *testing.T) {
	d := newClusterDaemon(t)
	d.nodes = d.nodes[:2]
	d.nodes[0].Description.Hostname = "db"
	d.nodes[1].Description.Hostname = "web"
	out := mustRun(t, d, "node", "ls")
	header, _, _ := strings.Cut(out, "\n")
	const want = "ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION"
	if header != want {
		t.Errorf("header\n got %q\nwant %q", header, want)
	}
}

func TestNodeListQuietSkipsInfo(t *testing.T) {
	d := newClusterDaemon(t)
	mustRun(t, d, "node", "ls", "-q")
	for _, r := range d.all() {
		if r.Path == "/info" {
			t.Errorf("node ls -q asked for /info; it needs only the IDs")
		}
	}
}

func TestNodeListEmptyPrintsHeaderOnly(t *testing.T) {
	d := newClusterDaemon(t)
	d.nodes = nil
	out := mustRun(t, d, "node", "ls")
	if out != "ID        HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION\n" {
		t.Errorf("output %q, want the header alone", out)
	}
}

func TestNodeListSendsFilters(t *testing.T) {
	d := newClusterDaemon(t)
	mustRun(t, d, "node", "ls", "-f", "role=manager", "--filter", "Name = manager-1", "-f", "role=worker")
	var got map[string]map[string]bool
	var list fakeRequest
	for _, r := range d.all() {
		if r.Path == "/nodes" {
			list = r
		}
	}
	if err := json.Unmarshal([]byte(list.Query.Get("filters")), &got); err != nil {
		t.Fatalf("filters query %q: %v", list.Query.Get("filters"), err)
	}
	want := map[string]map[string]bool{
		"role": {"manager": true, "worker": true},
		"name": {"manager-1": true},
	}
	if !equalJSON(t, got, want) {
		t.Errorf("filters = %v, want %v", got, want)
	}
}

func TestNodeInspectPrettyGolden(t *testing.T) {
	d := newClusterDaemon(t)
	assertGolden(t, "node-inspect-pretty", mustRun(t, d, "node", "inspect", "--pretty", "self", "manager-10", "worker-2"))
}

func TestNodeInspectJSON(t *testing.T) {
	d := newClusterDaemon(t)
	out := mustRun(t, d, "node", "inspect", "self", "worker-1")
	if !strings.HasPrefix(out, "[\n    {\n        \"ID\": \""+idManager1+"\",\n") || !strings.HasSuffix(out, "}\n]\n") {
		t.Errorf("output is not a JSON array indented by four spaces, starting with self:\n%s", out)
	}
	var nodes []swarm.Node
	if err := json.Unmarshal([]byte(out), &nodes); err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].ID != idManager1 || nodes[1].ID != idWorker1 {
		t.Errorf("inspected %d nodes, want manager-1 (self) then worker-1", len(nodes))
	}

	compact := mustRun(t, d, "node", "inspect", "-f", "json", "worker-1")
	if strings.Count(compact, "\n") != 1 || !strings.HasPrefix(compact, `[{"ID":"`+idWorker1) {
		t.Errorf("--format json: want one line, got %q", compact)
	}
	tmpl := mustRun(t, d, "node", "inspect", "--format", "{{.Description.Hostname}} {{.Spec.Role}}", "self", idWorker2)
	if tmpl != "manager-1 manager\nworker-2 worker\n" {
		t.Errorf("--format template output %q", tmpl)
	}
}

func TestNodeInspectUnknownNode(t *testing.T) {
	d := newClusterDaemon(t)
	out, _, err := runShoal(t, d, "node", "inspect", "worker-1", "nope")
	var st statusError
	if !errors.As(err, &st) || st.code != 1 || !strings.Contains(st.msg, "No such node: nope") {
		t.Fatalf("err = %v, want exit status 1 saying No such node: nope", err)
	}
	// The nodes that exist are still shown.
	if !strings.Contains(out, idWorker1) {
		t.Errorf("worker-1 missing from output %q", out)
	}

	out, _, err = runShoal(t, d, "node", "inspect", "--pretty", "nope")
	if !errors.As(err, &st) || st.code != 1 || !strings.Contains(st.msg, "No such node: nope") || out != "" {
		t.Errorf("--pretty: out %q err %v, want no output and exit status 1", out, err)
	}
}

func TestNodeInspectPrettyRefusesExtraFormat(t *testing.T) {
	d := newClusterDaemon(t)
	_, _, err := runShoal(t, d, "node", "inspect", "--format", "pretty {{.ID}}", "self")
	if err == nil || !strings.Contains(err.Error(), "cannot supply extra formatting options to the pretty template") {
		t.Errorf("err = %v", err)
	}
}

func TestNodeUpdate(t *testing.T) {
	d := newClusterDaemon(t)
	out := mustRun(t, d, "node", "update", "--availability", "Drain", "--label-add", "zone=b", "--label-add", "gpu",
		"--label-rm", "old", "--role", "manager", "worker-1")
	if out != "worker-1\n" {
		t.Errorf("output %q, want the node argument", out)
	}
	req := d.lastWrite("POST /nodes/" + idWorker1 + "/update")
	if v := req.Query.Get("version"); v != "20" {
		t.Errorf("version = %q, want the one read (20)", v)
	}
	var spec swarm.NodeSpec
	if err := json.Unmarshal(req.Body, &spec); err != nil {
		t.Fatal(err)
	}
	want := swarm.NodeSpec{
		Annotations:  swarm.Annotations{Labels: map[string]string{"zone": "b", "gpu": ""}},
		Role:         swarm.NodeRoleManager,
		Availability: swarm.NodeAvailabilityDrain,
	}
	if !equalJSON(t, spec, want) {
		t.Errorf("spec sent = %+v, want %+v", spec, want)
	}
}

func TestNodeUpdateMissingLabel(t *testing.T) {
	d := newClusterDaemon(t)
	_, _, err := runShoal(t, d, "node", "update", "--label-rm", "nope", "worker-1")
	if err == nil || err.Error() != "key nope doesn't exist in node's labels" {
		t.Errorf("err = %v", err)
	}
	if w := d.writes(); len(w) != 0 {
		t.Errorf("writes = %v, want none", w)
	}
}

func TestNodePromoteDemote(t *testing.T) {
	d := newClusterDaemon(t)
	out := mustRun(t, d, "node", "promote", "worker-1", "manager-2")
	want := "Node worker-1 promoted to a manager in the swarm.\nNode " + idManager2 + " is already a manager.\n"
	if out != want {
		t.Errorf("promote output\n got %q\nwant %q", out, want)
	}
	out = mustRun(t, d, "node", "demote", "manager-2", "worker-2")
	want = "Manager manager-2 demoted in the swarm.\nNode " + idWorker2 + " is already a worker.\n"
	if out != want {
		t.Errorf("demote output\n got %q\nwant %q", out, want)
	}
	var roles []string
	for _, w := range d.writes() {
		var spec swarm.NodeSpec
		if err := json.Unmarshal(w.Body, &spec); err != nil {
			t.Fatal(err)
		}
		roles = append(roles, w.Path+" "+string(spec.Role))
	}
	wantRoles := []string{"/nodes/" + idWorker1 + "/update manager", "/nodes/" + idManager2 + "/update worker"}
	if strings.Join(roles, ",") != strings.Join(wantRoles, ",") {
		t.Errorf("updates = %v, want %v", roles, wantRoles)
	}
}

func TestNodeRemove(t *testing.T) {
	d := newClusterDaemon(t)
	out, _, err := runShoal(t, d, "node", "rm", "--force", "nope", "worker-10", "ghost")
	if out != "worker-10\n" {
		t.Errorf("output %q, want the node removed", out)
	}
	if err == nil || !strings.Contains(err.Error(), "No such node: nope") || !strings.Contains(err.Error(), "No such node: ghost") {
		t.Errorf("err = %v, want both missing nodes reported", err)
	}
	if r := d.lastWrite("DELETE /nodes/worker-10"); r.Query.Get("force") != "1" {
		t.Errorf("force = %q, want 1", r.Query.Get("force"))
	}
}

// equalJSON compares two values by their JSON encodings.
func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}
