package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/network"
)

// fakeNetworkAPI puts the /networks endpoints in front of a fakeDaemon, as fakeServiceAPI
// does for services: it answers them from its own state, records them in the daemon's
// request list, and hands every other request to the daemon.
type fakeNetworkAPI struct {
	*fakeDaemon

	// Guarded by fakeDaemon.mu, like the daemon's own state. Services are what inspect
	// -v shows; a plain inspect leaves them out.
	networks []network.Inspect
	nextID   int
}

// IDs of the fixture networks (25 characters, like swarm's).
const (
	idIngress = "ingressidabcdefghijklmnop"
	idWebnet  = "webnetidabcdefghijklmnopq"
	idBack2   = "back2idabcdefghijklmnopqr"
	idBack10  = "back10idabcdefghijklmnopq"
)

// newNetworkDaemon is a fake cluster daemon with the fixture networks: ingress, webnet
// (in use by the service web), back-2 and back-10.
func newNetworkDaemon(t *testing.T) *fakeNetworkAPI {
	t.Helper()
	f := &fakeNetworkAPI{fakeDaemon: newClusterDaemon(t), networks: fixtureNetworks()}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.host = "tcp://" + strings.TrimPrefix(srv.URL, "http://")
	return f
}

func (f *fakeNetworkAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p, ok := strings.CutPrefix(r.URL.Path, "/v"+fakeAPIVersion)
	if !ok || !strings.HasPrefix(p, "/networks") {
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.fakeDaemon.serve(w, r)
		return
	}

	w.Header().Set("Api-Version", fakeAPIVersion)
	w.Header().Set("Ostype", "linux")
	f.mu.Lock()
	defer f.mu.Unlock()
	req := fakeRequest{Method: r.Method, Path: p, Query: r.URL.Query(), Body: body}
	f.requests = append(f.requests, req)
	if fail, ok := f.failures[req.String()]; ok {
		writeFakeError(w, fail.status, fail.msg)
		return
	}
	status, reply, err := f.route(req)
	if err != nil {
		writeFakeError(w, status, err.Error())
		return
	}
	if reply == nil {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(reply)
}

// route answers one request; the caller holds f.mu.
func (f *fakeNetworkAPI) route(r fakeRequest) (int, any, error) {
	ref, _ := strings.CutPrefix(r.Path, "/networks/")
	switch what := r.String(); {
	case what == "POST /networks/create":
		return f.createNetwork(r)
	case what == "GET /networks":
		return 200, f.listNetworks(r), nil
	case r.Method == "GET" && !strings.Contains(ref, "/"):
		i, err := f.findNetwork(ref)
		if err != nil {
			return 404, nil, err
		}
		n := f.networks[i]
		if r.Query.Get("verbose") != "true" {
			n.Services = nil
		}
		return 200, n, nil
	case r.Method == "DELETE" && !strings.Contains(ref, "/"):
		i, err := f.findNetwork(ref)
		if err != nil {
			return 404, nil, err
		}
		if n := f.networks[i]; len(n.Services) > 0 {
			return 403, nil, fmt.Errorf("network %s is in use by service web: remove the service or its network (service update --network-rm) first", n.Name)
		}
		f.networks = append(f.networks[:i], f.networks[i+1:]...)
		return 204, nil, nil
	}
	return 404, nil, fmt.Errorf("page not found")
}

func (f *fakeNetworkAPI) createNetwork(r fakeRequest) (int, any, error) {
	var req network.CreateRequest
	if err := json.Unmarshal(r.Body, &req); err != nil {
		return 400, nil, err
	}
	if _, err := f.findNetwork(req.Name); err == nil {
		return 409, nil, fmt.Errorf("network with name %s already exists", req.Name)
	}
	f.nextID++
	id := fmt.Sprintf("newnet%019d", f.nextID)
	f.networks = append(f.networks, network.Inspect{Network: network.Network{
		ID: id, Name: req.Name, Driver: req.Driver, Scope: "swarm", Labels: req.Labels, Options: req.Options,
	}})
	return 201, network.CreateResponse{ID: id}, nil
}

func (f *fakeNetworkAPI) listNetworks(r fakeRequest) []network.Summary {
	filters := queryFilters(r)
	out := []network.Summary{}
	for _, n := range f.networks {
		if matchAny(filters["name"], func(v string) bool { return strings.Contains(n.Name, v) }) &&
			matchAny(filters["driver"], func(v string) bool { return n.Driver == v }) {
			out = append(out, network.Summary{Network: n.Network})
		}
	}
	return out
}

// findNetwork finds a network by ID, name or unique ID prefix, as the daemon does.
func (f *fakeNetworkAPI) findNetwork(ref string) (int, error) {
	found := -1
	for i, n := range f.networks {
		if n.ID == ref || n.Name == ref {
			return i, nil
		}
		if strings.HasPrefix(n.ID, ref) {
			if found >= 0 {
				return -1, fmt.Errorf("network %s is ambiguous", ref)
			}
			found = i
		}
	}
	if found < 0 {
		return -1, fmt.Errorf("network %s not found", ref)
	}
	return found, nil
}

// fixtureNetworks are in the daemon's order, which is not the listing's: network ls sorts.
func fixtureNetworks() []network.Inspect {
	overlay := func(id, name, subnet, gateway, vni string) network.Inspect {
		return network.Inspect{
			Network: network.Network{
				ID: id, Name: name, Created: fixtureTime, Scope: "swarm", Driver: "overlay", EnableIPv4: true,
				IPAM: network.IPAM{Driver: "default", Options: map[string]string{}, Config: []network.IPAMConfig{{
					Subnet: netip.MustParsePrefix(subnet), Gateway: netip.MustParseAddr(gateway),
				}}},
				Options: map[string]string{"com.docker.network.driver.overlay.vxlanid_list": vni},
				Labels:  map[string]string{},
			},
			Containers: map[string]network.EndpointResource{},
		}
	}
	ingress := overlay(idIngress, "ingress", "10.0.0.0/24", "10.0.0.1", "4096")
	ingress.Ingress = true
	webnet := overlay(idWebnet, "webnet", "10.0.1.0/24", "10.0.1.1", "4097")
	webnet.Attachable = true
	webnet.Labels = map[string]string{"tier": "web", "env": "test"}
	webnet.Peers = []network.PeerInfo{
		{Name: "manager-1", IP: netip.MustParseAddr("10.99.0.11")},
		{Name: "worker-1", IP: netip.MustParseAddr("10.99.0.21")},
	}
	webnet.Services = map[string]network.ServiceInfo{"web": {
		VIP:   netip.MustParseAddr("10.0.1.2"),
		Ports: []string{"Target: 8080, Publish: 8080"},
		Tasks: []network.Task{
			{Name: "web.1." + idWeb, EndpointID: "t1", EndpointIP: netip.MustParseAddr("10.0.1.3"), Info: map[string]string{"Host IP": "10.99.0.11"}},
			{Name: "web.2." + idWeb, EndpointID: "t2", EndpointIP: netip.MustParseAddr("10.0.1.4"), Info: map[string]string{"Host IP": "10.99.0.21"}},
		},
	}}
	back10 := overlay(idBack10, "back-10", "10.0.3.0/24", "10.0.3.1", "4099")
	back10.Internal = true
	back2 := overlay(idBack2, "back-2", "10.0.2.0/24", "10.0.2.1", "4098")
	return []network.Inspect{webnet, back10, ingress, back2}
}
