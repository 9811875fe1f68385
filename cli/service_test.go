package cli

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"
)

func TestServiceListGolden(t *testing.T) {
	tests := []struct {
		golden string
		args   []string
	}{
		{"service-ls", []string{"service", "ls"}},
		{"service-ls-quiet", []string{"service", "ls", "-q"}},
		{"service-ls-format-json", []string{"service", "ls", "--format", "json"}},
		{"service-ls-format-table", []string{"service", "ls", "--format", `table {{.Name}}\t{{.Replicas}}`}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			f := newServicesDaemon(t)
			assertGolden(t, tt.golden, mustRun(t, f.fakeDaemon, tt.args...))
		})
	}
}

// The header and the replicas column come from docker's formatter and the daemon's
// status counts, which a quiet listing does not ask for.
func TestServiceListAsksForStatusUnlessQuiet(t *testing.T) {
	f := newServicesDaemon(t)
	f.services = f.services[3:4] // api
	out := mustRun(t, f.fakeDaemon, "service", "ls")
	header, _, _ := strings.Cut(out, "\n")
	if want := "ID             NAME      MODE      REPLICAS   IMAGE            PORTS"; header != want {
		t.Errorf("header\n got %q\nwant %q", header, want)
	}
	mustRun(t, f.fakeDaemon, "service", "ls", "-q")
	var status []string
	for _, r := range f.all() {
		if r.Path == "/services" {
			status = append(status, r.Query.Get("status"))
		}
	}
	if strings.Join(status, ",") != "true," {
		t.Errorf("status query of ls, ls -q = %q, want true then nothing", status)
	}
}

func TestServicePsGolden(t *testing.T) {
	tests := []struct {
		golden string
		args   []string
	}{
		{"service-ps", []string{"service", "ps", "web", "api"}},
		{"service-ps-no-trunc", []string{"service", "ps", "--no-trunc", "web"}},
		{"service-ps-quiet", []string{"service", "ps", "-q", "web"}},
		{"service-ps-no-resolve", []string{"service", "ps", "--no-resolve", "api"}},
		{"service-ps-format", []string{"service", "ps", "--format", "{{.Name}} {{.Node}} {{.CurrentState}}", "web"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			f := newServicesDaemon(t)
			assertGolden(t, tt.golden, mustRun(t, f.fakeDaemon, tt.args...))
		})
	}
}

func TestServicePsFindsServicesLikeDocker(t *testing.T) {
	f := newServicesDaemon(t)
	// By unique ID prefix; an unknown service is reported after the others are listed.
	out, _, err := runShoal(t, f.fakeDaemon, "service", "ps", "-q", "dbsvc", "nope")
	if out != "dbtask1abcdefghijklmnopqr\n" {
		t.Errorf("output %q, want db's task", out)
	}
	if err == nil || err.Error() != "no such service: nope" {
		t.Errorf("err = %v", err)
	}
	_, _, err = runShoal(t, f.fakeDaemon, "service", "ps", "nope", "ghost")
	if err == nil || err.Error() != "no such service: nope\nno such service: ghost" {
		t.Errorf("err = %v", err)
	}
	// Both cache services start with "cache": an ambiguous prefix is refused.
	_, _, err = runShoal(t, f.fakeDaemon, "service", "ps", "cache")
	if err == nil || err.Error() != "multiple services found with provided prefix: cache" {
		t.Errorf("err = %v", err)
	}
}

func TestServicePsSendsFilters(t *testing.T) {
	f := newServicesDaemon(t)
	mustRun(t, f.fakeDaemon, "service", "ps", "-f", "desired-state=running", "-f", "node=self", "web")
	var last fakeRequest
	for _, r := range f.all() {
		if r.Path == "/tasks" {
			last = r
		}
	}
	var got map[string]map[string]bool
	if err := json.Unmarshal([]byte(last.Query.Get("filters")), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]bool{
		"desired-state": {"running": true},
		"node":          {idManager1: true},
		"service":       {idWeb: true},
	}
	if !equalJSON(t, got, want) {
		t.Errorf("filters = %v, want %v", got, want)
	}
}

func TestNodePsGolden(t *testing.T) {
	tests := []struct {
		golden string
		args   []string
	}{
		{"node-ps", []string{"node", "ps"}},
		{"node-ps-worker", []string{"node", "ps", "worker-1"}},
		{"node-ps-quiet", []string{"node", "ps", "-q", "worker-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			f := newServicesDaemon(t)
			assertGolden(t, tt.golden, mustRun(t, f.fakeDaemon, tt.args...))
		})
	}
}

func TestNodePsReportsUnknownNodesAfterTheOthers(t *testing.T) {
	f := newServicesDaemon(t)
	out, _, err := runShoal(t, f.fakeDaemon, "node", "ps", "-q", "nope", "manager-1")
	if out != "apitmanager1\nwebt2current\n" {
		t.Errorf("output %q", out)
	}
	if err == nil || !strings.Contains(err.Error(), "No such node: nope") {
		t.Errorf("err = %v", err)
	}
}

func TestServiceInspectPrettyGolden(t *testing.T) {
	f := newServicesDaemon(t)
	assertGolden(t, "service-inspect-pretty", mustRun(t, f.fakeDaemon, "service", "inspect", "--pretty", "web", "api"))
}

