package cli

// Output formatting shared by the list, inspect, info and version commands. It follows the
// docker CLI's formatter so that --format templates written for docker work unchanged:
// the same template functions, the same "table"/"json"/"raw" keys, the same tabwriter
// settings and the same JSON shape for {{json .}}.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/client"
)

// Format keys with a meaning of their own, as in docker.
const (
	formatKeyTable  = "table"
	formatKeyRaw    = "raw"
	formatKeyPretty = "pretty"
	formatKeyJSON   = "json"

	quietFormat = "{{.ID}}"
	jsonFormat  = "{{json .}}"
)

// Help texts of --format, word for word docker's.
const (
	listFormatHelp = `Format output using a custom template:
'table':            Print output in table format with column headers (default)
'table TEMPLATE':   Print output in table format using the given Go template
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates`

	inspectFormatHelp = `Format output using a custom template:
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates`
)

// templateFuncs are the functions docker offers inside --format templates.
var templateFuncs = template.FuncMap{
	"json":     formatJSON,
	"split":    strings.Split,
	"join":     joinElements,
	"title":    titleWords,
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"pad":      padWithSpace,
	"truncate": truncateWithLength,
}

// headerFuncs replace templateFuncs when a table's header row is rendered: the header
// "row" is a map of column titles, which must come out unchanged.
var headerFuncs = template.FuncMap{
	"json":     func(v string) string { return v },
	"split":    func(v string, _ string) string { return v },
	"join":     func(v string, _ string) string { return v },
	"title":    func(v string) string { return v },
	"lower":    func(v string) string { return v },
	"upper":    func(v string) string { return v },
	"truncate": func(v string, _ int) string { return v },
}

// parseTemplate parses a --format template with docker's template functions.
func parseTemplate(format string) (*template.Template, error) {
	tmpl, err := template.New("").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return tmpl, nil
}

func formatJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // text/template turns a panic in a function into an execution error
	}
	return strings.TrimSpace(buf.String())
}

func joinElements(elems any, sep string) (string, error) {
	if elems == nil {
		return "", nil
	}
	if ss, ok := elems.([]string); ok {
		return strings.Join(ss, sep), nil
	}
	switch rv := reflect.ValueOf(elems); rv.Kind() {
	case reflect.Array, reflect.Slice:
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = fmt.Sprint(rv.Index(i).Interface())
		}
		return strings.Join(parts, sep), nil
	case reflect.Map:
		parts := make([]string, 0, rv.Len())
		for _, k := range rv.MapKeys() {
			parts = append(parts, fmt.Sprint(rv.MapIndex(k).Interface()))
		}
		sort.Strings(parts)
		return strings.Join(parts, sep), nil
	default:
		return "", fmt.Errorf("expected slice, got %T", elems)
	}
}

