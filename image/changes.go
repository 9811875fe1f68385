package image

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// changeHandlers apply one Dockerfile instruction of `docker import --change` to a config.
var changeHandlers = map[string]func(cfg *dockerspec.DockerOCIImageConfig, args string) error{
	"CMD":         changeCmd,
	"ENTRYPOINT":  changeEntrypoint,
	"ENV":         changeEnv,
	"EXPOSE":      changeExpose,
	"HEALTHCHECK": changeHealthcheck,
	"LABEL":       changeLabel,
	"STOPSIGNAL":  changeStopSignal,
	"USER":        changeUser,
	"VOLUME":      changeVolume,
	"WORKDIR":     changeWorkdir,
}

// SupportedChanges lists the instructions ParseChanges accepts.
func SupportedChanges() []string {
	names := make([]string, 0, len(changeHandlers))
	for n := range changeHandlers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ParseChanges builds the runtime config of an imported image from Dockerfile-style
// instructions, as `docker import --change` takes them: CMD and ENTRYPOINT (JSON or shell
// form), ENV and LABEL (key=value..., or the legacy "key value"), EXPOSE, HEALTHCHECK,
// STOPSIGNAL, USER, VOLUME and WORKDIR. A change may hold several lines. Values are taken
// literally: $VARIABLES are not expanded.
func ParseChanges(changes []string) (dockerspec.DockerOCIImageConfig, error) {
	var cfg dockerspec.DockerOCIImageConfig
	for _, change := range changes {
		for line := range strings.SplitSeq(change, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			instr, args := cutSpace(line)
			apply, ok := changeHandlers[strings.ToUpper(instr)]
			if !ok {
				return cfg, badInputf("unsupported --change instruction %q: supported are %s", instr, strings.Join(SupportedChanges(), ", "))
			}
			if err := apply(&cfg, args); err != nil {
				return cfg, badInputf("invalid --change %q: %v", line, err)
			}
		}
	}
	return cfg, nil
}

// cutSpace splits s at its first run of white space.
func cutSpace(s string) (first, rest string) {
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// parseCommand reads the exec form (a JSON array of strings) or the shell form, which runs
// under /bin/sh -c as docker runs it.
func parseCommand(args string) ([]string, error) {
	if args == "" {
		return nil, fmt.Errorf("a command is required")
	}
	if strings.HasPrefix(args, "[") {
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err == nil {
			return argv, nil
		}
	}
	return []string{"/bin/sh", "-c", args}, nil
}

func changeCmd(cfg *dockerspec.DockerOCIImageConfig, args string) error {
	argv, err := parseCommand(args)
	cfg.Cmd = argv
	return err
}

func changeEntrypoint(cfg *dockerspec.DockerOCIImageConfig, args string) error {
	argv, err := parseCommand(args)
	cfg.Entrypoint = argv
	return err
}

func changeEnv(cfg *dockerspec.DockerOCIImageConfig, args string) error {
	pairs, err := parseKeyValues(args)
	if err != nil {
		return err
	}
	for _, kv := range pairs {
		if strings.ContainsAny(kv[0], "= \t") {
			return fmt.Errorf("invalid variable name %q", kv[0])
		}
		prefix := kv[0] + "="
		cfg.Env = slices.DeleteFunc(cfg.Env, func(e string) bool { return strings.HasPrefix(e, prefix) })
		cfg.Env = append(cfg.Env, prefix+kv[1])
	}
	return nil
}

func changeLabel(cfg *dockerspec.DockerOCIImageConfig, args string) error {
	pairs, err := parseKeyValues(args)
	if err != nil {
		return err
	}
	if cfg.Labels == nil {
		cfg.Labels = make(map[string]string)
	}
	for _, kv := range pairs {
		cfg.Labels[kv[0]] = kv[1]
	}
	return nil
}

// parseKeyValues reads `key=value ...` (values may be quoted) or the legacy `key value`,
// whose value is the rest of the line.
func parseKeyValues(args string) ([][2]string, error) {
	if args == "" {
		return nil, fmt.Errorf("needs key=value")
	}
	first, rest := cutSpace(args)
	if !strings.Contains(first, "=") {
		if rest == "" {
			return nil, fmt.Errorf("%q needs a value: write key=value", first)
		}
		v, err := unquote(rest)
		if err != nil {
			return nil, err
		}
		return [][2]string{{first, v}}, nil
	}
	words, err := splitWords(args)
	if err != nil {
		return nil, err
	}
	pairs := make([][2]string, 0, len(words))
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not key=value", w)
		}
		if k == "" {
			return nil, fmt.Errorf("%q has an empty key", w)
		}
		pairs = append(pairs, [2]string{k, v})
	}
	return pairs, nil
}

func changeExpose(cfg *dockerspec.DockerOCIImageConfig, args string) error {
	words := strings.Fields(args)
	if len(words) == 0 {
		return fmt.Errorf("needs at least one port")
	}
	for _, w := range words {
		ports, err := parseExposed(w)
		if err != nil {
			return err
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = make(map[string]struct{})
		}
		for _, p := range ports {
			cfg.ExposedPorts[p] = struct{}{}
		}
	}
	return nil
}

