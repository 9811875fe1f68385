package cli

// Flag value types and checks for the parts of a service spec: environment, labels,
// placement constraints and preferences, networks.

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/moby/moby/api/types/swarm"
)

// validateEnv checks one -e/--env value. A name without "=" takes its value from this
// process's environment when set there, as docker does.
func validateEnv(value string) (string, error) {
	name, _, hasValue := strings.Cut(value, "=")
	if name == "" {
		return "", fmt.Errorf("invalid environment variable: %s", value)
	}
	if hasValue {
		return value, nil
	}
	if v, ok := os.LookupEnv(name); ok {
		return name + "=" + v, nil
	}
	return value, nil
}

// validateLabel checks one "key[=value]" label.
func validateLabel(value string) (string, error) {
	key, _, _ := strings.Cut(value, "=")
	key = strings.TrimLeft(key, " \t")
	if key == "" {
		return "", fmt.Errorf("invalid label '%s': empty name", value)
	}
	if strings.ContainsAny(key, " \t") {
		return "", fmt.Errorf("label '%s' contains whitespaces", key)
	}
	return value, nil
}

// validateKey checks a key given to a *-rm flag.
func validateKey(value string) (string, error) {
	if value == "" {
		return "", errors.New("must not be empty")
	}
	return value, nil
}

// labelMap turns "key=value" and "key" strings into a map ("key" maps to "").
func labelMap(values []string) map[string]string {
	m := make(map[string]string, len(values))
	for _, v := range values {
		key, value, _ := strings.Cut(v, "=")
		m[key] = value
	}
	return m
}

// Constraint syntax, as swarm's scheduler parses it: key, one operator, value.
var (
	constraintOperators = []string{"==", "!="}
	constraintKey       = regexp.MustCompile(`^(?i)[a-z_][a-z0-9\-_.]+$`)
	constraintValue     = regexp.MustCompile(`^(?i)[=a-z0-9:\-_\s\.\*\(\)\?\+\[\]\\\^\$\|\/]+$`)
)

// validateConstraint checks one placement constraint, "key==value" or "key!=value".
func validateConstraint(expr string) (string, error) {
	for _, op := range constraintOperators {
		key, value, ok := strings.Cut(expr, op)
		if !ok {
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !constraintKey.MatchString(key) {
			return "", fmt.Errorf("key '%s' is invalid", key)
		}
		if !constraintValue.MatchString(value) {
			return "", fmt.Errorf("value '%s' is invalid", value)
		}
		return expr, nil
	}
	return "", fmt.Errorf("constraint expected one operator from %s", strings.Join(constraintOperators, ", "))
}

// readEnvFile reads a file of environment variables: one NAME=value per line, blank
// lines and lines starting with # skipped, a NAME alone taking its value from this
// process's environment (and skipped when unset there).
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	scanner := bufio.NewScanner(f)
	for n := 1; scanner.Scan(); n++ {
		raw := scanner.Bytes()
		if !utf8.Valid(raw) {
			return nil, fmt.Errorf("invalid env file (%s): invalid utf8 bytes at line %d", path, n)
		}
		line := strings.TrimLeftFunc(strings.TrimPrefix(string(raw), "\uFEFF"), unicode.IsSpace)
		if line == "" || line[0] == '#' {
			continue
		}
		name, _, hasValue := strings.Cut(line, "=")
		if name == "" {
			return nil, fmt.Errorf("invalid env file (%s): no variable name on line '%s'", path, line)
		}
		if strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("invalid env file (%s): variable '%s' contains whitespaces", path, name)
		}
		if hasValue {
			lines = append(lines, line)
		} else if v, ok := os.LookupEnv(name); ok {
			lines = append(lines, name+"="+v)
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("invalid env file (%s): %w", path, err)
	}
	return lines, nil
}

// mergeEnv lays each "NAME=value" of add over env: a variable already there keeps its
// place and takes the new value, a new one goes at the end.
func mergeEnv(env, add []string) []string {
	out := append([]string(nil), env...)
	for _, v := range add {
		replaced := false
		for i, cur := range out {
			if envName(cur) == envName(v) {
				out[i] = v
				replaced = true
			}
		}
		if !replaced {
			out = append(out, v)
		}
	}
	return out
}

func envName(v string) string {
	name, _, _ := strings.Cut(v, "=")
	return name
}

// placementPrefOpt is a repeatable --placement-pref spread=node.labels.zone.
type placementPrefOpt struct {
	prefs   []swarm.PlacementPreference
	strings []string
}

func (*placementPrefOpt) Type() string { return "pref" }

func (p *placementPrefOpt) String() string {
	if len(p.strings) == 0 {
		return ""
	}
	return fmt.Sprintf("%v", p.strings)
}

func (p *placementPrefOpt) Set(value string) error {
	strategy, arg, ok := strings.Cut(value, "=")
	if !ok || strategy == "" {
		return errors.New(`placement preference must be of the format "<strategy>=<arg>"`)
	}
	if strategy != "spread" {
		return fmt.Errorf("unsupported placement preference %s (only spread is supported)", strategy)
	}
	if arg == "" {
		return errors.New("spread needs a descriptor, such as spread=node.labels.zone")
	}
	p.prefs = append(p.prefs, swarm.PlacementPreference{Spread: &swarm.SpreadOver{SpreadDescriptor: arg}})
	p.strings = append(p.strings, value)
	return nil
}

// networkOpt is a repeatable --network NAME or --network name=NAME,alias=ALIAS.
type networkOpt struct {
	attachments []swarm.NetworkAttachmentConfig
}

func (*networkOpt) Type() string { return "network" }

func (n *networkOpt) String() string {
	names := make([]string, len(n.attachments))
	for i, a := range n.attachments {
		names[i] = a.Target
	}
	return strings.Join(names, ",")
}

func (n *networkOpt) Set(value string) error {
	if !strings.Contains(value, "=") {
		if value == "" {
			return errors.New("network name must not be empty")
		}
		n.attachments = append(n.attachments, swarm.NetworkAttachmentConfig{Target: value})
		return nil
	}
	fields, err := csv.NewReader(strings.NewReader(value)).Read()
	if err != nil {
		return err
	}
	var att swarm.NetworkAttachmentConfig
	for _, field := range fields {
		key, val, ok := strings.Cut(field, "=")
		if !ok || val == "" {
			return fmt.Errorf("invalid field %s: want key=value", field)
		}
		switch strings.ToLower(key) {
		case "name", "target":
			att.Target = val
		case "alias":
			att.Aliases = append(att.Aliases, val)
		case "driver-opt":
			k, v, ok := strings.Cut(val, "=")
			if !ok || k == "" {
				return fmt.Errorf("invalid driver-opt %s: want key=value", val)
			}
			if att.DriverOpts == nil {
				att.DriverOpts = map[string]string{}
			}
			att.DriverOpts[k] = v
		default:
			return fmt.Errorf("invalid field key %s: want name, alias or driver-opt", key)
		}
	}
	if att.Target == "" {
		return errors.New("network name must not be empty")
	}
	n.attachments = append(n.attachments, att)
	return nil
}
