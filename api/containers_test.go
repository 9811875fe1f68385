package api

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/shoal/shoal/internal/apierr"
)

// The fake's ContainerBackend side. Its containers are fixed (fakeContainers): web.1 runs,
// web.2 has exited. Its exec instances are named by what they do when started:
//
//	echo   writes "out\n" to stdout and "err\n" to stderr, then "in:" and whatever stdin
//	       brings to stdout until it ends
//	fail   fails after attaching, with "exec failed: boom"
//	done   has already run: refused (409) before attaching
//
// Any other exec ID is unknown (404).

const (
	fakeRunningID = "c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80"
	fakeExitedID  = "c2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091"
)

func fakeContainers() []container.Summary {
	return []container.Summary{
		{ID: fakeRunningID, Names: []string{"/web.1.t1"}, Image: "sleepy:1", State: container.StateRunning, Status: "Up 5 minutes", Labels: map[string]string{"com.docker.swarm.task.id": "t1"}},
		{ID: fakeExitedID, Names: []string{"/web.2.t2"}, Image: "sleepy:1", State: container.StateExited, Status: "Exited (0) 1 minute ago", Labels: map[string]string{"com.docker.swarm.task.id": "t2"}},
	}
}

func findFakeContainer(ref string) (container.Summary, error) {
	for _, c := range fakeContainers() {
		if c.ID == ref || strings.HasPrefix(c.ID, ref) && len(ref) >= 4 || slices.Contains(c.Names, "/"+strings.TrimPrefix(ref, "/")) {
			return c, nil
		}
	}
	return container.Summary{}, apierr.NotFoundf("No such container: %s", ref)
}