// parseExposed reads "port[/proto]" or "first-last[/proto]" into "port/proto" keys.
func parseExposed(spec string) ([]string, error) {
	portRange, proto, _ := strings.Cut(spec, "/")
	proto = strings.ToLower(proto)
	switch proto {
	case "":
		proto = "tcp"
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("port %q: protocol must be tcp, udp or sctp", spec)
	}
	lo, hi, isRange := strings.Cut(portRange, "-")
	first, err := parsePort(lo)
	if err != nil {
		return nil, fmt.Errorf("port %q: %v", spec, err)
	}
	last := first
	if isRange {
		if last, err = parsePort(hi); err != nil {
			return nil, fmt.Errorf("port %q: %v", spec, err)
		}
		if last < first {
			return nil, fmt.Errorf("port range %q ends before it starts", spec)
		}
	}
	out := make([]string, 0, last-first+1)
	for p := first; p <= last; p++ {
		out = append(out, strconv.Itoa(p)+"/"+proto)
	}
	return out, nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("%q is not a port number (1-65535)", s)
	}
	return p, nil
}

func changeWorkdir(cfg *dockerspec.DockerOCIImageConfig, args string) error {
	dir, err := unquote(args)
	if err != nil {
		return err
	}
	if dir == "" {
		return fmt.Errorf("needs a directory")
	}
	if !path.IsAbs(dir) {
		dir = path.Join("/", cfg.WorkingDir, dir)
	}
	cfg.WorkingDir = path.Clean(dir)
	return nil
}

func changeUser(cfg *dockerspec.DockerOCIImageConfig, args string) error {
	if args == "" || strings.ContainsFunc(args, unicode.IsSpace) {
		return fmt.Errorf("needs one user[:group]")
	}
	cfg.User = args
	return nil
}

func changeStopSignal(cfg *dockerspec.DockerOCIImageConfig, args string) error {
	if args == "" || strings.ContainsFunc(args, unicode.IsSpace) {
		return fmt.Errorf("needs one signal, such as SIGTERM or 15")
	}
	cfg.StopSignal = args
	return nil
}

func changeVolume(cfg *dockerspec.DockerOCIImageConfig, args string) error {
	var dirs []string
	if strings.HasPrefix(args, "[") {
		if err := json.Unmarshal([]byte(args), &dirs); err != nil {
			return fmt.Errorf("not a JSON array of paths: %v", err)
		}
	} else {
		var err error
		if dirs, err = splitWords(args); err != nil {
			return err
		}
	}
	if len(dirs) == 0 {
		return fmt.Errorf("needs at least one path")
	}
	for _, d := range dirs {
		if !path.IsAbs(d) {
			return fmt.Errorf("volume %q must be an absolute path", d)
		}
		if cfg.Volumes == nil {
			cfg.Volumes = make(map[string]struct{})
		}
		cfg.Volumes[path.Clean(d)] = struct{}{}
	}
	return nil
}

// changeHealthcheck reads `HEALTHCHECK [--interval=D --timeout=D --start-period=D
// --start-interval=D --retries=N] CMD command` or `HEALTHCHECK NONE`.
func changeHealthcheck(cfg *dockerspec.DockerOCIImageConfig, args string) error {
	hc := &dockerspec.HealthcheckConfig{}
	rest := args
	flags := 0
	for strings.HasPrefix(rest, "--") {
		var flag string
		flag, rest = cutSpace(rest)
		name, val, ok := strings.Cut(flag[2:], "=")
		if !ok {
			return fmt.Errorf("%s needs a value (%s=VALUE)", flag, flag)
		}
		if err := setHealthFlag(hc, name, val); err != nil {
			return err
		}
		flags++
	}
	kind, command := cutSpace(rest)
	switch strings.ToUpper(kind) {
	case "NONE":
		if command != "" || flags > 0 {
			return fmt.Errorf("HEALTHCHECK NONE takes no options or command")
		}
		hc = &dockerspec.HealthcheckConfig{Test: []string{"NONE"}}
	case "CMD":
		var argv []string
		switch {
		case command == "":
			return fmt.Errorf("HEALTHCHECK CMD needs a command")
		case strings.HasPrefix(command, "[") && json.Unmarshal([]byte(command), &argv) == nil:
			if len(argv) == 0 {
				return fmt.Errorf("HEALTHCHECK CMD needs a command")
			}
			hc.Test = append([]string{"CMD"}, argv...)
		default:
			hc.Test = []string{"CMD-SHELL", command}
		}
	default:
		return fmt.Errorf("expected CMD or NONE after the options, got %q", kind)
	}
	cfg.Healthcheck = hc
	return nil
}

func setHealthFlag(hc *dockerspec.HealthcheckConfig, name, val string) error {
	if name == "retries" {
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return fmt.Errorf("--retries=%s: must be a whole number, 0 or more", val)
		}
		hc.Retries = n
		return nil
	}
	target := map[string]*time.Duration{
		"interval":       &hc.Interval,
		"timeout":        &hc.Timeout,
		"start-period":   &hc.StartPeriod,
		"start-interval": &hc.StartInterval,
	}[name]
	if target == nil {
		return fmt.Errorf("unknown HEALTHCHECK option --%s: supported are --interval, --timeout, --start-period, --start-interval, --retries", name)
	}
	d, err := time.ParseDuration(val)
	if err != nil {
		return fmt.Errorf("--%s=%s: %v", name, val, err)
	}
	if d < 0 || (d > 0 && d < time.Millisecond) {
		return fmt.Errorf("--%s=%s: must be 0 or at least 1ms", name, val)
	}
	*target = d
	return nil
}
