package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strconv"
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
	fuzzServiceSpec
	fuzzServiceFilters
	fuzzTaskFilters
	fuzzLogsQuery
	fuzzExecCreate
	fuzzExecStart
	decoderCount
)

// FuzzDecodeRequests drives every request decoder (bodies, filters and the logs query)
// with arbitrary input. A decoder must
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
	f.Add(fuzzServiceSpec, []byte(`{"Name":"web","Labels":{"tier":"front"},"TaskTemplate":{"ContainerSpec":{"Image":"sleepy:1","Args":["-d"],"Env":["A=1"],"Secrets":[{"SecretName":"s","File":{"Name":"s","Mode":292}}]},"RestartPolicy":{"Condition":"on-failure","Delay":1000000000},"Placement":{"Constraints":["node.role==worker"]},"Networks":[{"Target":"front"}]},"Mode":{"Replicated":{"Replicas":3}},"UpdateConfig":{"Parallelism":1,"Order":"start-first"},"EndpointSpec":{"Ports":[{"Protocol":"tcp","TargetPort":80,"PublishedPort":8080}]}}`))
	f.Add(fuzzServiceSpec, []byte(`{"TaskTemplate":{"ContainerSpec":{"Configs":[null]}}}`))
	f.Add(fuzzServiceFilters, []byte(`{"mode":{"replicated":true},"name":["web"],"label":{"tier=front":true}}`))
	f.Add(fuzzTaskFilters, []byte(`{"service":{"web":true},"desired-state":["Running"],"node":{"worker-1":true}}`))
	f.Add(fuzzLogsQuery, []byte(`follow=1&stdout=1&stderr=0&since=1700000000.000000001&tail=10&timestamps=true`))
	f.Add(fuzzExecCreate, []byte(`{"User":"app","Tty":true,"ConsoleSize":[24,80],"AttachStdin":true,"AttachStdout":true,"AttachStderr":true,"DetachKeys":"ctrl-p,ctrl-q","Env":["A=1"],"WorkingDir":"/srv","Cmd":["sh","-c","exit 7"]}`))
	f.Add(fuzzExecStart, []byte(`{"Detach":false,"Tty":true,"ConsoleSize":[24,80]}`))

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
		case fuzzServiceSpec:
			checkRoundTrip(t, decodeServiceSpec, data)
		case fuzzServiceFilters:
			checkServiceFiltersRoundTrip(t, string(data))
		case fuzzTaskFilters:
			checkTaskFiltersRoundTrip(t, string(data))
		case fuzzLogsQuery:
			checkLogsQueryRoundTrip(t, string(data))
		case fuzzExecCreate:
			checkRoundTrip(t, decodeExecCreateRequest, data)
		case fuzzExecStart:
			checkRoundTrip(t, decodeExecStartRequest, data)
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
	checkFiltersRoundTrip(t, raw, parseNodeFilters, func(f NodeListFilters) map[string][]string {
		return map[string][]string{
			"id": f.ID, "label": f.Label, "membership": f.Membership, "name": f.Name, "node.label": f.NodeLabel, "role": f.Role,
		}
	}, map[string][]string{"role": {"manager", "worker"}, "membership": {"accepted", "pending"}})
}

func checkServiceFiltersRoundTrip(t *testing.T, raw string) {
	checkFiltersRoundTrip(t, raw, parseServiceFilters, func(f ServiceListFilters) map[string][]string {
		return map[string][]string{"id": f.ID, "label": f.Label, "mode": f.Mode, "name": f.Name}
	}, map[string][]string{"mode": {"global", "replicated"}})
}

func checkTaskFiltersRoundTrip(t *testing.T, raw string) {
	checkFiltersRoundTrip(t, raw, parseTaskFilters, func(f TaskListFilters) map[string][]string {
		return map[string][]string{
			"desired-state": f.DesiredState, "id": f.ID, "label": f.Label, "name": f.Name, "node": f.Node, "service": f.Service,
		}
	}, map[string][]string{"desired-state": {"accepted", "running", "shutdown"}})
}

// checkFiltersRoundTrip checks a filters parser: it refuses only with Invalid errors; what
// it accepts has sorted, unique values, enum filters only hold allowed values, and encoding
// the result as the moby client does parses back to the same filters.
func checkFiltersRoundTrip[F any](t *testing.T, raw string, parse func(string) (F, error), byName func(F) map[string][]string, enums map[string][]string) {
	f, err := parse(raw)
	if err != nil {
		if apierr.KindOf(err) != apierr.KindInvalid {
			t.Fatalf("parsing filters %q failed with a non-Invalid error: %v", raw, err)
		}
		return
	}
	fields := byName(f)
	for name, values := range fields {
		if !slices.IsSorted(values) || len(slices.Compact(slices.Clone(values))) != len(values) {
			t.Fatalf("filters %q: %s values %q are not sorted and unique", raw, name, values)
		}
		if allowed, ok := enums[name]; ok {
			for _, v := range values {
				if !slices.Contains(allowed, v) {
					t.Fatalf("filters %q: accepted %s %q", raw, name, v)
				}
			}
		}
	}
	encoded := encodeFilters(fields)
	again, err := parse(encoded)
	if err != nil {
		t.Fatalf("accepted %q but refuses its re-encoding %s: %v", raw, encoded, err)
	}
	if !reflect.DeepEqual(f, again) {
		t.Fatalf("round trip of %q via %s changed the filters:\n%+v\n%+v", raw, encoded, f, again)
	}
}

// encodeFilters writes filters the way the moby client sends them.
func encodeFilters(fields map[string][]string) string {
	args := map[string]map[string]bool{}
	for name, values := range fields {
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

// checkLogsQueryRoundTrip checks parseLogsOptions as checkFiltersRoundTrip checks a
// filters parser, re-encoding what it accepts as the moby client would.
func checkLogsQueryRoundTrip(t *testing.T, rawQuery string) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return // net/http would have refused it before any endpoint
	}
	opts, err := parseLogsOptions(q)
	if err != nil {
		if apierr.KindOf(err) != apierr.KindInvalid {
			t.Fatalf("parseLogsOptions(%q) failed with a non-Invalid error: %v", rawQuery, err)
		}
		return
	}
	if !opts.Stdout && !opts.Stderr {
		t.Fatalf("parseLogsOptions(%q) accepted a request for no stream", rawQuery)
	}
	if opts.Tail < -1 || (!opts.Since.IsZero() && opts.Since.Unix() < 0) {
		t.Fatalf("parseLogsOptions(%q) = %+v: tail below -1 or since before 1970", rawQuery, opts)
	}
	again, err := parseLogsOptions(encodeLogsOptions(opts))
	if err != nil {
		t.Fatalf("accepted %q but refuses its re-encoding %v: %v", rawQuery, encodeLogsOptions(opts), err)
	}
	if !reflect.DeepEqual(opts, again) {
		t.Fatalf("round trip of %q changed the options:\n%+v\n%+v", rawQuery, opts, again)
	}
}

func encodeLogsOptions(opts LogsOptions) url.Values {
	q := url.Values{}
	for name, set := range map[string]bool{
		"follow": opts.Follow, "stdout": opts.Stdout, "stderr": opts.Stderr, "timestamps": opts.Timestamps, "details": opts.Details,
	} {
		if set {
			q.Set(name, "1")
		}
	}
	if !opts.Since.IsZero() {
		q.Set("since", fmt.Sprintf("%d.%09d", opts.Since.Unix(), opts.Since.Nanosecond()))
	}
	if opts.Tail >= 0 {
		q.Set("tail", strconv.Itoa(opts.Tail))
	}
	return q
}
