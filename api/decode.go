package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/shoal/shoal/internal/apierr"
)

// This file holds the request decoders: small functions from raw request parts (a body's
// bytes, a query value) to typed values or an Invalid error that says what was wrong. They
// do no I/O beyond readBody, so FuzzDecodeRequests can drive them directly. Only syntax is
// checked here; whether a value is allowed (a duration, an availability) is the backend's
// call.

// maxBodyBytes bounds a JSON request body. Swarm and node specs are a few KiB at most.
const maxBodyBytes = 1 << 20

// readBody reads a request body of at most maxBodyBytes. Anything larger is refused whole
// rather than truncated into something that might still parse.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := checkJSONContentType(r.Header.Get("Content-Type")); err != nil {
		return nil, err
	}
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, apierr.Invalidf("request body too large (limit %d MiB)", maxBodyBytes>>20)
		}
		return nil, apierr.Invalidf("reading request body: %v", err)
	}
	return body, nil
}

// checkJSONContentType accepts a body sent as JSON or without a Content-Type (curl and
// older clients omit it). Anything else, such as curl -d's form encoding, is refused as the
// Docker daemon does, because it means the client sent something other than it meant to.
func checkJSONContentType(contentType string) error {
	if contentType == "" {
		return nil
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "application/json" {
		return apierr.Invalidf("unsupported Content-Type header (%s): must be 'application/json'", contentType)
	}
	return nil
}

func decodeInitRequest(body []byte) (swarm.InitRequest, error) {
	req, err := decodeJSONObject[swarm.InitRequest](body, "swarm init request")
	if err != nil {
		return req, err
	}
	return req, checkSwarmSpecSyntax(req.Spec, "swarm init request", "Spec.")
}

func decodeJoinRequest(body []byte) (swarm.JoinRequest, error) {
	return decodeJSONObject[swarm.JoinRequest](body, "swarm join request")
}

func decodeSwarmSpec(body []byte) (swarm.Spec, error) {
	spec, err := decodeJSONObject[swarm.Spec](body, "swarm spec")
	if err != nil {
		return spec, err
	}
	return spec, checkSwarmSpecSyntax(spec, "swarm spec", "")
}

func decodeUnlockRequest(body []byte) (swarm.UnlockRequest, error) {
	return decodeJSONObject[swarm.UnlockRequest](body, "unlock request")
}

func decodeNodeSpec(body []byte) (swarm.NodeSpec, error) {
	return decodeJSONObject[swarm.NodeSpec](body, "node spec")
}

// checkSwarmSpecSyntax refuses what JSON allows but no spec means: a null entry in the
// external CA list would otherwise reach the backend as a nil pointer.
func checkSwarmSpecSyntax(spec swarm.Spec, what, fieldPrefix string) error {
	for i, ca := range spec.CAConfig.ExternalCAs {
		if ca == nil {
			return apierr.Invalidf("invalid %s: %sCAConfig.ExternalCAs[%d] is null; each entry must be an object", what, fieldPrefix, i)
		}
	}
	return nil
}

// decodeJSONObject decodes a required JSON object into a T. Unknown fields are ignored, as
// the Docker daemon ignores them, so newer clients keep working; an empty body, a value that
// is not an object, and anything after the object are refused. what names the expected
// value in messages ("node spec").
func decodeJSONObject[T any](body []byte, what string) (T, error) {
	var out T
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return out, apierr.Invalidf("empty request body: expected a JSON object (%s)", what)
	}
	if trimmed[0] != '{' && json.Valid(trimmed) {
		return out, apierr.Invalidf("invalid request body: expected a JSON object (%s), got %s", what, jsonKind(trimmed[0]))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&out); err != nil {
		return out, apierr.Invalidf("invalid request body (%s): %s", what, explainJSONError(err))
	}
	if rest := bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return out, apierr.Invalidf("invalid request body (%s): unexpected content after the JSON object at byte offset %d", what, dec.InputOffset())
	}
	return out, nil
}

// jsonKind names the kind of JSON value that starts with c, for a valid value.
func jsonKind(c byte) string {
	switch c {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// explainJSONError turns encoding/json's errors into a message that says where the input
// went wrong and what was expected there.
func explainJSONError(err error) string {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "unexpected end of JSON input"
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("malformed JSON at byte offset %d: %s", syntaxErr.Offset, syntaxErr.Error())
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "the value"
		} else {
			field = "field " + field
		}
		return fmt.Sprintf("%s must be %s, got %s (byte offset %d)", field, describeGoType(typeErr.Type), typeErr.Value, typeErr.Offset)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// describeGoType names the JSON a Go type decodes from.
func describeGoType(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprintf("an integer that fits in %s", t.Kind())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("a non-negative integer that fits in %s", t.Kind())
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return describeGoType(t.Elem())
	}
	return "a " + t.String()
}

// parseQueryBool reads a boolean query flag the way the Docker daemon does: absent, "",
// "0", "false", "no" and "none" are false; "1", "true" and "yes" are true (any case).
// Docker treats every other value as true; Shoal refuses it, since "force=maybe" is more
// likely a mistake than a request to force.
func parseQueryBool(q url.Values, name string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(q.Get(name))) {
	case "", "0", "false", "no", "none":
		return false, nil
	case "1", "true", "yes":
		return true, nil
	}
	return false, apierr.Invalidf("invalid value %q for query parameter %s: must be 1, true, 0 or false", q.Get(name), name)
}