// titleWords upper-cases the first letter of every space-separated word (docker uses the
// deprecated strings.Title, which does the same for ASCII).
func titleWords(s string) string {
	b := []byte(s)
	for i := range b {
		if (i == 0 || b[i-1] == ' ') && b[i] >= 'a' && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

func padWithSpace(source string, prefix, suffix int) string {
	if source == "" {
		return source
	}
	return strings.Repeat(" ", prefix) + source + strings.Repeat(" ", suffix)
}

func truncateWithLength(source string, length int) string {
	if len(source) < length {
		return source
	}
	return source[:length]
}

// listTemplate turns a list command's --format value into the template to run per row:
// "json" means {{json .}}, a "table" prefix is dropped, and the escapes \t and \n typed on
// a command line become real tabs and newlines.
func listTemplate(format string) string {
	if format == formatKeyJSON {
		return jsonFormat
	}
	format = strings.TrimPrefix(format, formatKeyTable)
	format = strings.Trim(format, " ")
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
}

// isTableFormat reports whether a list format prints a header row and aligned columns.
func isTableFormat(format string) bool { return strings.HasPrefix(format, formatKeyTable) }

// writeList renders rows in a list format. A table format gets a header row (the
// template run over header, a map from field name to column title) and columns aligned
// as docker aligns them; any other format is run once per row.
func writeList(out io.Writer, format string, header map[string]string, rows []any) error {
	tmpl, err := parseTemplate(listTemplate(format))
	if err != nil {
		return err
	}
	var body bytes.Buffer
	for _, row := range rows {
		if err := tmpl.Execute(&body, row); err != nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
		body.WriteByte('\n')
	}
	if !isTableFormat(format) {
		_, err := body.WriteTo(out)
		return err
	}
	tw := tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)
	// A header that does not render (a function the header map cannot satisfy) is left
	// incomplete rather than failing the listing, as docker does.
	_ = tmpl.Funcs(headerFuncs).Execute(tw, header)
	if _, err := tw.Write([]byte{'\n'}); err != nil {
		return err
	}
	if _, err := body.WriteTo(tw); err != nil {
		return err
	}
	return tw.Flush()
}

// marshalRow renders a list row for {{json .}}: an object holding the result of every
// exported method of row that takes no argument and returns one value, which is the set
// of fields a template can use. row must be a pointer.
func marshalRow(row any) ([]byte, error) {
	v := reflect.ValueOf(row)
	t := v.Type()
	fields := make(map[string]any, v.NumMethod())
	for i := range v.NumMethod() {
		m := v.Method(i)
		if m.Type().NumIn() != 0 || m.Type().NumOut() != 1 {
			continue
		}
		fields[t.Method(i).Name] = m.Call(nil)[0].Interface()
	}
	return json.Marshal(fields)
}

// prettyPrint shows an enum value as docker's tables do: first letter upper case, the
// rest lower case ("ready" → "Ready", "UNREACHABLE" → "Unreachable").
func prettyPrint(v any) string {
	var s string
	switch t := v.(type) {
	case nil:
		return "None"
	case string:
		s = t
	default:
		s = fmt.Sprintf("%s", t)
	}
	switch len(s) {
	case 0:
		return s
	case 1:
		return strings.ToLower(s)
	default:
		return strings.ToUpper(s[:1]) + strings.ToLower(s[1:])
	}
}

// naturalLess orders strings the way people count: runs of digits compare as numbers,
// so "worker-2" sorts before "worker-10". Ties in value put the number with fewer
// leading zeros first; a string that is a prefix of another sorts first.
func naturalLess(a, b string) bool {
	isDigit := func(c byte) bool { return '0' <= c && c <= '9' }
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, cb := a[i], b[j]
		da, db := isDigit(ca), isDigit(cb)
		switch {
		case da != db:
			return da // digits sort before anything else
		case !da:
			if ca != cb {
				return ca < cb
			}
			i++
			j++
		default:
			for i < len(a) && a[i] == '0' {
				i++
			}
			for j < len(b) && b[j] == '0' {
				j++
			}
			startA, startB := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			numA, numB := a[startA:i], b[startB:j]
			if len(numA) != len(numB) {
				return len(numA) < len(numB)
			}
			if numA != numB {
				return numA < numB
			}
			if startA != startB {
				return startA < startB
			}
		}
	}
	return len(a)-i < len(b)-j
}

// humanDuration writes a duration as docker's info does ("5 seconds", "3 months").
func humanDuration(d time.Duration) string { return units.HumanDuration(d) }

// bytesSize writes a byte count in binary units as docker does ("1.953GiB", "20MiB").
func bytesSize(n int64) string { return units.BytesSize(float64(n)) }

// filterFlag is a repeatable -f/--filter flag of name=value pairs, sent to the API as
// docker's filters query parameter.
type filterFlag struct {
	filters client.Filters
}

func newFilterFlag() filterFlag { return filterFlag{filters: client.Filters{}} }

func (f *filterFlag) String() string {
	if f == nil || len(f.filters) == 0 {
		return ""
	}
	b, err := json.Marshal(f.filters)
	if err != nil {
		return "invalid filters"
	}
	return string(b)
}

func (f *filterFlag) Set(value string) error {
	if value == "" {
		return nil
	}
	name, val, ok := strings.Cut(value, "=")
	if !ok {
		return errors.New("bad format of filter (expected name=value)")
	}
	f.filters.Add(strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(val))
	return nil
}

func (*filterFlag) Type() string { return "filter" }

// Value returns the filters given so far.
func (f *filterFlag) Value() client.Filters { return f.filters }
