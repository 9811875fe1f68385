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
	"reflect"
	"slices"
	"strconv"
	"strings"

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
