package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/shoal/shoal/internal/apierr"
)

// The fake's NetworkBackend side. The networks are fixed (fakeNetworks): "front" is in use
// by the service web and cannot be removed, "ingress" is the routing mesh's.

const (
	fakeFrontID   = "f1abcdefghijklmnopqrstuvw"
	fakeIngressID = "in1bcdefghijklmnopqrstuvw"
)

func fakeNetworks() []network.Network {
	created := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	overlay := func(id, name string, subnet, gateway string) network.Network {
		return network.Network{
			ID: id, Name: name, Created: created, Scope: "swarm", Driver: "overlay", EnableIPv4: true,
			IPAM: network.IPAM{Driver: "default", Config: []network.IPAMConfig{{
				Subnet: netip.MustParsePrefix(subnet), Gateway: netip.MustParseAddr(gateway),
			}}},
			Options: map[string]string{"com.docker.network.driver.overlay.vxlanid_list": "4097"},
			Labels:  map[string]string{},
		}
	}
	ingress := overlay(fakeIngressID, "ingress", "10.0.0.0/24", "10.0.0.1")
	ingress.Ingress = true
	front := overlay(fakeFrontID, "front", "10.0.1.0/24", "10.0.1.1")
	front.Attachable = true
	front.Labels = map[string]string{"tier": "front"}
	return []network.Network{ingress, front}
}

func (f *fakeBackend) NetworkCreate(_ context.Context, req network.CreateRequest) (network.CreateResponse, error) {
	if err := f.record("NetworkCreate", req); err != nil {
		return network.CreateResponse{}, err
	}
	return network.CreateResponse{ID: "net-new"}, nil
}

func (f *fakeBackend) NetworkList(_ context.Context, filters NetworkListFilters) ([]network.Summary, error) {
	if err := f.record("NetworkList", filters); err != nil {
		return nil, err
	}
	var out []network.Summary
	for _, n := range fakeNetworks() {
		if len(filters.Name) == 0 || filters.Name[0] == n.Name {
			out = append(out, network.Summary{Network: n})
		}
	}
	return out, nil
}

func findFakeNetwork(idOrName string) (network.Network, error) {
	for _, n := range fakeNetworks() {
		if n.ID == idOrName || n.Name == idOrName {
			return n, nil
		}
	}
	return network.Network{}, apierr.NotFoundf("network %s not found", idOrName)
}

func (f *fakeBackend) NetworkInspect(_ context.Context, idOrName string, verbose bool) (network.Inspect, error) {
	if err := f.record("NetworkInspect", idOrName, verbose); err != nil {
		return network.Inspect{}, err
	}
	n, err := findFakeNetwork(idOrName)
	if err != nil {
		return network.Inspect{}, err
	}
	out := network.Inspect{Network: n} // Containers left nil: the API must send {}
	if verbose && n.ID == fakeFrontID {
		out.Services = map[string]network.ServiceInfo{"web": {
			VIP:   netip.MustParseAddr("10.0.1.2"),
			Ports: []string{},
			Tasks: []network.Task{{Name: "web.1.t1", EndpointID: "t1", EndpointIP: netip.MustParseAddr("10.0.1.3"), Info: map[string]string{}}},
		}}
	}
	return out, nil
}

func (f *fakeBackend) NetworkRemove(_ context.Context, idOrName string) error {
	if err := f.record("NetworkRemove", idOrName); err != nil {
		return err
	}
	n, err := findFakeNetwork(idOrName)
	if err != nil {
		return err
	}
	if n.ID == fakeFrontID {
		return apierr.Forbiddenf("network front is in use by service web: remove the service or its network (service update --network-rm) first")
	}
	return nil
}

