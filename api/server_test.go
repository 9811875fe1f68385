package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/shoal/shoal/internal/apierr"
)

// fakeBackend records every call with its arguments and answers from canned state. err,
// when set, is returned by every method; panicOn names a method that panics instead.
type fakeBackend struct {
	mu       sync.Mutex // guards every field below
	calls    []fakeCall
	err      error
	panicOn  string
	nodes    []swarm.Node
	info     system.Info
	services []swarm.Service
	tasks    []swarm.Task
	images   []image.Summary
	// logs, when set, produces ServiceLogs' and TaskLogs' output; by default they write
	// one stdout frame.
	logs func(ctx context.Context, opts LogsOptions, w io.Writer) error
	// importImage, when set, does ImageImport's work; by default it reads src whole and
	// reports the size and the image ID.
	importImage func(ctx context.Context, src io.Reader, progress io.Writer) error
}

type fakeCall struct {
	method string
	args   []any
}

var oneReplica uint64 = 1

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		nodes: []swarm.Node{
			{ID: "n1", Spec: swarm.NodeSpec{Annotations: swarm.Annotations{Name: "manager-1"}, Role: swarm.NodeRoleManager}},
			{ID: "n2", Spec: swarm.NodeSpec{Annotations: swarm.Annotations{Name: "worker-1"}, Role: swarm.NodeRoleWorker}},
		},
		services: []swarm.Service{{
			ID:   "s1",
			Meta: swarm.Meta{Version: swarm.Version{Index: 7}},
			Spec: swarm.ServiceSpec{
				Annotations:  swarm.Annotations{Name: "web"},
				TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "sleepy:1"}},
				Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &oneReplica}},
			},
		}},
		tasks: []swarm.Task{{
			ID: "t1", ServiceID: "s1", NodeID: "n2", Slot: 1, DesiredState: swarm.TaskStateRunning,
			Spec:   swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "sleepy:1"}},
			Status: swarm.TaskStatus{State: swarm.TaskStateRunning},
		}},
		images: []image.Summary{
			{ID: "sha256:5a1e", RepoTags: []string{"sleepy:1"}, Size: 1234},
		},
		info: system.Info{
			ID:            "daemon-id",
			Name:          "manager-1",
			ServerVersion: "test",
			Swarm:         swarm.Info{NodeID: "n1", LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true},
		},
	}
}

func (f *fakeBackend) record(method string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{method, args})
	if f.panicOn == method {
		panic("fake backend exploded in " + method)
	}
	return f.err
}

func (f *fakeBackend) set(fn func(f *fakeBackend)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// callsTo returns the arguments of each call to method, oldest first.
func (f *fakeBackend) callsTo(method string) [][]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]any
	for _, c := range f.calls {
		if c.method == method {
			out = append(out, c.args)
		}
	}
	return out
}

