package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/shoal/shoal/internal/apierr"
)

// Decoder numbers of FuzzDecodeRequests' first argument (taken modulo decoderCount).
const (
	fuzzInit uint8 = iota
	fuzzJoin
	fuzzSwarmSpec
	fuzzUnlock
	fuzzNodeSpec
	fuzzNodeFilters
	decoderCount
)

// FuzzDecodeRequests drives every request decoder with arbitrary input. A decoder must
// never panic; it refuses input only with an Invalid error (a 400, never a 500); and what it
// accepts must survive a round trip: encoding the decoded value and decoding that again
// gives the same value.
//
// Run with: go test -run '^$' -fuzz FuzzDecodeRequests ./api/
func FuzzDecodeRequests(f *testing.F) {
	f.Add(fuzzInit, []byte(`{"ListenAddr":"0.0.0.0:2377","AdvertiseAddr":"10.0.0.1","DefaultAddrPool":["10.10.0.0/16"],"SubnetSize":24,"Spec":{"Orchestration":{"TaskHistoryRetentionLimit":5}}}`))
	f.Add(fuzzJoin, []byte(`{"ListenAddr":"0.0.0.0:2377","RemoteAddrs":["10.0.0.1:2377"],"JoinToken":"SWMTKN-1-abc-def","Availability":"active"}`))
	f.Add(fuzzSwarmSpec, []byte(`{"Name":"default","Labels":{"a":"b"},"Raft":{"SnapshotInterval":10000,"KeepOldSnapshots":0,"ElectionTick":10,"HeartbeatTick":1},"Dispatcher":{"HeartbeatPeriod":5000000000},"CAConfig":{"NodeCertExpiry":7776000000000000,"ExternalCAs":[{"Protocol":"cfssl","URL":"https://ca.example"}]},"TaskDefaults":{"LogDriver":{"Name":"json-file"}},"EncryptionConfig":{"AutoLockManagers":true}}`))
	f.Add(fuzzUnlock, []byte(`{"UnlockKey":"SWMKEY-1-abc"}`))
	f.Add(fuzzNodeSpec, []byte(`{"Name":"n","Labels":{"zone":"a"},"Role":"manager","Availability":"drain"}`))
	f.Add(fuzzNodeFilters, []byte(`{"role":{"manager":true},"name":["web"],"node.label":{"zone=a":true}}`))
	f.Add(fuzzNodeSpec, []byte(`{"Role":1}`))
	f.Add(fuzzSwarmSpec, []byte(`{"CAConfig":{"ExternalCAs":[null]}}`))

	f.Fuzz(func(t *testing.T, decoder uint8, data []byte) {
		switch decoder % decoderCount {
		case fuzzInit:
			checkRoundTrip(t, decodeInitRequest, data)
		case fuzzJoin:
			checkRoundTrip(t, decodeJoinRequest, data)
		case fuzzSwarmSpec:
			checkRoundTrip(t, decodeSwarmSpec, data)
		case fuzzUnlock:
			checkRoundTrip(t, decodeUnlockRequest, data)
		case fuzzNodeSpec:
			checkRoundTrip(t, decodeNodeSpec, data)
		case fuzzNodeFilters:
			checkNodeFiltersRoundTrip(t, string(data))
		}
	})
}

func checkRoundTrip[T any](t *testing.T, decode func([]byte) (T, error), data []byte) {
	v, err := decode(data)
	if err != nil {
		if apierr.KindOf(err) != apierr.KindInvalid {
			t.Fatalf("decode(%q) failed with a non-Invalid error: %v", data, err)
		}
		return
	}
	first, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("accepted %q but cannot encode the result %+v: %v", data, v, err)
	}
	again, err := decode(first)
	if err != nil {
		t.Fatalf("accepted %q but refuses its own re-encoding %s: %v", data, first, err)
	}
	second, err := json.Marshal(again)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatalf("round trip of %q changed the value:\n first %s\nsecond %s", data, first, second)
	}
}

func checkNodeFiltersRoundTrip(t *testing.T, raw string) {
	f, err := parseNodeFilters(raw)
	if err != nil {
		if apierr.KindOf(err) != apierr.KindInvalid {
			t.Fatalf("parseNodeFilters(%q) failed with a non-Invalid error: %v", raw, err)
		}
		return
	}
	for name, values := range map[string][]string{
		"id": f.ID, "label": f.Label, "membership": f.Membership, "name": f.Name, "node.label": f.NodeLabel, "role": f.Role,
	} {
		if !slices.IsSorted(values) || len(slices.Compact(slices.Clone(values))) != len(values) {
			t.Fatalf("parseNodeFilters(%q): %s values %q are not sorted and unique", raw, name, values)
		}
	}
	for _, r := range f.Role {
		if r != "manager" && r != "worker" {
			t.Fatalf("parseNodeFilters(%q) accepted role %q", raw, r)
		}
	}
	for _, m := range f.Membership {
		if m != "accepted" && m != "pending" {
			t.Fatalf("parseNodeFilters(%q) accepted membership %q", raw, m)
		}
	}
	encoded := encodeNodeFilters(f)
	again, err := parseNodeFilters(encoded)
	if err != nil {
		t.Fatalf("accepted %q but refuses its re-encoding %s: %v", raw, encoded, err)
	}
	if !reflect.DeepEqual(f, again) {
		t.Fatalf("round trip of %q via %s changed the filters:\n%+v\n%+v", raw, encoded, f, again)
	}
}

// encodeNodeFilters writes filters the way the moby client sends them.
func encodeNodeFilters(f NodeListFilters) string {
	args := map[string]map[string]bool{}
	for name, values := range map[string][]string{
		"id": f.ID, "label": f.Label, "membership": f.Membership, "name": f.Name, "node.label": f.NodeLabel, "role": f.Role,
	} {
		for _, v := range values {
			if args[name] == nil {
				args[name] = map[string]bool{}
			}
			args[name][v] = true
		}
	}
	b, err := json.Marshal(args)
	if err != nil {
		panic(err)
	}
	return string(b)
}