// parseObjectVersion reads the required `version` query parameter of an update: the
// Version.Index of the object as the client last saw it.
func parseObjectVersion(q url.Values) (uint64, error) {
	raw := q.Get("version")
	if raw == "" {
		return 0, apierr.Invalidf("invalid version: the version query parameter is required (the object's Version.Index, as read by inspect)")
	}
	v, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return 0, apierr.Invalidf("invalid version %q: must be a non-negative integer (the object's Version.Index, as read by inspect)", raw)
	}
	return v, nil
}

// parseFilters decodes Docker's `filters` query parameter: a JSON object from filter name
// to values, each given either as {"value":true} (the current form) or ["value"] (the
// legacy form). As Docker, a value counts whatever its boolean. Names outside accepted are
// refused. Values come back sorted and without duplicates, so equal filters compare equal.
func parseFilters(raw string, accepted []string) (map[string][]string, error) {
	out := map[string][]string{}
	if strings.TrimSpace(raw) == "" {
		return out, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &fields); err != nil {
		return nil, apierr.Invalidf(`invalid filters: %s; expected a JSON object such as {"name":{"web":true}}`, explainJSONError(err))
	}
	for name, rawValues := range fields {
		if !slices.Contains(accepted, name) {
			return nil, apierr.Invalidf("invalid filter '%s'", name)
		}
		values, err := decodeFilterValues(rawValues)
		if err != nil {
			return nil, apierr.Invalidf(`invalid filters: values of '%s' must be an object such as {"value":true} or an array of strings: %s`, name, explainJSONError(err))
		}
		out[name] = append(out[name], values...)
	}
	for name, values := range out {
		slices.Sort(values)
		out[name] = slices.Compact(values)
	}
	return out, nil
}

func decodeFilterValues(raw json.RawMessage) ([]string, error) {
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var list []string
		err := json.Unmarshal(raw, &list)
		return list, err
	}
	var set map[string]bool
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, err
	}
	values := make([]string, 0, len(set))
	for v := range set {
		values = append(values, v)
	}
	return values, nil
}

// nodeFilterNames are the filters `GET /nodes` accepts, as the Docker daemon.
var nodeFilterNames = []string{"id", "label", "membership", "name", "node.label", "role"}

// parseNodeFilters parses the `filters` parameter of `GET /nodes`. Roles and memberships
// are case-insensitive and come back in lower case; empty ones are dropped, as Docker does.
func parseNodeFilters(raw string) (NodeListFilters, error) {
	args, err := parseFilters(raw, nodeFilterNames)
	if err != nil {
		return NodeListFilters{}, err
	}
	role, err := enumFilter(args, "role", string(swarm.NodeRoleManager), string(swarm.NodeRoleWorker))
	if err != nil {
		return NodeListFilters{}, err
	}
	membership, err := enumFilter(args, "membership", "accepted", "pending")
	if err != nil {
		return NodeListFilters{}, err
	}
	return NodeListFilters{
		ID:         args["id"],
		Label:      args["label"],
		Membership: membership,
		Name:       args["name"],
		NodeLabel:  args["node.label"],
		Role:       role,
	}, nil
}

