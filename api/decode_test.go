package api

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shoal/shoal/internal/apierr"
)

func TestParseNodeFilters(t *testing.T) {
	tests := []struct {
		raw     string
		want    NodeListFilters
		wantErr string
	}{
		{raw: "", want: NodeListFilters{}},
		{raw: "{}", want: NodeListFilters{}},
		{raw: "null", want: NodeListFilters{}},
		{raw: `{"name":{"web":true}}`, want: NodeListFilters{Name: []string{"web"}}},
		{raw: `{"name":["web"]}`, want: NodeListFilters{Name: []string{"web"}}},
		{raw: `{"name":{"b":true,"a":true},"id":["x","x"]}`, want: NodeListFilters{Name: []string{"a", "b"}, ID: []string{"x"}}},
		{raw: `{"role":{"MANAGER":true,"worker":true,"":true}}`, want: NodeListFilters{Role: []string{"manager", "worker"}}},
		{raw: `{"membership":["Accepted"],"node.label":["zone=a"],"label":{"ssd":true}}`,
			want: NodeListFilters{Membership: []string{"accepted"}, NodeLabel: []string{"zone=a"}, Label: []string{"ssd"}}},
		// As Docker, a value's boolean does not matter: naming it is enough.
		{raw: `{"name":{"web":false}}`, want: NodeListFilters{Name: []string{"web"}}},
		{raw: `{"name":null}`, want: NodeListFilters{}},

		{raw: `{"foo":{"x":true}}`, wantErr: "invalid filter 'foo'"},
		{raw: `{"Name":["x"]}`, wantErr: "invalid filter 'Name'"},
		{raw: `{"role":{"boss":true}}`, wantErr: "invalid filter 'role=boss': role must be manager or worker"},
		{raw: `{"membership":["maybe"]}`, wantErr: "invalid filter 'membership=maybe': membership must be accepted or pending"},
		{raw: `{"name":"web"}`, wantErr: "values of 'name' must be an object"},
		{raw: `{"name":{"web":"yes"}}`, wantErr: "values of 'name' must be an object"},
		{raw: `{"name":[1]}`, wantErr: "values of 'name' must be an object"},
		{raw: `["name"]`, wantErr: "invalid filters"},
		{raw: `{"name":`, wantErr: "invalid filters"},
		{raw: `name=web`, wantErr: "invalid filters"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := parseNodeFilters(tt.raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if apierr.KindOf(err) != apierr.KindInvalid {
					t.Errorf("err kind = %v, want Invalid", apierr.KindOf(err))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseQueryBool(t *testing.T) {
	for raw, want := range map[string]bool{
		"": false, "0": false, "false": false, "False": false, "no": false, "none": false,
		"1": true, "true": true, "TRUE": true, "yes": true, " 1 ": true,
	} {
		got, err := parseQueryBool(url.Values{"force": {raw}}, "force")
		if err != nil || got != want {
			t.Errorf("force=%q: got %v, %v; want %v", raw, got, err, want)
		}
	}
	if got, err := parseQueryBool(url.Values{}, "force"); err != nil || got {
		t.Errorf("absent: got %v, %v; want false", got, err)
	}
	for _, raw := range []string{"2", "maybe", "on", "-1"} {
		if _, err := parseQueryBool(url.Values{"force": {raw}}, "force"); apierr.KindOf(err) != apierr.KindInvalid {
			t.Errorf("force=%q: err = %v, want Invalid", raw, err)
		}
	}
}

func TestParseObjectVersion(t *testing.T) {
	for raw, want := range map[string]uint64{"0": 0, "17": 17, "18446744073709551615": 1<<64 - 1} {
		got, err := parseObjectVersion(url.Values{"version": {raw}})
		if err != nil || got != want {
			t.Errorf("version=%q: got %d, %v; want %d", raw, got, err, want)
		}
	}
	for _, raw := range []string{"", "-1", "1.5", "x", "18446744073709551616", " 1"} {
		if _, err := parseObjectVersion(url.Values{"version": {raw}}); apierr.KindOf(err) != apierr.KindInvalid || !strings.Contains(err.Error(), "invalid version") {
			t.Errorf("version=%q: err = %v, want an invalid version error", raw, err)
		}
	}
}

func TestSplitVersionPrefix(t *testing.T) {
	tests := []struct {
		path, version, rest string
		ok                  bool
	}{
		{"/v1.43/nodes", "1.43", "/nodes", true},
		{"/v1/info", "1", "/info", true},
		{"/v1.43/", "1.43", "/", true},
		{"/v1.43", "", "/v1.43", false},
		{"/nodes", "", "/nodes", false},
		{"/v/info", "", "/v/info", false},
		{"/vx.1/info", "", "/vx.1/info", false},
		{"/version", "", "/version", false},
	}
	for _, tt := range tests {
		v, rest, ok := splitVersionPrefix(tt.path)
		if v != tt.version || rest != tt.rest || ok != tt.ok {
			t.Errorf("splitVersionPrefix(%q) = %q, %q, %v; want %q, %q, %v", tt.path, v, rest, ok, tt.version, tt.rest, tt.ok)
		}
	}
}

func TestCompareAPIVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.24", "1.24", 0},
		{"1.9", "1.24", -1},
		{"1.56", "1.100", -1},
		{"2.0", "1.56", 1},
		{"1.56.0", "1.56", 0},
		{"1.56.1", "1.56", 1},
		{"1", "1.24", -1},
	}
	for _, tt := range tests {
		if got := compareAPIVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("compareAPIVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestParseLogsSince(t *testing.T) {
	for raw, want := range map[string]time.Time{
		"":                     {},
		"0":                    {},
		"0.000":                {},
		"-5":                   {}, // a --since duration longer than the epoch is old
		"-0.5":                 {},
		"1700000000":           time.Unix(1700000000, 0).UTC(),
		"1700000000.5":         time.Unix(1700000000, 5e8).UTC(),
		"1700000000.000000001": time.Unix(1700000000, 1).UTC(),
		"0.25":                 time.Unix(0, 25e7).UTC(),
	} {
		got, err := parseLogsSince(raw)
		if err != nil || !got.Equal(want) || got.IsZero() != want.IsZero() {
			t.Errorf("since=%q: got %v, %v; want %v", raw, got, err, want)
		}
	}
	for _, raw := range []string{"abc", "1.", ".5", "1.0000000001", "1e9", " 1", "+1", "1.5.", "-", "2024-01-02T03:04:05Z", "99999999999999999999"} {
		if _, err := parseLogsSince(raw); apierr.KindOf(err) != apierr.KindInvalid || !strings.Contains(err.Error(), "invalid since") {
			t.Errorf("since=%q: err = %v, want an invalid since error", raw, err)
		}
	}
}

func TestParseLogsTail(t *testing.T) {
	for raw, want := range map[string]int{"": -1, "all": -1, "0": 0, "10": 10} {
		if got, err := parseLogsTail(raw); err != nil || got != want {
			t.Errorf("tail=%q: got %d, %v; want %d", raw, got, err, want)
		}
	}
	for _, raw := range []string{"-1", "ALL", "ten", "1.5", "99999999999999999999"} {
		if _, err := parseLogsTail(raw); apierr.KindOf(err) != apierr.KindInvalid {
			t.Errorf("tail=%q: err = %v, want Invalid", raw, err)
		}
	}
}

func TestDecodeServiceSpecRefusesNullEntries(t *testing.T) {
	for body, wantPath := range map[string]string{
		`{"TaskTemplate":{"ContainerSpec":{"Secrets":[{"SecretName":"a"},null]}}}`: "TaskTemplate.ContainerSpec.Secrets[1]",
		`{"TaskTemplate":{"ContainerSpec":{"Configs":[null]}}}`:                    "TaskTemplate.ContainerSpec.Configs[0]",
	} {
		_, err := decodeServiceSpec([]byte(body))
		if apierr.KindOf(err) != apierr.KindInvalid || !strings.Contains(err.Error(), "invalid service spec: "+wantPath+" is null") {
			t.Errorf("decode(%s): err = %v, want %s named as null", body, err, wantPath)
		}
	}
	// Null fields and lists are absent values, not null entries.
	for _, body := range []string{
		`{"Name":"web","TaskTemplate":{"ContainerSpec":null,"Networks":null},"Mode":{"Replicated":null},"UpdateConfig":null}`,
		`{"TaskTemplate":{"ContainerSpec":{"Secrets":null,"Env":["A=1"]}},"Labels":{"a":""}}`,
	} {
		if _, err := decodeServiceSpec([]byte(body)); err != nil {
			t.Errorf("decode(%s): %v", body, err)
		}
	}
}
