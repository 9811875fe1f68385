package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/template"
)

// inspectGetter fetches one object for an inspect command: the decoded object (for
// templates) and the daemon's raw JSON (for the default and json output, so that fields
// the client does not know about are kept).
type inspectGetter func(ref string) (obj any, raw []byte, err error)

// writeInspect prints the objects refs name, as docker's inspect commands do: with no
// format, one JSON array indented by four spaces; with "json", the same array on one line;
// otherwise the template once per object. Objects that cannot be fetched are skipped and
// their errors returned together, after the others are printed, as an exit status 1.
func writeInspect(out io.Writer, refs []string, format string, get inspectGetter) error {
	var tmpl *template.Template
	if format != "" && format != formatKeyJSON {
		var err error
		if tmpl, err = parseTemplate(format); err != nil {
			return statusError{code: 64, msg: err.Error()}
		}
	}

	var (
		errs    []error
		raws    [][]byte
		printed bytes.Buffer
	)
	for _, ref := range refs {
		obj, raw, err := get(ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if tmpl == nil {
			raws = append(raws, raw)
			continue
		}
		if err := executeInspectTemplate(&printed, tmpl, obj, raw); err != nil {
			errs = append(errs, err)
		}
	}

	if tmpl == nil {
		if err := writeJSONArray(out, raws, format == formatKeyJSON); err != nil {
			errs = append(errs, err)
		}
	} else {
		if printed.Len() == 0 {
			printed.WriteByte('\n')
		}
		if _, err := printed.WriteTo(out); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return statusError{code: 1, msg: err.Error()}
	}
	return nil
}

// executeInspectTemplate runs tmpl over obj. If that fails (a field the typed object
// lacks), it runs it again over the raw JSON decoded into maps, so fields the daemon sends
// but the client's types do not know can still be reached.
func executeInspectTemplate(w *bytes.Buffer, tmpl *template.Template, obj any, raw []byte) error {
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, obj); err != nil {
		if raw == nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
		buf.Reset()
		var generic any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&generic); err != nil {
			return fmt.Errorf("unable to read inspect data: %w", err)
		}
		if err := tmpl.Option("missingkey=error").Execute(&buf, generic); err != nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
	}
	w.Write(buf.Bytes())
	w.WriteByte('\n')
	return nil
}

// writeJSONArray prints raw JSON objects as one array, indented by four spaces unless
// compact, followed by a newline. No objects print "[]".
func writeJSONArray(out io.Writer, raws [][]byte, compact bool) error {
	if len(raws) == 0 {
		_, err := io.WriteString(out, "[]\n")
		return err
	}
	array := append([]byte{'['}, bytes.Join(raws, []byte{','})...)
	array = append(array, ']')
	var buf bytes.Buffer
	var err error
	if compact {
		err = json.Compact(&buf, array)
	} else {
		err = json.Indent(&buf, array, "", "    ")
	}
	if err != nil {
		return fmt.Errorf("the daemon sent invalid JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err = buf.WriteTo(out)
	return err
}

// writePretty renders every object through a pretty template, each as view(obj) shows it,
// and writes the whole output only when all of them could be fetched.
func writePretty(g *Globals, refs []string, get inspectGetter, templateText string, view func(any) any) error {
	tmpl, err := parseTemplate(templateText)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	for _, ref := range refs {
		obj, _, err := get(ref)
		if err != nil {
			return err
		}
		if err := tmpl.Execute(&out, view(obj)); err != nil {
			return err
		}
		out.WriteByte('\n')
	}
	_, err = out.WriteTo(g.Out)
	return err
}

// inspectFormat resolves `inspect`'s --format and --pretty into one format; nothing may
// follow "pretty".
func inspectFormat(format string, pretty bool) (string, error) {
	if pretty {
		format = formatKeyPretty
	}
	if strings.HasPrefix(format, formatKeyPretty) && format != formatKeyPretty {
		return "", errors.New("cannot supply extra formatting options to the pretty template")
	}
	return format, nil
}

// writeInspectOrPretty prints the objects as JSON or through a template, or in their
// human form with writePretty (exit status 1 when one cannot be fetched, as docker).
func writeInspectOrPretty(g *Globals, refs []string, format string, get inspectGetter, writePretty func(*Globals, []string, inspectGetter) error) error {
	if format != formatKeyPretty {
		return writeInspect(g.Out, refs, format, get)
	}
	if err := writePretty(g, refs, get); err != nil {
		return statusError{code: 1, msg: err.Error()}
	}
	return nil
}