func TestServiceInspectJSON(t *testing.T) {
	f := newServicesDaemon(t)
	out := mustRun(t, f.fakeDaemon, "service", "inspect", "web", "db")
	if !strings.HasPrefix(out, "[\n    {\n        \"ID\": \""+idWeb+"\",\n") {
		t.Errorf("not a JSON array indented by four spaces:\n%s", out)
	}
	var services []swarm.Service
	if err := json.Unmarshal([]byte(out), &services); err != nil {
		t.Fatal(err)
	}
	if len(services) != 2 || services[1].ID != idDB {
		t.Errorf("inspected %d services, want web then db", len(services))
	}
	for _, r := range f.all() {
		if strings.HasPrefix(r.Path, "/services/") && r.Query.Get("insertDefaults") != "1" {
			t.Errorf("%s without insertDefaults: docker shows the daemon's defaults", r)
		}
	}
	if got := mustRun(t, f.fakeDaemon, "service", "inspect", "-f", "{{.Spec.Name}} {{len .Spec.TaskTemplate.ContainerSpec.Env}}", "web"); got != "web 2\n" {
		t.Errorf("template output %q", got)
	}
}

func TestServiceInspectUnknown(t *testing.T) {
	f := newServicesDaemon(t)
	out, _, err := runShoal(t, f.fakeDaemon, "service", "inspect", "db", "nope")
	var st statusError
	if !errors.As(err, &st) || st.code != 1 || st.msg != "no such service: nope" {
		t.Fatalf("err = %v, want exit status 1: no such service: nope", err)
	}
	if !strings.Contains(out, idDB) {
		t.Errorf("db is missing from %q", out)
	}
	out, _, err = runShoal(t, f.fakeDaemon, "service", "inspect", "--pretty", "db", "nope")
	if !errors.As(err, &st) || out != "" {
		t.Errorf("--pretty: out %q err %v, want nothing printed", out, err)
	}
	_, _, err = runShoal(t, f.fakeDaemon, "service", "inspect", "--pretty", "-f", "{{.ID}}", "db")
	if err == nil || err.Error() != "--format is incompatible with human friendly format" {
		t.Errorf("err = %v", err)
	}
}

func TestServiceRemove(t *testing.T) {
	f := newServicesDaemon(t)
	out, _, err := runShoal(t, f.fakeDaemon, "service", "rm", "web", "nope", "db")
	if out != "web\ndb\n" {
		t.Errorf("output %q", out)
	}
	if err == nil || !strings.Contains(err.Error(), "service nope not found") {
		t.Errorf("err = %v", err)
	}
	if got := len(f.writes()); got != 3 {
		t.Errorf("%d deletes, want 3", got)
	}
}

func TestServiceLogs(t *testing.T) {
	f := newServicesDaemon(t)
	details := func(task, node string) string {
		return "com.docker.swarm.node.id=" + node + ",com.docker.swarm.service.id=" + idWeb + ",com.docker.swarm.task.id=" + task
	}
	f.logs = logStream(
		logLine{text: details("webt1currentabcdefghijklm", idWorker1) + " listening on :8080\n"},
		logLine{text: details("webt10pendingbcdefghijklm", "") + " slow start\n", stderr: true},
		logLine{text: "app=sleepy," + details("webt2currentabcdefghijklm", idManager1) + " GET / 200\n"},
	)
	out, errOut, err := runShoal(t, f.fakeDaemon, "service", "logs", "--tail", "10", "web")
	if err != nil {
		t.Fatal(err)
	}
	// Three replicas: slot numbers are one digit wide, so no padding.
	want := "web.1.webt1current@worker-1    | listening on :8080\n" +
		"web.2.webt2current@manager-1    | GET / 200\n"
	if out != want {
		t.Errorf("stdout\n got %q\nwant %q", out, want)
	}
	if errOut != "web.10.webt10pendin@    | slow start\n" {
		t.Errorf("stderr %q", errOut)
	}
	var logs fakeRequest
	for _, r := range f.all() {
		if r.Path == "/services/web/logs" {
			logs = r
		}
	}
	if q := logs.Query; q.Get("tail") != "10" || q.Get("details") != "1" || q.Get("stdout") != "1" || q.Get("stderr") != "1" {
		t.Errorf("logs query %v", q)
	}

	out = mustRun(t, f.fakeDaemon, "service", "logs", "--no-task-ids", "--details", "web")
	if !strings.Contains(out, "web.2@manager-1    | app=sleepy GET / 200\n") {
		t.Errorf("--no-task-ids --details output %q", out)
	}
	out = mustRun(t, f.fakeDaemon, "service", "logs", "--raw", "web")
	if !strings.HasPrefix(out, details("webt1currentabcdefghijklm", idWorker1)+" listening") {
		t.Errorf("--raw output %q", out)
	}
}

func TestServiceLogsOfATask(t *testing.T) {
	f := newServicesDaemon(t)
	f.logs = logStream(logLine{text: "2026-01-05T10:59:00.000000000Z com.docker.swarm.node.id=" + idManager1 +
		",com.docker.swarm.service.id=" + idAPI + ",com.docker.swarm.task.id=apitmanager1bcdefghijklmn hello\n"})
	out := mustRun(t, f.fakeDaemon, "service", "logs", "-t", "--no-trunc", "apitmanager1")
	want := "2026-01-05T10:59:00.000000000Z api.0.apitmanager1bcdefghijklmn@manager-1    | hello\n"
	if out != want {
		t.Errorf("output\n got %q\nwant %q", out, want)
	}
	_, _, err := runShoal(t, f.fakeDaemon, "service", "logs", "ghost")
	if err == nil || err.Error() != "no such task or service: ghost" {
		t.Errorf("err = %v", err)
	}
}