// enumFilter lower-cases the values of filter name and checks each is one of allowed.
func enumFilter(args map[string][]string, name string, allowed ...string) ([]string, error) {
	var out []string
	for _, v := range args[name] {
		lower := strings.ToLower(v)
		if lower == "" {
			continue
		}
		if !slices.Contains(allowed, lower) {
			return nil, apierr.Invalidf("invalid filter '%s=%s': %s must be %s", name, v, name, strings.Join(allowed, " or "))
		}
		out = append(out, lower)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func decodeServiceSpec(body []byte) (swarm.ServiceSpec, error) {
	spec, err := decodeJSONObject[swarm.ServiceSpec](body, "service spec")
	if err != nil {
		return spec, err
	}
	return spec, checkNoNullEntries(reflect.ValueOf(spec), "service spec", "")
}

// checkNoNullEntries refuses a null entry in a list or map anywhere in a decoded request
// (`"Secrets":[null]`): JSON allows it, no spec means it, and it would reach the backend
// as a nil pointer. path is the field path so far, as the message shows it.
func checkNoNullEntries(v reflect.Value, what, path string) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return checkNoNullEntries(v.Elem(), what, path)
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			fieldPath := path // an embedded struct's fields sit at its parent's level in JSON
			if !f.Anonymous {
				fieldPath = joinFieldPath(path, jsonFieldName(f))
			}
			if err := checkNoNullEntries(v.Field(i), what, fieldPath); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if err := checkEntry(v.Index(i), what, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		for _, k := range keys {
			if err := checkEntry(v.MapIndex(k), what, fmt.Sprintf("%s[%q]", path, fmt.Sprint(k))); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkEntry(e reflect.Value, what, path string) error {
	if (e.Kind() == reflect.Pointer || e.Kind() == reflect.Interface) && e.IsNil() {
		return apierr.Invalidf("invalid %s: %s is null; each entry must be a value", what, path)
	}
	return checkNoNullEntries(e, what, path)
}

func jsonFieldName(f reflect.StructField) string {
	if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
		return name
	}
	return f.Name
}

func joinFieldPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// serviceFilterNames are the filters `GET /services` accepts.
var serviceFilterNames = []string{"id", "label", "mode", "name"}

// parseServiceFilters parses the `filters` parameter of `GET /services`. Modes are
// case-insensitive and come back in lower case.
func parseServiceFilters(raw string) (ServiceListFilters, error) {
	args, err := parseFilters(raw, serviceFilterNames)
	if err != nil {
		return ServiceListFilters{}, err
	}
	mode, err := enumFilter(args, "mode", "replicated", "global")
	if err != nil {
		return ServiceListFilters{}, err
	}
	return ServiceListFilters{ID: args["id"], Label: args["label"], Mode: mode, Name: args["name"]}, nil
}

// taskFilterNames are the filters `GET /tasks` accepts.
var taskFilterNames = []string{"_up-to-date", "desired-state", "id", "label", "name", "node", "service"}

// parseTaskFilters parses the `filters` parameter of `GET /tasks`. Desired states are
// case-insensitive and come back in lower case.
func parseTaskFilters(raw string) (TaskListFilters, error) {
	args, err := parseFilters(raw, taskFilterNames)
	if err != nil {
		return TaskListFilters{}, err
	}
	desired, err := enumFilter(args, "desired-state",
		string(swarm.TaskStateRunning), string(swarm.TaskStateShutdown), string(swarm.TaskStateAccepted))
	if err != nil {
		return TaskListFilters{}, err
	}
	return TaskListFilters{
		ID:           args["id"],
		Label:        args["label"],
		Name:         args["name"],
		Node:         args["node"],
		Service:      args["service"],
		DesiredState: desired,
		UpToDate:     len(args["_up-to-date"]) > 0,
	}, nil
}

// imageFilterNames are the filters the Docker daemon's `GET /images/json` accepts.
var imageFilterNames = []string{"before", "dangling", "label", "reference", "since", "until"}

// imageListFilters are the image list filters Shoal applies (see filterImages).
type imageListFilters struct {
	Reference []string // path.Match patterns over familiar names, with or without tag
	Dangling  *bool    // nil: either
	Label     []string // "key" or "key=value"; an image must match all
}

// parseImageListFilters parses the `filters` parameter of `GET /images/json`. An unknown
// filter is refused as Docker does (400); before, since and until, which need the image
// store, are refused as not implemented (501) rather than ignored, since listing every
// image would answer a question the client did not ask.
func parseImageListFilters(raw string) (imageListFilters, error) {
	args, err := parseFilters(raw, imageFilterNames)
	if err != nil {
		return imageListFilters{}, err
	}
	for _, name := range []string{"before", "since", "until"} {
		if len(args[name]) > 0 {
			return imageListFilters{}, apierr.NotImplementedf("image list filter '%s' is not implemented yet: use reference, dangling or label", name)
		}
	}
	for _, pattern := range args["reference"] {
		if _, err := path.Match(pattern, ""); err != nil {
			return imageListFilters{}, apierr.Invalidf("invalid filter 'reference=%s': malformed pattern", pattern)
		}
	}
	f := imageListFilters{Reference: args["reference"], Label: args["label"]}
	for _, v := range args["dangling"] {
		var dangling bool
		switch strings.ToLower(v) {
		case "true", "1":
			dangling = true
		case "false", "0":
		default:
			return imageListFilters{}, apierr.Invalidf("invalid filter 'dangling=%s': dangling must be true or false", v)
		}
		if f.Dangling != nil && *f.Dangling != dangling {
			return imageListFilters{}, apierr.Invalidf("invalid filter 'dangling': give true or false, not both")
		}
		f.Dangling = &dangling
	}
	return f, nil
}

// parseServiceUpdateOptions reads the rollback and registryAuthFrom parameters of
// `POST /services/{id}/update`, normalised as ServiceUpdateOptions documents.
func parseServiceUpdateOptions(q url.Values) (ServiceUpdateOptions, error) {
	var opts ServiceUpdateOptions
	switch rollback := q.Get("rollback"); rollback {
	case "", "none":
	case "previous":
		opts.Rollback = "previous"
	default:
		return opts, apierr.Invalidf("invalid rollback %q: must be previous or none", rollback)
	}
	switch from := swarm.RegistryAuthSource(q.Get("registryAuthFrom")); from {
	case "", swarm.RegistryAuthFromSpec:
		opts.RegistryAuthFrom = string(swarm.RegistryAuthFromSpec)
	case swarm.RegistryAuthFromPreviousSpec:
		opts.RegistryAuthFrom = string(from)
	default:
		return opts, apierr.Invalidf("invalid registryAuthFrom %q: must be %s or %s", from, swarm.RegistryAuthFromSpec, swarm.RegistryAuthFromPreviousSpec)
	}
	return opts, nil
}

// parseLogsOptions reads the query of the service and task logs endpoints.
func parseLogsOptions(q url.Values) (LogsOptions, error) {
	var opts LogsOptions
	for _, f := range []struct {
		name string
		dst  *bool
	}{
		{"follow", &opts.Follow},
		{"stdout", &opts.Stdout},
		{"stderr", &opts.Stderr},
		{"timestamps", &opts.Timestamps},
		{"details", &opts.Details},
	} {
		var err error
		if *f.dst, err = parseQueryBool(q, f.name); err != nil {
			return LogsOptions{}, err
		}
	}
	if !opts.Stdout && !opts.Stderr {
		return LogsOptions{}, apierr.Invalidf("invalid logs request: choose at least one stream with stdout=1, stderr=1 or both")
	}
	var err error
	if opts.Since, err = parseLogsSince(q.Get("since")); err != nil {
		return LogsOptions{}, err
	}
	if opts.Tail, err = parseLogsTail(q.Get("tail")); err != nil {
		return LogsOptions{}, err
	}
	return opts, nil
}

// parseLogsSince reads `since` as the Docker client sends it: Unix seconds, optionally with
// up to nine digits of fraction ("1700000000.000000001"). Zero, a time before 1970 (which a
// long --since duration can give) and absence all mean "from the start": the zero time.
func parseLogsSince(raw string) (time.Time, error) {
	if raw == "" {
		return time.Time{}, nil
	}
	bad := apierr.Invalidf("invalid since %q: must be a Unix time in seconds, optionally with a fraction of up to nine digits (1700000000.5)", raw)
	secPart, fracPart, hasFrac := strings.Cut(raw, ".")
	digits := strings.TrimPrefix(secPart, "-")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return time.Time{}, bad
	}
	sec, err := strconv.ParseInt(secPart, 10, 64)
	if err != nil {
		return time.Time{}, bad
	}
	var nsec int64
	if hasFrac {
		if fracPart == "" || len(fracPart) > 9 || strings.Trim(fracPart, "0123456789") != "" {
			return time.Time{}, bad
		}
		nsec, _ = strconv.ParseInt(fracPart+strings.Repeat("0", 9-len(fracPart)), 10, 64)
	}
	if strings.HasPrefix(secPart, "-") || (sec == 0 && nsec == 0) {
		return time.Time{}, nil
	}
	return time.Unix(sec, nsec).UTC(), nil
}

// parseLogsTail reads `tail`: a number of lines, or "all" or nothing for every line (-1).
func parseLogsTail(raw string) (int, error) {
	if raw == "" || raw == "all" {
		return -1, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 {
		return 0, apierr.Invalidf("invalid tail %q: must be a non-negative number of lines or all", raw)
	}
	return n, nil
}

// parseImageImportOptions reads the query of `POST /images/create` for an import. A pull
// (fromImage) is the endpoint's to refuse before this is called.
func parseImageImportOptions(q url.Values) (ImageImportOptions, error) {
	src := q.Get("fromSrc")
	if src == "" {
		return ImageImportOptions{}, apierr.Invalidf("invalid image create request: fromSrc is required; use fromSrc=- to import the request body as a root filesystem tarball")
	}
	return ImageImportOptions{
		FromSrc: src,
		Repo:    q.Get("repo"),
		Tag:     q.Get("tag"),
		Changes: slices.Clone(q["changes"]),
		Message: q.Get("message"),
	}, nil
}