func TestNetworkRouting(t *testing.T) {
	body := `{"Name":"back","Driver":"overlay","Attachable":true,"IPAM":{"Driver":"default","Config":[{"Subnet":"10.0.9.0/24","Gateway":"10.0.9.1"}]}}`
	checkRoutes(t, []routeCase{
		{"POST", "/networks/create", body, 201, "NetworkCreate"},
		{"POST", "/v1.44/networks/create", body, 201, "NetworkCreate"},
		{"GET", "/networks", "", 200, "NetworkList"},
		{"GET", `/v1.56/networks?filters={"driver":{"overlay":true},"type":{"custom":true}}`, "", 200, "NetworkList"},
		{"GET", "/networks/front", "", 200, "NetworkInspect"},
		{"HEAD", "/v1.41/networks/" + fakeFrontID, "", 200, "NetworkInspect"},
		{"GET", "/networks/front?verbose=true&scope=swarm", "", 200, "NetworkInspect"},
		{"GET", "/networks/front?scope=local", "", 404, "NetworkInspect"},
		{"GET", "/networks/create", "", 404, "NetworkInspect"}, // a network named "create", as in Docker
		{"DELETE", "/networks/back", "", 404, "NetworkRemove"},
		{"DELETE", "/v1.51/networks/ingress", "", 204, "NetworkRemove"},
		{"DELETE", "/networks/front", "", 403, "NetworkRemove"},
		{"GET", "/networks/ghost", "", 404, "NetworkInspect"},

		{"POST", "/networks/front/connect", `{"Container":"c1"}`, 501, ""},
		{"POST", "/v1.51/networks/front/disconnect", `{"Container":"c1","Force":true}`, 501, ""},
		{"POST", "/networks/prune", "", 501, ""},
		{"GET", "/networks/front/connect", "", 405, ""},
		{"PUT", "/networks/front", "", 405, ""},
		{"POST", "/networks", "", 405, ""},
		{"GET", "/networks/front/containers", "", 404, ""},
	})
}

