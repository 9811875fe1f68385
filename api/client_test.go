package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// TestMobyClient drives the server with the real moby Go client (what the docker CLI is
// built on), so the wire shapes are the ones the client sends and expects, not ones the
// test assumed.
func TestMobyClient(t *testing.T) {
	fake := newFakeBackend()
	var (
		mu    sync.Mutex
		paths []string
	)
	h := NewHandler(fake, Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()

	c, err := client.New(client.WithHost("tcp://"+strings.TrimPrefix(srv.URL, "http://")), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	ping, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if ping.APIVersion != "1.56" || ping.OSType != "linux" || ping.SwarmStatus == nil ||
		ping.SwarmStatus.NodeState != swarm.LocalNodeStateActive || !ping.SwarmStatus.ControlAvailable {
		t.Errorf("Ping = %+v (swarm %+v), want API 1.56, linux, active manager", ping, ping.SwarmStatus)
	}

	info, err := c.Info(ctx, client.InfoOptions{})
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Info.Name != "manager-1" || info.Info.Swarm.NodeID != "n1" {
		t.Errorf("Info = %+v", info.Info)
	}

	spec := swarm.Spec{Annotations: swarm.Annotations{Name: "default"}}
	initRes, err := c.SwarmInit(ctx, client.SwarmInitOptions{ListenAddr: "0.0.0.0:2377", AdvertiseAddr: "10.0.0.1", Spec: spec, Availability: swarm.NodeAvailabilityActive})
	if err != nil {
		t.Fatalf("SwarmInit: %v", err)
	}
	if initRes.NodeID != "n1" {
		t.Errorf("SwarmInit node ID = %q, want n1", initRes.NodeID)
	}
	if calls := fake.callsTo("SwarmInit"); len(calls) != 1 {
		t.Errorf("SwarmInit calls = %v", calls)
	} else if req := calls[0][0].(swarm.InitRequest); req.ListenAddr != "0.0.0.0:2377" || req.AdvertiseAddr != "10.0.0.1" ||
		req.Spec.Name != "default" || req.Availability != swarm.NodeAvailabilityActive {
		t.Errorf("backend got init request %+v", req)
	}

	list, err := c.NodeList(ctx, client.NodeListOptions{Filters: make(client.Filters).Add("role", "worker").Add("name", "worker-1", "w2")})
	if err != nil {
		t.Fatalf("NodeList: %v", err)
	}
	if len(list.Items) != 1 || list.Items[0].ID != "n2" {
		t.Errorf("NodeList = %+v, want only n2", list.Items)
	}
	wantFilters := NodeListFilters{Role: []string{"worker"}, Name: []string{"w2", "worker-1"}}
	if calls := fake.callsTo("NodeList"); len(calls) != 1 || !reflect.DeepEqual(calls[0][0], wantFilters) {
		t.Errorf("NodeList calls = %+v, want filters %+v", calls, wantFilters)
	}

	nodeSpec := swarm.NodeSpec{Annotations: swarm.Annotations{Labels: map[string]string{"zone": "a"}}, Role: swarm.NodeRoleWorker, Availability: swarm.NodeAvailabilityDrain}
	if _, err := c.NodeUpdate(ctx, "n2", client.NodeUpdateOptions{Version: swarm.Version{Index: 42}, Spec: nodeSpec}); err != nil {
		t.Fatalf("NodeUpdate: %v", err)
	}
	if calls := fake.callsTo("NodeUpdate"); len(calls) != 1 || calls[0][0] != "n2" || calls[0][1] != uint64(42) || !reflect.DeepEqual(calls[0][2], nodeSpec) {
		t.Errorf("NodeUpdate calls = %+v, want n2, 42, %+v", calls, nodeSpec)
	}

	if _, err := c.NodeRemove(ctx, "n2", client.NodeRemoveOptions{Force: true}); err != nil {
		t.Fatalf("NodeRemove: %v", err)
	}
	if calls := fake.callsTo("NodeRemove"); len(calls) != 1 || calls[0][0] != "n2" || calls[0][1] != true {
		t.Errorf("NodeRemove calls = %+v, want n2 forced", calls)
	}

	_, err = c.NodeRemove(ctx, "ghost", client.NodeRemoveOptions{})
	if !cerrdefs.IsNotFound(err) || !strings.Contains(err.Error(), "No such node: ghost") {
		t.Errorf("NodeRemove(ghost) err = %v, want a not-found error saying No such node: ghost", err)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, p := range paths {
		if !strings.Contains(p, "/_ping") && !strings.Contains(p, " /v1.56/") {
			t.Errorf("client request %q did not use the negotiated /v1.56 prefix", p)
		}
	}
}
