package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fakeAPIVersion is the API version the fake daemon offers; the client must use it.
const fakeAPIVersion = "1.56"

// fakeDaemon answers the few Docker Engine API endpoints the swarm, node, info and version
// commands use, from state the test sets, and records every request.
type fakeDaemon struct {
	t    *testing.T
	host string // tcp://127.0.0.1:port, for -H

	mu        sync.Mutex
	info      system.Info
	version   system.VersionResponse
	swarm     swarm.Swarm
	nodes     []swarm.Node
	unlockKey string
	// joinAsManager is what /info says after a join: ControlAvailable.
	joinAsManager bool
	// failures makes "METHOD /path" (path without the version prefix) answer an error.
	failures map[string]fakeFailure
	requests []fakeRequest
}

type fakeFailure struct {
	status int
	msg    string
}

// fakeRequest is one API call the fake daemon received.
type fakeRequest struct {
	Method string
	Path   string // without the /vX.Y prefix
	Query  url.Values
	Body   []byte
}

func (r fakeRequest) String() string { return r.Method + " " + r.Path }

func newFakeDaemon(t *testing.T) *fakeDaemon {
	t.Helper()
	d := &fakeDaemon{t: t, failures: map[string]fakeFailure{}}
	srv := httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(srv.Close)
	d.host = "tcp://" + strings.TrimPrefix(srv.URL, "http://")
	return d
}

// all returns every request received so far.
func (d *fakeDaemon) all() []fakeRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]fakeRequest(nil), d.requests...)
}

// writes returns the requests that could change state: anything but GET and HEAD.
func (d *fakeDaemon) writes() []fakeRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []fakeRequest
	for _, r := range d.requests {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			out = append(out, r)
		}
	}
	return out
}

// lastWrite returns the last request to "METHOD /path", failing the test if none came.
func (d *fakeDaemon) lastWrite(what string) fakeRequest {
	d.t.Helper()
	w := d.writes()
	for i := len(w) - 1; i >= 0; i-- {
		if w[i].String() == what {
			return w[i]
		}
	}
	d.t.Fatalf("no %s request; writes: %v", what, w)
	return fakeRequest{}
}

func (d *fakeDaemon) fail(what string, status int, msg string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failures[what] = fakeFailure{status, msg}
}