func (f *fakeBackend) ContainerList(_ context.Context, all bool) ([]container.Summary, error) {
	if err := f.record("ContainerList", all); err != nil {
		return nil, err
	}
	var out []container.Summary
	for _, c := range fakeContainers() {
		if all || c.State == container.StateRunning {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeBackend) ContainerInspect(_ context.Context, ref string) (container.InspectResponse, error) {
	if err := f.record("ContainerInspect", ref); err != nil {
		return container.InspectResponse{}, err
	}
	c, err := findFakeContainer(ref)
	if err != nil {
		return container.InspectResponse{}, err
	}
	return container.InspectResponse{ID: c.ID, Name: c.Names[0], State: &container.State{Status: c.State, Running: c.State == container.StateRunning}}, nil
}

func (f *fakeBackend) ExecCreate(_ context.Context, ref string, req container.ExecCreateRequest) (string, error) {
	if err := f.record("ExecCreate", ref, req); err != nil {
		return "", err
	}
	c, err := findFakeContainer(ref)
	if err != nil {
		return "", err
	}
	if c.State != container.StateRunning {
		return "", apierr.Conflictf("container %s is not running", c.ID)
	}
	return "echo", nil
}

func (f *fakeBackend) ExecStart(_ context.Context, id string, opts ExecStartOptions, attach func() (ExecStreams, error)) error {
	if err := f.record("ExecStart", id, opts); err != nil {
		return err
	}
	switch id {
	case "echo", "fail":
	case "done":
		return apierr.Conflictf("exec command %s has already run", id)
	default:
		return apierr.NotFoundf("No such exec instance: %s", id)
	}
	s, err := attach()
	if err != nil || opts.Detach {
		return err
	}
	if id == "fail" {
		return apierr.Invalidf("exec failed: boom")
	}
	stderr := s.Stderr
	if opts.Tty {
		stderr = s.Stdout
	}
	io.WriteString(s.Stdout, "out\n")
	io.WriteString(stderr, "err\n")
	io.WriteString(s.Stdout, "in:")
	_, err = io.Copy(s.Stdout, s.Stdin)
	return err
}

func (f *fakeBackend) ExecResize(_ context.Context, id string, height, width uint32) error {
	if err := f.record("ExecResize", id, height, width); err != nil {
		return err
	}
	if id != "echo" {
		return apierr.NotFoundf("No such exec instance: %s", id)
	}
	return nil
}

func (f *fakeBackend) ExecInspect(_ context.Context, id string) (container.ExecInspectResponse, error) {
	if err := f.record("ExecInspect", id); err != nil {
		return container.ExecInspectResponse{}, err
	}
	if id != "echo" {
		return container.ExecInspectResponse{}, apierr.NotFoundf("No such exec instance: %s", id)
	}
	code := 0
	return container.ExecInspectResponse{ID: id, ContainerID: fakeRunningID, ExitCode: &code}, nil
}

func TestContainerRouting(t *testing.T) {
	exec := `{"AttachStdout":true,"Cmd":["sh","-c","exit 7"]}`
	checkRoutes(t, []routeCase{
		{"GET", "/containers/json", "", 200, "ContainerList"},
		{"GET", "/v1.44/containers/json?all=1", "", 200, "ContainerList"},
		{"GET", `/containers/json?filters={"status":["exited"]}`, "", 200, "ContainerList"},
		{"GET", "/containers/web.1.t1/json", "", 200, "ContainerInspect"},
		{"GET", "/v1.51/containers/" + fakeRunningID[:12] + "/json", "", 200, "ContainerInspect"},
		{"GET", "/containers/ghost/json", "", 404, "ContainerInspect"},

		{"POST", "/containers/web.1.t1/exec", exec, 201, "ExecCreate"},
		{"POST", "/v1.51/containers/" + fakeRunningID + "/exec", exec, 201, "ExecCreate"},
		{"POST", "/containers/ghost/exec", exec, 404, "ExecCreate"},
		{"POST", "/containers/web.2.t2/exec", exec, 409, "ExecCreate"},

		{"POST", "/exec/echo/start", `{"Detach":true}`, 200, "ExecStart"},
		{"POST", "/exec/ghost/start", `{"Detach":true}`, 404, "ExecStart"},
		{"POST", "/exec/done/start", `{"Detach":false}`, 409, "ExecStart"},
		{"POST", "/exec/echo/resize?h=40&w=120", "", 200, "ExecResize"},
		{"POST", "/exec/ghost/resize?h=40&w=120", "", 404, "ExecResize"},
		{"GET", "/exec/echo/json", "", 200, "ExecInspect"},
		{"GET", "/v1.51/exec/ghost/json", "", 404, "ExecInspect"},

		{"GET", "/containers/web.1.t1/exec", "", 405, ""},
		{"DELETE", "/containers/json", "", 405, ""},
		{"GET", "/exec/echo/start", "", 405, ""},
		{"POST", "/containers/create", `{"Image":"sleepy:1"}`, 404, ""},
	})
}

func TestContainerRequestsRefused(t *testing.T) {
	checkRefused(t, []refusedCase{
		{"no command", "POST", "/containers/web.1.t1/exec", `{"AttachStdout":true}`, "No exec command specified"},
		{"empty command", "POST", "/containers/web.1.t1/exec", `{"Cmd":[""]}`, "No exec command specified"},
		{"relative dir", "POST", "/containers/web.1.t1/exec", `{"Cmd":["ls"],"WorkingDir":"tmp"}`, "must be an absolute path"},
		{"privileged", "POST", "/containers/web.1.t1/exec", `{"Cmd":["ls"],"Privileged":true}`, "privileged exec is not supported"},
		{"size without tty", "POST", "/containers/web.1.t1/exec", `{"Cmd":["ls"],"ConsoleSize":[24,80]}`, "needs Tty"},
		{"not an object", "POST", "/containers/web.1.t1/exec", `["ls"]`, "expected a JSON object"},
		{"bad start body", "POST", "/exec/echo/start", `{"Detach":"yes"}`, "exec start request"},
		{"bad height", "POST", "/exec/echo/resize?h=tall&w=80", "", `invalid resize height "tall"`},
		{"negative width", "POST", "/exec/echo/resize?h=24&w=-1", "", `invalid resize width "-1"`},
		{"missing width", "POST", "/exec/echo/resize?h=24", "", `invalid resize width ""`},
		{"bad all", "GET", "/containers/json?all=maybe", "", "all"},
		{"unknown filter", "GET", `/containers/json?filters={"ancestor":["x"]}`, "", "invalid filter 'ancestor'"},
		{"bad status", "GET", `/containers/json?filters={"status":["asleep"]}`, "", "status must be"},
		{"bad name pattern", "GET", `/containers/json?filters={"name":["(web"]}`, "", "not a regular expression"},
	})
}

func TestFilterContainers(t *testing.T) {
	list := fakeContainers()
	tests := []struct {
		filters string
		want    []string // IDs
	}{
		{"", []string{fakeRunningID, fakeExitedID}},
		{`{"id":["c1a2"]}`, []string{fakeRunningID}},
		{`{"id":["a2"]}`, nil},
		{`{"name":["web\\.2"]}`, []string{fakeExitedID}},
		{`{"name":["^web"]}`, []string{fakeRunningID, fakeExitedID}},
		{`{"status":["running"]}`, []string{fakeRunningID}},
		{`{"status":["running","exited"]}`, []string{fakeRunningID, fakeExitedID}},
		{`{"label":["com.docker.swarm.task.id=t2"]}`, []string{fakeExitedID}},
		{`{"label":["com.docker.swarm.task.id"],"status":["exited"]}`, []string{fakeExitedID}},
		{`{"label":["nope"]}`, nil},
	}
	for _, tt := range tests {
		f, err := parseContainerFilters(tt.filters)
		if err != nil {
			t.Fatalf("%s: %v", tt.filters, err)
		}
		var got []string
		for _, c := range filterContainers(list, f) {
			got = append(got, c.ID)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("filters %s kept %v, want %v", tt.filters, got, tt.want)
		}
	}
}

func TestContainerListAskedForStoppedOnes(t *testing.T) {
	for target, wantAll := range map[string]bool{
		"/containers/json":                                false,
		"/containers/json?all=true":                       true,
		`/containers/json?filters={"status":["exited"]}`:  true,
		`/containers/json?filters={"status":["running"]}`: false,
	} {
		fake := newFakeBackend()
		rec := do(t, NewHandler(fake, Options{}), "GET", strings.ReplaceAll(target, `"`, "%22"), "")
		calls := fake.callsTo("ContainerList")
		if rec.Code != 200 || len(calls) != 1 || calls[0][0] != wantAll {
			t.Errorf("%s: status %d, calls %v; want ContainerList(all=%v)", target, rec.Code, calls, wantAll)
		}
		if strings.TrimSpace(rec.Body.String()) == "null" {
			t.Errorf("%s: null instead of a list", target)
		}
	}
}

func TestContainersUnimplementedWithoutBackend(t *testing.T) {
	rec := do(t, NewHandler(withoutWorkloads{newFakeBackend()}, Options{}), "POST", "/containers/web.1.t1/exec", `{"Cmd":["ls"]}`)
	if rec.Code != 501 || !strings.Contains(errorMessage(t, rec), "containers are not implemented yet") {
		t.Errorf("status %d body %q; want 501 saying containers are not implemented", rec.Code, rec.Body.String())
	}
}
