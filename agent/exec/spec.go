package exec

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"golang.org/x/sys/unix"
)

// Defaults as docker's, for tasks and images that say nothing.
const (
	DefaultPath              = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	DefaultStopGracePeriod   = 10 * time.Second
	DefaultHealthInterval    = 30 * time.Second
	DefaultHealthTimeout     = 30 * time.Second
	DefaultHealthRetries     = 3
	DefaultHealthStartPeriod = 0
	// DefaultHealthStartInterval is the probe interval during the start period when the
	// check sets a StartPeriod but no StartInterval.
	DefaultHealthStartInterval = 5 * time.Second
)

// ContainerSpec returns the task's container spec or an error a person can act on.
func ContainerSpec(t *swarm.Task) (*swarm.ContainerSpec, error) {
	if t == nil {
		return nil, errors.New("no task")
	}
	if t.Spec.ContainerSpec == nil {
		return nil, fmt.Errorf("task %s has no container spec: only container tasks can run here", t.ID)
	}
	if t.Spec.ContainerSpec.Image == "" {
		return nil, fmt.Errorf("task %s has no image", t.ID)
	}
	return t.Spec.ContainerSpec, nil
}

// Args resolves the command line as docker swarm does: the spec's Command replaces the image's
// entrypoint and then the spec's Args follow it (the image's Cmd is dropped); without a
// Command, the spec's Args replace the image's Cmd after the image's entrypoint; without
// either, the image's entrypoint and Cmd run.
func Args(spec *swarm.ContainerSpec, img ImageConfig) ([]string, error) {
	var args []string
	switch {
	case len(spec.Command) > 0:
		args = slices.Concat(spec.Command, spec.Args)
	case len(spec.Args) > 0:
		args = slices.Concat(img.Entrypoint, spec.Args)
	default:
		args = slices.Concat(img.Entrypoint, img.Cmd)
	}
	if len(args) == 0 || args[0] == "" {
		return nil, errors.New("no command specified: the image has no entrypoint or command, and the task gives none")
	}
	return args, nil
}

// Env merges environments as docker does: the image's, then the spec's, a later KEY replacing
// an earlier one in place; PATH defaults to DefaultPath and HOSTNAME is set first. A bare
// KEY (no '=') in the spec removes KEY.
func Env(imageEnv, specEnv []string, hostname string) []string {
	env := overlayEnv([]string{"HOSTNAME=" + hostname}, imageEnv, specEnv)
	if envIndex(env, "PATH") < 0 {
		env = append(env, "PATH="+DefaultPath)
	}
	return env
}

// overlayEnv sets each layer's variables over env in turn, as docker merges environments: a
// KEY=VALUE replaces KEY in place or is appended, a bare KEY removes KEY, an entry without a
// name is dropped.
func overlayEnv(env []string, layers ...[]string) []string {
	out := slices.Clone(env)
	for _, layer := range layers {
		for _, kv := range layer {
			key, _, hasValue := strings.Cut(kv, "=")
			if key == "" {
				continue
			}
			i := envIndex(out, key)
			switch {
			case !hasValue && i >= 0:
				out = slices.Delete(out, i, i+1)
			case !hasValue:
			case i >= 0:
				out[i] = kv
			default:
				out = append(out, kv)
			}
		}
	}
	return out
}

// envIndex is where KEY is set in env, or -1.
func envIndex(env []string, key string) int {
	for i, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return i
		}
	}
	return -1
}

// WorkingDir is the spec's Dir, else the image's, else "/".
func WorkingDir(spec *swarm.ContainerSpec, img ImageConfig) (string, error) {
	dir := spec.Dir
	if dir == "" {
		dir = img.WorkingDir
	}
	if dir == "" {
		return "/", nil
	}
	if !strings.HasPrefix(dir, "/") {
		return "", fmt.Errorf("invalid working directory %q: must be an absolute path", dir)
	}
	return dir, nil
}

// StopSignal is the spec's stop signal, else the image's, else SIGTERM.
func StopSignal(spec *swarm.ContainerSpec, img ImageConfig) (syscall.Signal, error) {
	name := spec.StopSignal
	if name == "" {
		name = img.StopSignal
	}
	if name == "" {
		return syscall.SIGTERM, nil
	}
	return ParseSignal(name)
}

// ParseSignal reads a signal as docker accepts it: "SIGTERM", "TERM", "term" or "15".
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q: must be between 1 and 64", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, fmt.Errorf("invalid signal %q: use a name such as SIGTERM or a number", s)
	}
	return sig, nil
}

// StopGracePeriod is the spec's stop grace period or DefaultStopGracePeriod.
func StopGracePeriod(spec *swarm.ContainerSpec) time.Duration {
	if spec != nil && spec.StopGracePeriod != nil && *spec.StopGracePeriod >= 0 {
		return *spec.StopGracePeriod
	}
	return DefaultStopGracePeriod
}

// Healthcheck merges the spec's health check over the image's field by field, as docker
// does, and fills in the defaults. It returns nil when there is no check or it is disabled
// ("NONE").
func Healthcheck(spec *swarm.ContainerSpec, img ImageConfig) (*container.HealthConfig, error) {
	var hc container.HealthConfig
	if img.Healthcheck != nil {
		hc = *img.Healthcheck
	}
	if s := spec.Healthcheck; s != nil {
		if len(s.Test) > 0 {
			hc.Test = s.Test
		}
		if s.Interval != 0 {
			hc.Interval = s.Interval
		}
		if s.Timeout != 0 {
			hc.Timeout = s.Timeout
		}
		if s.StartPeriod != 0 {
			hc.StartPeriod = s.StartPeriod
		}
		if s.StartInterval != 0 {
			hc.StartInterval = s.StartInterval
		}
		if s.Retries != 0 {
			hc.Retries = s.Retries
		}
	}
	if len(hc.Test) == 0 || hc.Test[0] == "NONE" {
		return nil, nil
	}
	switch hc.Test[0] {
	case "CMD", "CMD-SHELL":
		if len(hc.Test) < 2 {
			return nil, fmt.Errorf("invalid health check %q: %s needs a command", hc.Test, hc.Test[0])
		}
	default:
		return nil, fmt.Errorf("invalid health check %q: must start with CMD, CMD-SHELL or NONE", hc.Test)
	}
	if hc.Interval < 0 || hc.Timeout < 0 || hc.StartPeriod < 0 || hc.StartInterval < 0 || hc.Retries < 0 {
		return nil, errors.New("invalid health check: durations and retries must not be negative")
	}
	if hc.Interval == 0 {
		hc.Interval = DefaultHealthInterval
	}
	if hc.Timeout == 0 {
		hc.Timeout = DefaultHealthTimeout
	}
	if hc.Retries == 0 {
		hc.Retries = DefaultHealthRetries
	}
	if hc.StartInterval == 0 {
		hc.StartInterval = DefaultHealthStartInterval
	}
	return &hc, nil
}

// HealthArgs is the command line a health check runs in the container.
func HealthArgs(hc *container.HealthConfig) []string {
	if hc.Test[0] == "CMD-SHELL" {
		return []string{"/bin/sh", "-c", strings.Join(hc.Test[1:], " ")}
	}
	return slices.Clone(hc.Test[1:])
}