func TestNetworkRequestsReachBackendIntact(t *testing.T) {
	fake := newFakeBackend()
	h := NewHandler(fake, Options{})

	rec := do(t, h, "POST", "/v1.51/networks/create", `{"Name":"back","Driver":"overlay","Scope":"swarm","Internal":true,"Attachable":true,`+
		`"IPAM":{"Driver":"default","Options":{},"Config":[{"Subnet":"10.0.9.0/24","Gateway":"10.0.9.1"}]},`+
		`"Options":{"encrypted":""},"Labels":{"tier":"back"},"CheckDuplicate":true}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: status %d, want 201 (body %q)", rec.Code, rec.Body.String())
	}
	var created network.CreateResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil || created.ID != "net-new" {
		t.Errorf("create body = %q, want Id net-new", rec.Body.String())
	}
	wantReq := network.CreateRequest{
		Name: "back", Driver: "overlay", Scope: "swarm", Internal: true, Attachable: true,
		IPAM: &network.IPAM{Driver: "default", Options: map[string]string{}, Config: []network.IPAMConfig{{
			Subnet: netip.MustParsePrefix("10.0.9.0/24"), Gateway: netip.MustParseAddr("10.0.9.1"),
		}}},
		Options: map[string]string{"encrypted": ""},
		Labels:  map[string]string{"tier": "back"},
	}
	if calls := fake.callsTo("NetworkCreate"); len(calls) != 1 || !reflect.DeepEqual(calls[0][0], wantReq) {
		t.Errorf("NetworkCreate calls = %+v, want %+v", calls, wantReq)
	}

	do(t, h, "GET", "/networks?filters="+urlQueryEscape(
		`{"name":{"front":true,"back":true},"id":["f1"],"driver":{"overlay":true},"label":{"tier=front":true},"scope":{"Swarm":true},"type":{"custom":true,"BUILTIN":true}}`), "")
	wantFilters := NetworkListFilters{
		ID: []string{"f1"}, Name: []string{"back", "front"}, Driver: []string{"overlay"}, Label: []string{"tier=front"},
		Scope: []string{"swarm"}, Type: []string{"builtin", "custom"},
	}
	if calls := fake.callsTo("NetworkList"); len(calls) != 1 || !reflect.DeepEqual(calls[0][0], wantFilters) {
		t.Errorf("NetworkList calls = %+v, want %+v", calls, wantFilters)
	}

	rec = do(t, h, "GET", "/networks/front?verbose=1", "")
	do(t, h, "GET", "/networks/"+fakeIngressID, "")
	if calls := fake.callsTo("NetworkInspect"); len(calls) != 2 || calls[0][0] != "front" || calls[0][1] != true ||
		calls[1][0] != fakeIngressID || calls[1][1] != false {
		t.Errorf("NetworkInspect calls = %+v, want front verbose, then ingress not", calls)
	}
	var inspected map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &inspected); err != nil {
		t.Fatal(err)
	}
	if string(inspected["Containers"]) != "{}" || inspected["Services"] == nil || string(inspected["Id"]) != `"`+fakeFrontID+`"` {
		t.Errorf("inspect body = %s, want Id, Containers {} and the services", rec.Body.String())
	}

	do(t, h, "DELETE", "/networks/"+fakeIngressID, "")
	if calls := fake.callsTo("NetworkRemove"); len(calls) != 1 || calls[0][0] != fakeIngressID {
		t.Errorf("NetworkRemove calls = %+v", calls)
	}
}

func TestNetworkListAnswersEmptyArray(t *testing.T) {
	fake := newFakeBackend()
	rec := do(t, NewHandler(fake, Options{}), "GET", "/networks?filters="+urlQueryEscape(`{"name":{"none":true}}`), "")
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("status %d body %q, want 200 []", rec.Code, rec.Body.String())
	}
}

func TestNetworkRemoveInUseSaysWhy(t *testing.T) {
	rec := do(t, NewHandler(newFakeBackend(), Options{}), "DELETE", "/networks/front", "")
	if rec.Code != http.StatusForbidden {
		t.Fatalf("status %d, want 403", rec.Code)
	}
	if msg := errorMessage(t, rec); !strings.Contains(msg, "in use by service web") {
		t.Errorf("message %q, want the service that uses it", msg)
	}
}

func TestRefusedNetworkRequestsNeverReachBackend(t *testing.T) {
	big := `{"Name":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	checkRefused(t, []refusedCase{
		{"oversized body", "POST", "/networks/create", big, "request body too large (limit 1 MiB)"},
		{"empty body", "POST", "/networks/create", "", "empty request body: expected a JSON object (network create request)"},
		{"truncated body", "POST", "/networks/create", `{"Name":"back","IPAM":{`, "unexpected end of JSON input"},
		{"array body", "POST", "/v1.51/networks/create", `[]`, "expected a JSON object (network create request), got an array"},
		{"wrong type", "POST", "/networks/create", `{"Name":"back","Internal":"yes"}`, "field Internal must be a boolean"},
		{"labels not an object", "POST", "/networks/create", `{"Name":"back","Labels":["a=b"]}`, "field Labels must be an object"},
		{"bad subnet", "POST", "/networks/create", `{"Name":"back","IPAM":{"Config":[{"Subnet":"10.0.0.300/24"}]}}`, "10.0.0.300/24"},
		{"subnet without mask", "POST", "/networks/create", `{"Name":"back","IPAM":{"Config":[{"Subnet":"10.0.9.0"}]}}`, "no '/'"},
		{"bad gateway", "POST", "/networks/create", `{"Name":"back","IPAM":{"Config":[{"Subnet":"10.0.9.0/24","Gateway":"gw"}]}}`, `"gw"`},
		{"trailing garbage", "POST", "/networks/create", `{"Name":"back"}{}`, "unexpected content after the JSON object"},
		{"unknown filter", "GET", `/networks?filters={"dangling":{"true":true}}`, "", "invalid filter 'dangling'"},
		{"bad type", "GET", `/networks?filters={"type":{"user":true}}`, "", "invalid filter 'type=user': type must be custom or builtin"},
		{"bad scope filter", "GET", `/networks?filters={"scope":{"cluster":true}}`, "", "invalid filter 'scope=cluster'"},
		{"bad filters json", "GET", `/networks?filters={"name":"front"}`, "", "values of 'name' must be an object"},
		{"bad verbose", "GET", "/networks/front?verbose=loud", "", `invalid value "loud" for query parameter verbose`},
		{"bad scope", "GET", "/networks/front?scope=cluster", "", `invalid scope "cluster": must be swarm, local or global`},
	})

	t.Run("form-encoded body", func(t *testing.T) {
		fake := newFakeBackend()
		req := httptest.NewRequest("POST", "/networks/create", strings.NewReader("Name=back"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		NewHandler(fake, Options{}).ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest || !strings.Contains(errorMessage(t, rec), "must be 'application/json'") {
			t.Errorf("status %d body %q, want 400 about the Content-Type", rec.Code, rec.Body.String())
		}
		if fake.callCount() != 0 {
			t.Errorf("backend was called: %+v", fake.calls)
		}
	})
}

func TestNetworkConnectDisconnectPruneNotImplemented(t *testing.T) {
	tests := []struct{ target, body, wantMsg string }{
		{"/networks/front/connect", `{"Container":"c1"}`,
			"connecting containers to networks is not implemented yet: attach a service with service create --network or service update --network-add"},
		{"/networks/front/disconnect", `{"Container":"c1"}`,
			"disconnecting containers from networks is not implemented yet: detach a service with service update --network-rm"},
		{"/networks/prune", "", "network prune is not implemented yet: remove networks one at a time with network rm"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			fake := newFakeBackend()
			rec := do(t, NewHandler(fake, Options{}), "POST", tt.target, tt.body)
			if rec.Code != http.StatusNotImplemented {
				t.Fatalf("status = %d, want 501 (body %q)", rec.Code, rec.Body.String())
			}
			if msg := errorMessage(t, rec); msg != tt.wantMsg {
				t.Errorf("message = %q, want %q", msg, tt.wantMsg)
			}
			if fake.callCount() != 0 {
				t.Errorf("backend was called: %+v", fake.calls)
			}
		})
	}
}

// withoutNetworks hides the fake's NetworkBackend methods: only the Backend interface's
// methods are promoted.
type withoutNetworks struct{ Backend }

func TestNetworksNotImplemented(t *testing.T) {
	tests := []struct{ method, target, body string }{
		{"POST", "/networks/create", `{"Name":"back","Driver":"overlay"}`},
		{"POST", "/networks/create", `{"Name":`},
		{"GET", "/v1.51/networks", ""},
		{"GET", `/networks?filters={"bogus":{"x":true}}`, ""},
		{"GET", "/networks/front?verbose=true", ""},
		{"DELETE", "/networks/front", ""},
		{"POST", "/networks/front/connect", `{"Container":"c1"}`},
		{"POST", "/networks/front/disconnect", `{"Container":"c1"}`},
		{"POST", "/networks/prune", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			fake := newFakeBackend()
			target := strings.ReplaceAll(tt.target, `"`, "%22")
			rec := do(t, NewHandler(withoutNetworks{fake}, Options{}), tt.method, target, tt.body)
			if rec.Code != http.StatusNotImplemented {
				t.Fatalf("status = %d, want 501 (body %q)", rec.Code, rec.Body.String())
			}
			if msg := errorMessage(t, rec); msg != "networks are not implemented yet" {
				t.Errorf("message = %q, want %q", msg, "networks are not implemented yet")
			}
			if fake.callCount() != 0 {
				t.Errorf("backend was called: %+v", fake.calls)
			}
		})
	}
	// The other endpoints are unaffected.
	if rec := do(t, NewHandler(withoutNetworks{newFakeBackend()}, Options{}), "GET", "/nodes", ""); rec.Code != 200 {
		t.Errorf("GET /nodes without networks: status %d, want 200", rec.Code)
	}
}

func TestParseNetworkFilters(t *testing.T) {
	tests := []struct {
		raw     string
		want    NetworkListFilters
		wantErr string
	}{
		{raw: "", want: NetworkListFilters{}},
		{raw: `{"name":{"web":true,"api":true,"web ":false}}`, want: NetworkListFilters{Name: []string{"api", "web", "web "}}},
		{raw: `{"driver":["overlay","overlay"],"scope":["SWARM"]}`, want: NetworkListFilters{Driver: []string{"overlay"}, Scope: []string{"swarm"}}},
		{raw: `{"type":{"Custom":true,"":true}}`, want: NetworkListFilters{Type: []string{"custom"}}},
		{raw: `{"label":{"a":true,"b=c":true},"id":["x"]}`, want: NetworkListFilters{Label: []string{"a", "b=c"}, ID: []string{"x"}}},
		{raw: `{"dangling":["true"]}`, wantErr: "invalid filter 'dangling'"},
		{raw: `{"type":["bridge"]}`, wantErr: "invalid filter 'type=bridge': type must be custom or builtin"},
		{raw: `{"scope":["node"]}`, wantErr: "invalid filter 'scope=node': scope must be swarm or local or global"},
		{raw: `["name"]`, wantErr: "invalid filters"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := parseNetworkFilters(tt.raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || apierr.KindOf(err) != apierr.KindInvalid {
					t.Fatalf("err = %v, want an Invalid error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestMobyClientNetworks is TestMobyClient for the network endpoints: what `docker network
// create -d overlay`, ls, inspect -v and rm send, and what they make of the answers.
func TestMobyClientNetworks(t *testing.T) {
	fake := newFakeBackend()
	c, paths := newMobyClient(t, fake)
	ctx := context.Background()
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	opts := client.NetworkCreateOptions{
		Driver:     "overlay",
		Attachable: true,
		Internal:   true,
		IPAM: &network.IPAM{Driver: "default", Config: []network.IPAMConfig{{
			Subnet: netip.MustParsePrefix("10.0.9.0/24"), Gateway: netip.MustParseAddr("10.0.9.1"),
		}}},
		Options: map[string]string{"encrypted": ""},
		Labels:  map[string]string{"tier": "back"},
	}
	created, err := c.NetworkCreate(ctx, "back", opts)
	if err != nil {
		t.Fatalf("NetworkCreate: %v", err)
	}
	if created.ID != "net-new" || len(created.Warning) != 0 {
		t.Errorf("NetworkCreate = %+v, want ID net-new and no warning", created)
	}
	wantReq := network.CreateRequest{
		Name: "back", Driver: "overlay", Attachable: true, Internal: true, IPAM: opts.IPAM, Options: opts.Options, Labels: opts.Labels,
	}
	if calls := fake.callsTo("NetworkCreate"); len(calls) != 1 || !reflect.DeepEqual(calls[0][0], wantReq) {
		t.Errorf("NetworkCreate calls = %+v, want %+v", calls, wantReq)
	}

	list, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("name", "front").Add("driver", "overlay")})
	if err != nil {
		t.Fatalf("NetworkList: %v", err)
	}
	if len(list.Items) != 1 || list.Items[0].ID != fakeFrontID || list.Items[0].IPAM.Config[0].Subnet.String() != "10.0.1.0/24" {
		t.Errorf("NetworkList = %+v, want front", list.Items)
	}
	wantFilters := NetworkListFilters{Name: []string{"front"}, Driver: []string{"overlay"}}
	if calls := fake.callsTo("NetworkList"); len(calls) != 1 || !reflect.DeepEqual(calls[0][0], wantFilters) {
		t.Errorf("NetworkList calls = %+v, want %+v", calls, wantFilters)
	}

	inspected, err := c.NetworkInspect(ctx, "front", client.NetworkInspectOptions{Verbose: true, Scope: "swarm"})
	if err != nil {
		t.Fatalf("NetworkInspect: %v", err)
	}
	web, ok := inspected.Network.Services["web"]
	if inspected.Network.ID != fakeFrontID || !ok || web.VIP.String() != "10.0.1.2" || len(web.Tasks) != 1 ||
		web.Tasks[0].EndpointIP.String() != "10.0.1.3" || inspected.Network.Containers == nil {
		t.Errorf("NetworkInspect = %+v, want front with web's VIP and task", inspected.Network)
	}
	if calls := fake.callsTo("NetworkInspect"); len(calls) != 1 || calls[0][0] != "front" || calls[0][1] != true {
		t.Errorf("NetworkInspect calls = %+v, want front verbose", calls)
	}
	_, err = c.NetworkInspect(ctx, "front", client.NetworkInspectOptions{Scope: "local"})
	if !cerrdefs.IsNotFound(err) || !strings.Contains(err.Error(), "network front not found") {
		t.Errorf("NetworkInspect(front, scope local) err = %v, want not found", err)
	}

	if _, err := c.NetworkRemove(ctx, "ingress", client.NetworkRemoveOptions{}); err != nil {
		t.Fatalf("NetworkRemove: %v", err)
	}
	_, err = c.NetworkRemove(ctx, "front", client.NetworkRemoveOptions{})
	if !cerrdefs.IsPermissionDenied(err) || !strings.Contains(err.Error(), "network front is in use by service web") {
		t.Errorf("NetworkRemove(front) err = %v, want forbidden, naming the service", err)
	}
	_, err = c.NetworkRemove(ctx, "ghost", client.NetworkRemoveOptions{})
	if !cerrdefs.IsNotFound(err) {
		t.Errorf("NetworkRemove(ghost) err = %v, want not found", err)
	}

	_, err = c.NetworkConnect(ctx, "front", client.NetworkConnectOptions{Container: "c1"})
	if !cerrdefs.IsNotImplemented(err) || !strings.Contains(err.Error(), "service update --network-add") {
		t.Errorf("NetworkConnect err = %v, want not implemented, pointing at service update", err)
	}
	_, err = c.NetworkDisconnect(ctx, "front", client.NetworkDisconnectOptions{Container: "c1"})
	if !cerrdefs.IsNotImplemented(err) {
		t.Errorf("NetworkDisconnect err = %v, want not implemented", err)
	}
	_, err = c.NetworkPrune(ctx, client.NetworkPruneOptions{})
	if !cerrdefs.IsNotImplemented(err) || !strings.Contains(err.Error(), "network prune is not implemented yet") {
		t.Errorf("NetworkPrune err = %v, want not implemented", err)
	}

	checkNegotiatedPrefix(t, paths())
}

func TestMobyClientWithoutNetworks(t *testing.T) {
	c, _ := newMobyClient(t, withoutNetworks{newFakeBackend()})
	_, err := c.NetworkList(context.Background(), client.NetworkListOptions{})
	if !cerrdefs.IsNotImplemented(err) || !strings.Contains(err.Error(), "networks are not implemented yet") {
		t.Errorf("NetworkList err = %v, want not implemented", err)
	}
}

// Decoder numbers of FuzzDecodeNetworkRequests' first argument (taken modulo
// networkDecoderCount).
const (
	fuzzNetworkCreate uint8 = iota
	fuzzNetworkFilters
	networkDecoderCount
)

// FuzzDecodeNetworkRequests is FuzzDecodeRequests for the network endpoints' body and
// filters: no panic, only Invalid errors, and what is accepted survives a round trip.
//
// Run with: go test -run '^$' -fuzz FuzzDecodeNetworkRequests ./api/
func FuzzDecodeNetworkRequests(f *testing.F) {
	f.Add(fuzzNetworkCreate, []byte(`{"Name":"back","Driver":"overlay","Scope":"swarm","Internal":true,"Attachable":true,"Ingress":false,"EnableIPv6":false,"IPAM":{"Driver":"default","Options":{},"Config":[{"Subnet":"10.0.9.0/24","Gateway":"10.0.9.1","AuxiliaryAddresses":{"host":"10.0.9.5"}}]},"Options":{"encrypted":""},"Labels":{"tier":"back"}}`))
	f.Add(fuzzNetworkCreate, []byte(`{"Name":"back","IPAM":{"Config":[{"Subnet":"fd00::/64","IPRange":"fd00::/80","Gateway":"fe80::1%eth0"}]},"ConfigFrom":{"Network":"base"}}`))
	f.Add(fuzzNetworkCreate, []byte(`{"Name":"back","IPAM":{"Config":[null,{"Subnet":""}]}}`))
	f.Add(fuzzNetworkFilters, []byte(`{"driver":{"overlay":true},"type":["Custom"],"scope":{"swarm":true},"label":{"tier=front":true}}`))
	f.Add(fuzzNetworkFilters, []byte(`{"name":["front","front"],"id":{"f1":false}}`))

	f.Fuzz(func(t *testing.T, decoder uint8, data []byte) {
		switch decoder % networkDecoderCount {
		case fuzzNetworkCreate:
			checkRoundTrip(t, decodeNetworkCreateRequest, data)
		case fuzzNetworkFilters:
			checkFiltersRoundTrip(t, string(data), parseNetworkFilters, func(f NetworkListFilters) map[string][]string {
				return map[string][]string{
					"driver": f.Driver, "id": f.ID, "label": f.Label, "name": f.Name, "scope": f.Scope, "type": f.Type,
				}
			}, map[string][]string{"scope": networkScopes, "type": {"builtin", "custom"}})
		}
	})
}
