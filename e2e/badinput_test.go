package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoal/shoal/lab"
)

// TestBadInput sends a manager what clients get wrong: broken or oversized JSON, unknown
// nodes, values outside what is allowed, flags that do not exist. Each must be refused with
// a 4xx (or a non-zero exit) and a message that says what was wrong, change nothing, and
// leave the daemon serving.
func TestBadInput(t *testing.T) {
	l := startLab(t, lab.Options{Name: "e2ebad", Managers: 1})
	const mgr = "manager-1"
	api := newRawAPI(node(t, l, mgr).Socket)
	mc := apiClient(t, l, mgr)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	info, err := mc.Info(ctx, client.InfoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nodeID := info.Info.Swarm.NodeID
	self, err := mc.NodeInspect(ctx, nodeID, client.NodeInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nodeBefore := self.Node
	swarmBefore, err := mc.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nodeUpdate := fmt.Sprintf("/nodes/%s/update?version=%d", nodeID, nodeBefore.Version.Index)
	swarmUpdate := fmt.Sprintf("/swarm/update?version=%d", swarmBefore.Swarm.Version.Index)
	validSwarmSpec, err := json.Marshal(swarmBefore.Swarm.Spec)
	if err != nil {
		t.Fatal(err)
	}
	oversized := append([]byte(`{"Labels":{"pad":"`), bytes.Repeat([]byte("x"), 1<<20+1024)...)
	oversized = append(oversized, `"}}`...)

	t.Run("API", func(t *testing.T) {
		for _, tc := range []struct {
			name, method, path, body string
			status                   int
			want                     []string // in the message
		}{
			{"malformed JSON to swarm init", "POST", "/swarm/init", `{"ListenAddr": "0.0.0.0:2377",`, 400, []string{"invalid request body", "JSON"}},
			{"JSON array to swarm init", "POST", "/swarm/init", `[1,2]`, 400, []string{"expected a JSON object"}},
			{"malformed JSON to node update", "POST", nodeUpdate, `{"Role": "manager"`, 400, []string{"invalid request body (node spec)"}},
			{"wrong JSON type to node update", "POST", nodeUpdate, `{"Role": 7}`, 400, []string{"Role", "string"}},
			{"oversized node update", "POST", nodeUpdate, string(oversized), 400, []string{"too large", "1 MiB"}},
			{"oversized swarm update", "POST", swarmUpdate, string(oversized), 400, []string{"too large"}},
			{"unknown node: inspect", "GET", "/nodes/nosuchnode", "", 404, []string{"No such node: nosuchnode"}},
			{"unknown node: update", "POST", "/nodes/nosuchnode/update?version=1", `{"Role":"worker","Availability":"active"}`, 404, []string{"No such node: nosuchnode"}},
			{"unknown node: remove", "DELETE", "/nodes/nosuchnode?force=1", "", 404, []string{"No such node: nosuchnode"}},
			{"invalid availability", "POST", nodeUpdate, `{"Role":"manager","Availability":"sleepy"}`, 400, []string{`invalid availability "sleepy"`, "active, pause or drain"}},
			{"invalid role", "POST", nodeUpdate, `{"Role":"king","Availability":"active"}`, 400, []string{`invalid role "king"`, "worker or manager"}},
			{"stale node version", "POST", fmt.Sprintf("/nodes/%s/update?version=%d", nodeID, nodeBefore.Version.Index+1000), `{"Role":"manager","Availability":"drain"}`, 409, []string{"out of sequence"}},
			{"missing node version", "POST", "/nodes/" + nodeID + "/update", `{"Role":"manager","Availability":"drain"}`, 400, []string{"version"}},
			{"negative heartbeat", "POST", swarmUpdate, withHeartbeat(t, validSwarmSpec, -time.Second), 400, []string{"dispatcher heartbeat", "-1s"}},
			{"heartbeat as a string", "POST", swarmUpdate, strings.Replace(withHeartbeat(t, validSwarmSpec, time.Second), "1000000000", `"1s"`, 1), 400, []string{"HeartbeatPeriod"}},
			{"certificate expiry below the minimum", "POST", swarmUpdate, withCertExpiry(t, validSwarmSpec, time.Second), 400, []string{"certificate expiry", "1s"}},
			{"bad query flag", "POST", swarmUpdate + "&rotateWorkerToken=maybe", string(validSwarmSpec), 400, []string{"rotateWorkerToken"}},
			{"form-encoded body", "POST", nodeUpdate, "Role=manager", 400, []string{"Content-Type"}},
			{"unknown path", "GET", "/nodes/" + nodeID + "/nope", "", 404, []string{"page not found"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				contentType := "application/json"
				if tc.name == "form-encoded body" {
					contentType = "application/x-www-form-urlencoded"
				}
				status, msg, err := api.do(tc.method, tc.path, contentType, tc.body)
				if err != nil {
					t.Fatal(err)
				}
				if status != tc.status {
					t.Errorf("%s %s: status %d (%q), want %d", tc.method, tc.path, status, msg, tc.status)
				}
				for _, want := range tc.want {
					if !strings.Contains(msg, want) {
						t.Errorf("%s %s: message %q does not say %q", tc.method, tc.path, msg, want)
					}
				}
				t.Logf("%d %s", status, msg)
			})
		}
	})

	t.Run("CLI", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			args []string
			want []string // in stderr
		}{
			{"negative heartbeat", []string{"swarm", "update", "--dispatcher-heartbeat", "-1s"}, []string{"--dispatcher-heartbeat", "-1s"}},
			{"not a duration", []string{"swarm", "update", "--dispatcher-heartbeat", "soon"}, []string{"--dispatcher-heartbeat", "soon"}},
			{"certificate expiry below the minimum", []string{"swarm", "update", "--cert-expiry", "1s"}, []string{"certificate expiry", "1s"}},
			{"invalid availability", []string{"node", "update", "--availability", "sleepy", mgr}, []string{"sleepy"}},
			{"invalid role", []string{"node", "update", "--role", "king", mgr}, []string{"king"}},
			{"unknown node", []string{"node", "inspect", "nosuchnode"}, []string{"No such node: nosuchnode"}},
			{"unknown node to remove", []string{"node", "rm", "nosuchnode"}, []string{"No such node: nosuchnode"}},
			{"unknown flag", []string{"node", "ls", "--bogus"}, []string{"unknown flag: --bogus"}},
			{"unknown shorthand flag", []string{"swarm", "update", "-z"}, []string{"unknown shorthand flag: 'z'"}},
			{"unknown command", []string{"nodes", "ls"}, []string{"nodes"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				out, errOut, err := run(t, l, mgr, tc.args...)
				if err == nil {
					t.Fatalf("shoal %s succeeded: %s", strings.Join(tc.args, " "), out)
				}
				for _, want := range tc.want {
					if !strings.Contains(errOut, want) {
						t.Errorf("shoal %s: stderr %q does not say %q", strings.Join(tc.args, " "), errOut, want)
					}
				}
				t.Logf("%v: %s", err, strings.TrimSpace(errOut))
			})
		}
	})

	t.Run("nothing changed and the daemon answers", func(t *testing.T) {
		status, body, err := api.do("GET", "/_ping", "", "")
		if err != nil || status != 200 || body != "OK" {
			t.Fatalf("/_ping after the bad requests: %d %q %v", status, body, err)
		}
		after, err := mc.NodeInspect(ctx, nodeID, client.NodeInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if after.Node.Version != nodeBefore.Version || after.Node.Spec.Role != swarm.NodeRoleManager ||
			after.Node.Spec.Availability != nodeBefore.Spec.Availability || len(after.Node.Spec.Labels) != len(nodeBefore.Spec.Labels) {
			t.Errorf("the node changed: before %+v (version %d), after %+v (version %d)", nodeBefore.Spec, nodeBefore.Version.Index, after.Node.Spec, after.Node.Version.Index)
		}
		sw, err := mc.SwarmInspect(ctx, client.SwarmInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sw.Swarm.Version != swarmBefore.Swarm.Version || sw.Swarm.Spec.Dispatcher != swarmBefore.Swarm.Spec.Dispatcher ||
			sw.Swarm.Spec.CAConfig.NodeCertExpiry != swarmBefore.Swarm.Spec.CAConfig.NodeCertExpiry || sw.Swarm.JoinTokens != swarmBefore.Swarm.JoinTokens {
			t.Errorf("the swarm changed: version %d → %d, dispatcher %+v → %+v, cert expiry %s → %s",
				swarmBefore.Swarm.Version.Index, sw.Swarm.Version.Index, swarmBefore.Swarm.Spec.Dispatcher, sw.Swarm.Spec.Dispatcher,
				swarmBefore.Swarm.Spec.CAConfig.NodeCertExpiry, sw.Swarm.Spec.CAConfig.NodeCertExpiry)
		}
		// And a good update still goes through.
		mustRun(t, l, mgr, "node", "update", "--label-add", "checked=yes", mgr)
	})
}

// rawAPI speaks HTTP to a daemon's unix socket, for requests the moby client would not send.
type rawAPI struct{ http *http.Client }

func newRawAPI(socket string) *rawAPI {
	return &rawAPI{http: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}},
	}}
}