func (d *fakeDaemon) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Api-Version", fakeAPIVersion)
	w.Header().Set("Ostype", "linux")

	if r.URL.Path == "/_ping" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if r.Method == http.MethodGet {
			io.WriteString(w, "OK")
		}
		return
	}
	p, ok := strings.CutPrefix(r.URL.Path, "/v"+fakeAPIVersion)
	if !ok {
		writeFakeError(w, http.StatusBadRequest, fmt.Sprintf("fake daemon: %s lacks the negotiated /v%s prefix", r.URL.Path, fakeAPIVersion))
		return
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	req := fakeRequest{Method: r.Method, Path: p, Query: r.URL.Query(), Body: body}
	d.requests = append(d.requests, req)
	if f, ok := d.failures[req.String()]; ok {
		writeFakeError(w, f.status, f.msg)
		return
	}
	status, reply, err := d.route(req)
	if err != nil {
		writeFakeError(w, status, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if reply != nil {
		json.NewEncoder(w).Encode(reply)
	}
}

// route answers one request; the caller holds d.mu.
func (d *fakeDaemon) route(r fakeRequest) (int, any, error) {
	switch what := r.String(); {
	case what == "GET /info":
		return 200, d.info, nil
	case what == "GET /version":
		return 200, d.version, nil
	case what == "GET /swarm":
		if d.swarm.ID == "" {
			return 503, nil, errors.New("This node is not a swarm manager.")
		}
		return 200, d.swarm, nil
	case what == "POST /swarm/init":
		var req swarm.InitRequest
		if err := json.Unmarshal(r.Body, &req); err != nil {
			return 400, nil, err
		}
		return 200, d.info.Swarm.NodeID, nil
	case what == "POST /swarm/join":
		d.info.Swarm.LocalNodeState = swarm.LocalNodeStateActive
		d.info.Swarm.ControlAvailable = d.joinAsManager
		return 200, nil, nil
	case what == "POST /swarm/leave", what == "POST /swarm/unlock":
		return 200, nil, nil
	case what == "POST /swarm/update":
		if got := r.Query.Get("version"); got != strconv.FormatUint(d.swarm.Version.Index, 10) {
			return 409, nil, fmt.Errorf("update out of sequence: version %s, current %d", got, d.swarm.Version.Index)
		}
		var spec swarm.Spec
		if err := json.Unmarshal(r.Body, &spec); err != nil {
			return 400, nil, err
		}
		d.swarm.Spec = spec
		d.swarm.Version.Index++
		if r.Query.Get("rotateWorkerToken") == "true" {
			d.swarm.JoinTokens.Worker += "-rotated"
		}
		if r.Query.Get("rotateManagerToken") == "true" {
			d.swarm.JoinTokens.Manager += "-rotated"
		}
		return 200, nil, nil
	case what == "GET /swarm/unlockkey":
		return 200, swarm.UnlockKeyResponse{UnlockKey: d.unlockKey}, nil
	case what == "GET /nodes":
		return 200, d.nodes, nil
	case strings.HasPrefix(what, "GET /nodes/"):
		i, err := d.findNode(strings.TrimPrefix(r.Path, "/nodes/"))
		if err != nil {
			return 404, nil, err
		}
		return 200, d.nodes[i], nil
	case strings.HasPrefix(what, "POST /nodes/") && strings.HasSuffix(what, "/update"):
		i, err := d.findNode(strings.TrimSuffix(strings.TrimPrefix(r.Path, "/nodes/"), "/update"))
		if err != nil {
			return 404, nil, err
		}
		if got := r.Query.Get("version"); got != strconv.FormatUint(d.nodes[i].Version.Index, 10) {
			return 409, nil, fmt.Errorf("update out of sequence: version %s, current %d", got, d.nodes[i].Version.Index)
		}
		var spec swarm.NodeSpec
		if err := json.Unmarshal(r.Body, &spec); err != nil {
			return 400, nil, err
		}
		d.nodes[i].Spec = spec
		d.nodes[i].Version.Index++
		return 200, nil, nil
	case strings.HasPrefix(what, "DELETE /nodes/"):
		i, err := d.findNode(strings.TrimPrefix(r.Path, "/nodes/"))
		if err != nil {
			return 404, nil, err
		}
		d.nodes = append(d.nodes[:i], d.nodes[i+1:]...)
		return 200, nil, nil
	}
	return 404, nil, errors.New("page not found")
}

// findNode finds a node by ID, unique ID prefix or hostname, as the daemon does.
func (d *fakeDaemon) findNode(ref string) (int, error) {
	found := -1
	for i, n := range d.nodes {
		if n.ID == ref || n.Description.Hostname == ref {
			return i, nil
		}
		if strings.HasPrefix(n.ID, ref) {
			if found >= 0 {
				return -1, fmt.Errorf("node %s is ambiguous", ref)
			}
			found = i
		}
	}
	if found < 0 {
		return -1, fmt.Errorf("No such node: %s", ref)
	}
	return found, nil
}

func writeFakeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// runShoal runs one shoal command line against the fake daemon, as a user would,
// and returns what it printed and its error.
func runShoal(t *testing.T, d *fakeDaemon, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runShoalWithInput(t, d, "", args...)
}

func runShoalWithInput(t *testing.T, d *fakeDaemon, input string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	g := &Globals{Out: &out, Err: &errOut, In: strings.NewReader(input)}
	root := NewRootCommand(g)
	root.SetArgs(append([]string{"-H", d.host}, args...))
	err = root.Execute()
	return out.String(), errOut.String(), err
}

// mustRun runs a command line that must succeed and returns its standard output.
func mustRun(t *testing.T, d *fakeDaemon, args ...string) string {
	t.Helper()
	out, errOut, err := runShoal(t, d, args...)
	if err != nil {
		t.Fatalf("shoal %s: %v (stderr %q)", strings.Join(args, " "), err, errOut)
	}
	return out
}

// assertGolden compares got with testdata/name.golden, or rewrites the file under -update.
func assertGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}