func (f *fakeBackend) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeBackend) Info(context.Context) (system.Info, error) {
	if err := f.record("Info"); err != nil {
		return system.Info{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.info, nil
}

func (f *fakeBackend) Version(context.Context) (system.VersionResponse, error) {
	return system.VersionResponse{Version: "test", Os: "linux", Arch: "amd64"}, f.record("Version")
}

func (f *fakeBackend) SwarmInit(_ context.Context, req swarm.InitRequest) (string, error) {
	if err := f.record("SwarmInit", req); err != nil {
		return "", err
	}
	return "n1", nil
}

func (f *fakeBackend) SwarmJoin(_ context.Context, req swarm.JoinRequest) error {
	return f.record("SwarmJoin", req)
}

func (f *fakeBackend) SwarmLeave(_ context.Context, force bool) error {
	return f.record("SwarmLeave", force)
}

func (f *fakeBackend) SwarmInspect(context.Context) (swarm.Swarm, error) {
	sw := swarm.Swarm{ClusterInfo: swarm.ClusterInfo{ID: "cluster-1"}, JoinTokens: swarm.JoinTokens{Worker: "SWMTKN-1-w", Manager: "SWMTKN-1-m"}}
	return sw, f.record("SwarmInspect")
}

func (f *fakeBackend) SwarmUpdate(_ context.Context, version uint64, spec swarm.Spec, flags SwarmUpdateFlags) error {
	return f.record("SwarmUpdate", version, spec, flags)
}

func (f *fakeBackend) SwarmUnlockKey(context.Context) (swarm.UnlockKeyResponse, error) {
	return swarm.UnlockKeyResponse{UnlockKey: "SWMKEY-1-x"}, f.record("SwarmUnlockKey")
}

func (f *fakeBackend) SwarmUnlock(_ context.Context, req swarm.UnlockRequest) error {
	return f.record("SwarmUnlock", req)
}

func (f *fakeBackend) NodeList(_ context.Context, filters NodeListFilters) ([]swarm.Node, error) {
	if err := f.record("NodeList", filters); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []swarm.Node
	for _, n := range f.nodes {
		if len(filters.Role) == 0 || string(n.Spec.Role) == filters.Role[0] {
			out = append(out, n)
		}
	}
	return out, nil
}

func (f *fakeBackend) findNode(idOrName string) (swarm.Node, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.nodes {
		if n.ID == idOrName || n.Spec.Name == idOrName {
			return n, nil
		}
	}
	return swarm.Node{}, apierr.NotFoundf("No such node: %s", idOrName)
}

func (f *fakeBackend) NodeInspect(_ context.Context, idOrName string) (swarm.Node, error) {
	if err := f.record("NodeInspect", idOrName); err != nil {
		return swarm.Node{}, err
	}
	return f.findNode(idOrName)
}

func (f *fakeBackend) NodeUpdate(_ context.Context, idOrName string, version uint64, spec swarm.NodeSpec) error {
	if err := f.record("NodeUpdate", idOrName, version, spec); err != nil {
		return err
	}
	_, err := f.findNode(idOrName)
	return err
}

func (f *fakeBackend) NodeRemove(_ context.Context, idOrName string, force bool) error {
	if err := f.record("NodeRemove", idOrName, force); err != nil {
		return err
	}
	_, err := f.findNode(idOrName)
	return err
}

// do sends one request to h and returns the recorded response.
func do(t *testing.T, h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// errorMessage decodes Docker's error body, failing the test if it is not one.
func errorMessage(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error response Content-Type = %q, want application/json (body %q)", ct, rec.Body.String())
	}
	var body struct {
		Message *string `json:"message"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Message == nil {
		t.Fatalf("error body %q is not {\"message\": ...}: %v", rec.Body.String(), err)
	}
	return *body.Message
}

func TestRouting(t *testing.T) {
	tests := []struct {
		method, target, body string
		wantStatus           int
		wantCall             string // backend method the request must reach; "" for none
	}{
		{"GET", "/_ping", "", 200, ""},
		{"HEAD", "/_ping", "", 200, ""},
		{"GET", "/v1.44/_ping", "", 200, ""},
		{"GET", "/version", "", 200, "Version"},
		{"GET", "/v1.24/version", "", 200, "Version"},
		{"GET", "/info", "", 200, "Info"},
		{"GET", "/v1.56/info", "", 200, "Info"},
		{"POST", "/swarm/init", `{"ListenAddr":"0.0.0.0:2377"}`, 200, "SwarmInit"},
		{"POST", "/v1.47/swarm/join", `{"RemoteAddrs":["10.0.0.1:2377"],"JoinToken":"SWMTKN-1-x"}`, 200, "SwarmJoin"},
		{"POST", "/swarm/leave?force=1", "", 200, "SwarmLeave"},
		{"GET", "/swarm", "", 200, "SwarmInspect"},
		{"HEAD", "/v1.41/swarm", "", 200, "SwarmInspect"},
		{"POST", "/swarm/update?version=3&rotateWorkerToken=true", `{"Name":"default"}`, 200, "SwarmUpdate"},
		{"GET", "/swarm/unlockkey", "", 200, "SwarmUnlockKey"},
		{"POST", "/swarm/unlock", `{"UnlockKey":"SWMKEY-1-x"}`, 200, "SwarmUnlock"},
		{"GET", "/nodes", "", 200, "NodeList"},
		{"GET", "/v1.51/nodes?filters=%7B%22role%22%3A%7B%22manager%22%3Atrue%7D%7D", "", 200, "NodeList"},
		{"GET", "/nodes/n1", "", 200, "NodeInspect"},
		{"GET", "/v1.51/nodes/manager-1", "", 200, "NodeInspect"},
		{"POST", "/nodes/n1/update?version=5", `{"Availability":"drain"}`, 200, "NodeUpdate"},
		{"DELETE", "/nodes/n2?force=true", "", 200, "NodeRemove"},
		{"DELETE", "/v1.51/nodes/n2", "", 200, "NodeRemove"},

		{"GET", "/containers/web.1.t1/logs", "", 404, ""},
		{"GET", "/v1.51/nodes/n1/extra", "", 404, ""},
		{"GET", "/nodes/", "", 404, ""},
		{"GET", "/v1.51", "", 404, ""},
		{"GET", "/v1.51/", "", 404, ""},
		{"GET", "/vx/info", "", 404, ""},
		{"GET", "/info/", "", 404, ""},
		{"GET", "/v1.51/nodes/../info", "", 404, ""},

		{"POST", "/info", "", 405, ""},
		{"PUT", "/v1.51/nodes/n1", "", 405, ""},
		{"GET", "/swarm/init", "", 405, ""},
		{"DELETE", "/_ping", "", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			fake := newFakeBackend()
			rec := do(t, NewHandler(fake, Options{}), tt.method, tt.target, tt.body)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", rec.Code, tt.wantStatus, rec.Body.String())
			}
			if tt.wantCall != "" && len(fake.callsTo(tt.wantCall)) != 1 {
				t.Errorf("backend calls = %+v, want one %s", fake.calls, tt.wantCall)
			}
			if tt.wantCall == "" && tt.wantStatus != 200 && fake.callCount() != 0 {
				t.Errorf("backend called for a refused request: %+v", fake.calls)
			}
			switch tt.wantStatus {
			case 404:
				if msg := errorMessage(t, rec); msg != "page not found" {
					t.Errorf("message = %q, want %q", msg, "page not found")
				}
			case 405:
				if msg := errorMessage(t, rec); !strings.Contains(msg, "not allowed") {
					t.Errorf("message = %q, want it to say the method is not allowed", msg)
				}
				if rec.Header().Get("Allow") == "" {
					t.Error("405 without an Allow header")
				}
			}
		})
	}
}

func TestEveryResponseCarriesServerHeaders(t *testing.T) {
	old := Version
	Version = "9.9.9-test"
	defer func() { Version = old }()
	h := NewHandler(newFakeBackend(), Options{})
	for _, target := range []string{"/_ping", "/info", "/nope", "/v1.99/info", "/v1.20/_ping"} {
		rec := do(t, h, "GET", target, "")
		want := map[string]string{
			"Api-Version":         "1.56",
			"Server":              "Shoal/9.9.9-test",
			"Ostype":              "linux",
			"Docker-Experimental": "false",
		}
		for k, v := range want {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("GET %s: header %s = %q, want %q", target, k, got, v)
			}
		}
	}
}

func TestPing(t *testing.T) {
	tests := []struct {
		name      string
		swarmInfo swarm.Info
		infoErr   error
		wantSwarm string
	}{
		{"manager", swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true}, nil, "active/manager"},
		{"worker", swarm.Info{LocalNodeState: swarm.LocalNodeStateActive}, nil, "active/worker"},
		{"not in a swarm", swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive}, nil, "inactive"},
		{"locked", swarm.Info{LocalNodeState: swarm.LocalNodeStateLocked}, nil, "locked"},
		{"info fails", swarm.Info{}, apierr.Unavailablef("no leader"), ""},
	}
	for _, tt := range tests {
		for _, method := range []string{"GET", "HEAD"} {
			t.Run(tt.name+" "+method, func(t *testing.T) {
				fake := newFakeBackend()
				fake.set(func(f *fakeBackend) { f.info.Swarm = tt.swarmInfo; f.err = tt.infoErr })
				rec := do(t, NewHandler(fake, Options{}), method, "/_ping", "")
				if rec.Code != 200 {
					t.Fatalf("status = %d, want 200 even when Info fails", rec.Code)
				}
				wantBody := "OK"
				if method == "HEAD" {
					wantBody = ""
				}
				if rec.Body.String() != wantBody {
					t.Errorf("body = %q, want %q", rec.Body.String(), wantBody)
				}
				for k, v := range map[string]string{
					"Api-Version":     "1.56",
					"Builder-Version": builderVersion,
					"Cache-Control":   "no-cache, no-store, must-revalidate",
					"Pragma":          "no-cache",
					"Swarm":           tt.wantSwarm,
				} {
					if got := rec.Header().Get(k); got != v {
						t.Errorf("header %s = %q, want %q", k, got, v)
					}
				}
			})
		}
	}
}

// statusBackend reports its swarm state without Info, and fails Info to prove it is not asked.
type statusBackend struct{ *fakeBackend }

func (statusBackend) SwarmStatus(context.Context) (swarm.LocalNodeState, bool) {
	return swarm.LocalNodeStateActive, false
}

func TestPingPrefersSwarmStatusReporter(t *testing.T) {
	fake := newFakeBackend()
	rec := do(t, NewHandler(statusBackend{fake}, Options{}), "GET", "/_ping", "")
	if got := rec.Header().Get("Swarm"); got != "active/worker" {
		t.Errorf("Swarm = %q, want active/worker", got)
	}
	if n := len(fake.callsTo("Info")); n != 0 {
		t.Errorf("ping called Info %d times although the backend reports its status", n)
	}
}

func TestVersionNegotiation(t *testing.T) {
	tests := []struct {
		opts       Options
		target     string
		wantStatus int
		wantMsg    string
	}{
		{Options{}, "/v1.99/info", 400, "client version 1.99 is too new. Maximum supported API version is 1.56"},
		{Options{}, "/v1.57/_ping", 400, "client version 1.57 is too new. Maximum supported API version is 1.56"},
		{Options{}, "/v2.0/info", 400, "client version 2.0 is too new. Maximum supported API version is 1.56"},
		{Options{}, "/v1.23/info", 400, "client version 1.23 is too old. Minimum supported API version is 1.24"},
		{Options{}, "/v1.9/info", 400, "client version 1.9 is too old. Minimum supported API version is 1.24"},
		{Options{}, "/v1/info", 400, "client version 1 is too old. Minimum supported API version is 1.24"},
		{Options{}, "/v1.24/info", 200, ""},
		{Options{}, "/v1.56/info", 200, ""},
		{Options{}, "/v1.56.0/info", 200, ""},
		{Options{}, "/info", 200, ""},
		{Options{MinVersion: "1.40", MaxVersion: "1.44"}, "/v1.45/info", 400, "client version 1.45 is too new. Maximum supported API version is 1.44"},
		{Options{MinVersion: "1.40", MaxVersion: "1.44"}, "/v1.39/info", 400, "client version 1.39 is too old. Minimum supported API version is 1.40"},
		{Options{MinVersion: "1.40", MaxVersion: "1.44"}, "/v1.44/info", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			fake := newFakeBackend()
			rec := do(t, NewHandler(fake, tt.opts), "GET", tt.target, "")
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", rec.Code, tt.wantStatus, rec.Body.String())
			}
			if tt.wantStatus == 200 {
				return
			}
			if msg := errorMessage(t, rec); !strings.HasPrefix(msg, tt.wantMsg) {
				t.Errorf("message = %q, want prefix %q", msg, tt.wantMsg)
			}
			if fake.callCount() != 0 {
				t.Errorf("backend called for a refused version: %+v", fake.calls)
			}
		})
	}
}

func TestAPIVersionReachesHandlers(t *testing.T) {
	var got []string
	s := NewHandler(newFakeBackend(), Options{}).(*server)
	s.mux.HandleFunc("GET /probe", func(_ http.ResponseWriter, r *http.Request) {
		got = append(got, APIVersion(r.Context()))
	})
	do(t, s, "GET", "/v1.41/probe", "")
	do(t, s, "GET", "/probe", "")
	if want := []string{"1.41", "1.56"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("APIVersion = %v, want %v", got, want)
	}
}

func TestVersionEndpointFillsAPIRange(t *testing.T) {
	rec := do(t, NewHandler(newFakeBackend(), Options{MinVersion: "1.30"}), "GET", "/version", "")
	var v system.VersionResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.APIVersion != "1.56" || v.MinAPIVersion != "1.30" || v.Version != "test" {
		t.Errorf("version = %+v, want ApiVersion 1.56, MinAPIVersion 1.30, Version test", v)
	}
}

func TestNewHandlerRefusesBadOptions(t *testing.T) {
	for _, opts := range []Options{
		{MinVersion: "1.50", MaxVersion: "1.40"},
		{MaxVersion: "v1.44"},
		{MinVersion: "1..2"},
	} {
		if err := opts.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", opts)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewHandler(%+v) did not panic", opts)
				}
			}()
			NewHandler(newFakeBackend(), opts)
		}()
	}
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		method     string
		target     string
		body       string
		wantStatus int
		wantMsg    string
	}{
		{"not found from backend", nil, "GET", "/nodes/ghost", "", 404, "No such node: ghost"},
		{"not found on remove", nil, "DELETE", "/v1.51/nodes/ghost", "", 404, "No such node: ghost"},
		{"conflict", apierr.Conflictf("update out of sequence"), "POST", "/nodes/n1/update?version=1", `{}`, 409, "update out of sequence"},
		{"unavailable", apierr.Unavailablef("This node is not a swarm manager."), "GET", "/nodes", "", 503, "This node is not a swarm manager."},
		{"invalid", apierr.Invalidf("invalid ListenAddr"), "POST", "/swarm/init", `{}`, 400, "invalid ListenAddr"},
		{"forbidden", apierr.Forbiddenf("cannot remove the last manager"), "DELETE", "/nodes/n1", "", 403, "cannot remove the last manager"},
		{"not implemented", apierr.NotImplementedf("autolock is not implemented"), "GET", "/swarm/unlockkey", "", 501, "autolock is not implemented"},
		{"plain error", errors.New("disk on fire"), "GET", "/swarm", "", 500, "disk on fire"},
		{"wrapped kind", fmt.Errorf("leave: %w", apierr.Unavailablef("no quorum")), "POST", "/swarm/leave", "", 503, "leave: no quorum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeBackend()
			fake.set(func(f *fakeBackend) { f.err = tt.err })
			rec := do(t, NewHandler(fake, Options{}), tt.method, tt.target, tt.body)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", rec.Code, tt.wantStatus, rec.Body.String())
			}
			if msg := errorMessage(t, rec); msg != tt.wantMsg {
				t.Errorf("message = %q, want %q", msg, tt.wantMsg)
			}
		})
	}
}

// TestRefusedRequestsNeverReachBackend covers what the API layer refuses by itself: each
// must be a 400 with a message that names the problem, and the backend must not be called.
func TestRefusedRequestsNeverReachBackend(t *testing.T) {
	big := `{"Name":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	tests := []struct {
		name, method, target, body, contentType string
		wantMsg                                 string
	}{
		{"oversized init", "POST", "/swarm/init", big, "", "request body too large (limit 1 MiB)"},
		{"oversized node spec", "POST", "/nodes/n1/update?version=1", big, "", "request body too large (limit 1 MiB)"},
		{"malformed init", "POST", "/swarm/init", `{"ListenAddr":`, "", "unexpected end of JSON input"},
		{"malformed join", "POST", "/swarm/join", `{"RemoteAddrs":"10.0.0.1"}`, "", "field RemoteAddrs must be an array"},
		{"syntax error", "POST", "/swarm/unlock", `{UnlockKey: "x"}`, "", "malformed JSON at byte offset 2"},
		{"trailing garbage", "POST", "/swarm/unlock", `{"UnlockKey":"x"} {}`, "", "unexpected content after the JSON object"},
		{"empty init body", "POST", "/swarm/init", "", "", "empty request body: expected a JSON object (swarm init request)"},
		{"blank update body", "POST", "/swarm/update?version=1", "  \n", "", "empty request body"},
		{"null node spec", "POST", "/nodes/n1/update?version=1", "null", "", "expected a JSON object (node spec), got null"},
		{"array swarm spec", "POST", "/swarm/update?version=1", "[]", "", "expected a JSON object (swarm spec), got an array"},
		{"null external CA", "POST", "/swarm/update?version=1", `{"CAConfig":{"ExternalCAs":[null]}}`, "", "CAConfig.ExternalCAs[0] is null"},
		{"bad default addr pool", "POST", "/swarm/init", `{"DefaultAddrPool":["10.0.0.0"]}`, "", "invalid request body (swarm init request)"},
		{"form content type", "POST", "/swarm/unlock", `{"UnlockKey":"x"}`, "application/x-www-form-urlencoded", "unsupported Content-Type header"},
		{"missing version", "POST", "/nodes/n1/update", `{}`, "", "the version query parameter is required"},
		{"negative version", "POST", "/nodes/n1/update?version=-1", `{}`, "", `invalid version "-1": must be a non-negative integer`},
		{"word version", "POST", "/swarm/update?version=latest", `{}`, "", `invalid version "latest"`},
		{"bad force", "DELETE", "/nodes/n1?force=maybe", "", "", `invalid value "maybe" for query parameter force`},
		{"bad rotate flag", "POST", "/swarm/update?version=1&rotateManagerToken=2", `{}`, "", "rotateManagerToken"},
		{"unknown filter", "GET", `/nodes?filters={"foo":{"x":true}}`, "", "", "invalid filter 'foo'"},
		{"bad role filter", "GET", `/nodes?filters={"role":{"boss":true}}`, "", "", "invalid filter 'role=boss': role must be manager or worker"},
		{"bad filters json", "GET", `/nodes?filters={"role":`, "", "", "invalid filters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeBackend()
			target := strings.ReplaceAll(strings.ReplaceAll(tt.target, `"`, "%22"), " ", "%20")
			req := httptest.NewRequest(tt.method, target, strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			rec := httptest.NewRecorder()
			NewHandler(fake, Options{}).ServeHTTP(rec, req)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400 (body %q)", rec.Code, rec.Body.String())
			}
			if msg := errorMessage(t, rec); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.wantMsg)
			}
			if fake.callCount() != 0 {
				t.Errorf("backend was called: %+v", fake.calls)
			}
		})
	}
}

func TestPanickingBackendIsContained(t *testing.T) {
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fake := newFakeBackend()
	fake.set(func(f *fakeBackend) { f.panicOn = "NodeList" })
	srv := httptest.NewServer(NewHandler(fake, Options{Logger: logger}))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/v1.51/nodes")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Fatalf("status = %d, want 500 (body %q)", resp.StatusCode, body)
	}
	var msg struct{ Message string }
	if err := json.Unmarshal(body, &msg); err != nil || !strings.Contains(msg.Message, "panicked") {
		t.Errorf("body = %q, want a message saying the handler panicked", body)
	}

	resp, err = http.Get(srv.URL + "/v1.51/nodes/n1")
	if err != nil {
		t.Fatalf("server did not survive the panic: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("request after the panic: status = %d, want 200", resp.StatusCode)
	}
	srv.Close() // flush the handlers' log writes before reading them
	if !strings.Contains(logs.String(), "fake backend exploded in NodeList") || !strings.Contains(logs.String(), "stack=") {
		t.Errorf("panic not logged with its stack; log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "msg=\"api request\" method=GET path=/v1.51/nodes/n1") {
		t.Errorf("requests not logged at debug; log:\n%s", logs.String())
	}
}

func TestRequestsReachBackendIntact(t *testing.T) {
	fake := newFakeBackend()
	h := NewHandler(fake, Options{})

	do(t, h, "POST", "/swarm/update?version=12&rotateWorkerToken=1&rotateManagerToken=false&rotateManagerUnlockKey=TRUE",
		`{"Name":"default","Dispatcher":{"HeartbeatPeriod":5000000000},"Unknown":"ignored"}`)
	calls := fake.callsTo("SwarmUpdate")
	if len(calls) != 1 {
		t.Fatalf("SwarmUpdate calls = %v", calls)
	}
	version, spec, flags := calls[0][0].(uint64), calls[0][1].(swarm.Spec), calls[0][2].(SwarmUpdateFlags)
	if version != 12 || spec.Name != "default" || spec.Dispatcher.HeartbeatPeriod != 5e9 {
		t.Errorf("SwarmUpdate got version %d spec %+v", version, spec)
	}
	if flags != (SwarmUpdateFlags{RotateWorkerToken: true, RotateManagerUnlockKey: true}) {
		t.Errorf("SwarmUpdate flags = %+v", flags)
	}

	for target, want := range map[string]bool{"/swarm/leave": false, "/swarm/leave?force=1": true, "/swarm/leave?force=": false, "/swarm/leave?force=0": false} {
		fake := newFakeBackend()
		do(t, NewHandler(fake, Options{}), "POST", target, "")
		if got := fake.callsTo("SwarmLeave"); len(got) != 1 || got[0][0] != want {
			t.Errorf("POST %s: SwarmLeave calls %v, want force=%v", target, got, want)
		}
	}

	rec := do(t, h, "POST", "/swarm/init", `{"ListenAddr":"0.0.0.0:2377"}`)
	var nodeID string
	if err := json.Unmarshal(rec.Body.Bytes(), &nodeID); err != nil || nodeID != "n1" {
		t.Errorf("swarm init body = %q, want the JSON string \"n1\"", rec.Body.String())
	}

	fake.set(func(f *fakeBackend) { f.nodes = nil })
	rec = do(t, h, "GET", "/nodes", "")
	if strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("empty node list body = %q, want []", rec.Body.String())
	}
}