// do sends one request and returns the status and the error message (or the body when it
// is not Docker's error form).
func (a *rawAPI) do(method, path, contentType, body string) (int, string, error) {
	req, err := http.NewRequest(method, "http://shoal"+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if contentType != "" && body != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", err
	}
	var e struct{ Message string }
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(data, &e); err != nil || e.Message == "" {
			return resp.StatusCode, string(data), fmt.Errorf("%s %s: status %d without Docker's error form: %q", method, path, resp.StatusCode, data)
		}
		return resp.StatusCode, e.Message, nil
	}
	return resp.StatusCode, string(data), nil
}

// withHeartbeat returns a swarm spec (JSON) with the dispatcher heartbeat set to d.
func withHeartbeat(t *testing.T, specJSON []byte, d time.Duration) string {
	t.Helper()
	var spec swarm.Spec
	decodeJSON(t, string(specJSON), &spec)
	spec.Dispatcher.HeartbeatPeriod = d
	out, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// withCertExpiry returns a swarm spec (JSON) with the node certificate expiry set to d.
func withCertExpiry(t *testing.T, specJSON []byte, d time.Duration) string {
	t.Helper()
	var spec swarm.Spec
	decodeJSON(t, string(specJSON), &spec)
	spec.CAConfig.NodeCertExpiry = d
	out, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
