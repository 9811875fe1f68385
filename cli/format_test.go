package cli

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"testing"
)

func TestNaturalLess(t *testing.T) {
	sorted := []string{"", "1", "01", "2", "10", "a", "node-1", "node-1a", "node-2", "node-02", "node-10", "node-10-b", "worker"}
	for i := range sorted {
		for j := range sorted {
			if got, want := naturalLess(sorted[i], sorted[j]), i < j; got != want {
				t.Errorf("naturalLess(%q, %q) = %v, want %v", sorted[i], sorted[j], got, want)
			}
		}
	}
	shuffled := []string{"worker-10", "worker-2", "manager-10", "worker-1", "manager-1"}
	sort.Slice(shuffled, func(i, j int) bool { return naturalLess(shuffled[i], shuffled[j]) })
	if got := strings.Join(shuffled, " "); got != "manager-1 manager-10 worker-1 worker-2 worker-10" {
		t.Errorf("sorted: %s", got)
	}
}

func TestPrettyPrint(t *testing.T) {
	for in, want := range map[string]string{"ready": "Ready", "UNREACHABLE": "Unreachable", "": "", "x": "x", "drain": "Drain"} {
		if got := prettyPrint(in); got != want {
			t.Errorf("prettyPrint(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestListTemplate(t *testing.T) {
	tests := map[string]string{
		"json":                        "{{json .}}",
		"table {{.ID}}\\t{{.Name}}":   "{{.ID}}\t{{.Name}}",
		"  {{.ID}}\\n  ":              "{{.ID}}\n",
		"{{.ID}}":                     "{{.ID}}",
		"table":                       "",
		"{{json .Labels}} {{.Name}} ": "{{json .Labels}} {{.Name}}",
	}
	for in, want := range tests {
		if got := listTemplate(in); got != want {
			t.Errorf("listTemplate(%q) = %q, want %q", in, got, want)
		}
	}
}

type testRow struct{ name string }

func (r *testRow) MarshalJSON() ([]byte, error) { return marshalRow(r) }
func (r *testRow) Name() string                 { return r.name }
func (r *testRow) Upper() string                { return strings.ToUpper(r.name) }
func (r *testRow) WithArg(string) string        { return "" }

func TestWriteList(t *testing.T) {
	rows := []any{&testRow{"a"}, &testRow{"bbbbbbbbbbbb"}}
	header := map[string]string{"Name": "NAME", "Upper": "UPPER"}
	var out bytes.Buffer
	if err := writeList(&out, "table {{.Name}}\t{{.Upper | lower}}", header, rows); err != nil {
		t.Fatal(err)
	}
	want := "NAME           UPPER\na              a\nbbbbbbbbbbbb   bbbbbbbbbbbb\n"
	if out.String() != want {
		t.Errorf("table\n got %q\nwant %q", out.String(), want)
	}

	out.Reset()
	if err := writeList(&out, "json", header, rows[:1]); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["Name"] != "a" || got["Upper"] != "A" {
		t.Errorf("json row %v, want exactly the argument-free methods", got)
	}

	if err := writeList(&out, "{{.Nope}}", header, rows); err == nil || !strings.Contains(err.Error(), "template parsing error") {
		t.Errorf("unknown field: err = %v", err)
	}
	if err := writeList(&out, "{{.Name", header, rows); err == nil || !strings.Contains(err.Error(), "template parsing error") {
		t.Errorf("bad template: err = %v", err)
	}
}

func TestTemplateFuncs(t *testing.T) {
	tmpl, err := parseTemplate(`{{join .L ","}}|{{title "hello world"}}|{{pad "x" 1 2}}|{{truncate "abcdef" 3}}|{{json .M}}|{{split "a:b" ":"}}|{{upper "q"}}`)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	data := map[string]any{"L": []int{1, 2}, "M": map[string]string{"k": "<v>"}}
	if err := tmpl.Execute(&out, data); err != nil {
		t.Fatal(err)
	}
	if want := `1,2|Hello World| x  |abc|{"k":"<v>"}|[a b]|Q`; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func TestFilterFlag(t *testing.T) {
	f := newFilterFlag()
	for _, v := range []string{"Role=manager", " name = a ", ""} {
		if err := f.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.String(); got != `{"name":{"a":true},"role":{"manager":true}}` {
		t.Errorf("filters %s", got)
	}
	if err := f.Set("novalue"); err == nil {
		t.Error("a filter without = was accepted")
	}
}
