// Package controlapi is the managers' service and task API: it validates specs, applies
// Docker's defaults, and turns create, update, rollback and remove into store writes.
// The orchestrators do the rest. Validation is pure; nothing is written for a bad spec.
package controlapi

import (
	"cmp"
	"fmt"
	"regexp"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/clusterapi"
	"github.com/shoal/shoal/internal/apierr"
)

var serviceNameRE = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9_.-]*[a-zA-Z0-9])?$`)

// ConstraintParser checks placement constraints; the scheduler provides it.
type ConstraintParser func([]string) error

// ValidateServiceSpec refuses a spec that cannot run, saying what is wrong and what is
// allowed.
func ValidateServiceSpec(spec *swarm.ServiceSpec, parseConstraints ConstraintParser) error {
	if spec.Name != "" && (len(spec.Name) > 63 || !serviceNameRE.MatchString(spec.Name)) {
		return apierr.Invalidf("invalid service name %q: must be 1-63 characters of letters, digits, '_', '.', '-', starting and ending with a letter or digit", spec.Name)
	}
	cs := spec.TaskTemplate.ContainerSpec
	if cs == nil {
		return apierr.Invalidf("the service spec has no ContainerSpec: a service needs an image to run")
	}
	if cs.Image == "" {
		return apierr.Invalidf("the service spec names no image (ContainerSpec.Image is empty)")
	}
	if spec.TaskTemplate.PluginSpec != nil || spec.TaskTemplate.NetworkAttachmentSpec != nil {
		return apierr.NotImplementedf("plugin and network-attachment tasks are not implemented yet")
	}
	m := spec.Mode
	switch {
	case m.ReplicatedJob != nil || m.GlobalJob != nil:
		return apierr.NotImplementedf("job modes (replicated-job, global-job) are not implemented yet")
	case m.Replicated != nil && m.Global != nil:
		return apierr.Invalidf("invalid mode: a service is either replicated or global, not both")
	}
	if err := checkDurations(map[string]*time.Duration{
		"stop grace period": cs.StopGracePeriod,
	}); err != nil {
		return err
	}
	if hc := cs.Healthcheck; hc != nil {
		for name, d := range map[string]time.Duration{"--health-interval": hc.Interval, "--health-timeout": hc.Timeout, "--health-start-period": hc.StartPeriod, "--health-start-interval": hc.StartInterval} {
			if d < 0 {
				return apierr.Invalidf("invalid %s %s: must be 0 or more", name, d)
			}
		}
		if hc.Retries < 0 {
			return apierr.Invalidf("invalid --health-retries %d: must be 0 or more", hc.Retries)
		}
	}
	if err := validatePorts(spec.EndpointSpec); err != nil {
		return err
	}
	switch b := spec.Labels[clusterapi.MeshBalanceLabel]; b {
	case "", clusterapi.MeshBalanceAuto, clusterapi.MeshBalanceHTTP, clusterapi.MeshBalanceTCP:
	default:
		return apierr.Invalidf("invalid label %s=%q: must be auto (HTTP per request, other TCP per connection), http or tcp", clusterapi.MeshBalanceLabel, b)
	}
	if err := validateResources(spec.TaskTemplate.Resources); err != nil {
		return err
	}
	if rp := spec.TaskTemplate.RestartPolicy; rp != nil {
		switch rp.Condition {
		case "", swarm.RestartPolicyConditionNone, swarm.RestartPolicyConditionOnFailure, swarm.RestartPolicyConditionAny:
		default:
			return apierr.Invalidf("invalid --restart-condition %q: must be none, on-failure or any", rp.Condition)
		}
		if err := checkDurations(map[string]*time.Duration{"--restart-delay": rp.Delay, "--restart-window": rp.Window}); err != nil {
			return err
		}
	}
	if p := spec.TaskTemplate.Placement; p != nil && parseConstraints != nil {
		if err := parseConstraints(p.Constraints); err != nil {
			return apierr.Invalidf("%v", err)
		}
		for _, pref := range p.Preferences {
			if pref.Spread == nil || pref.Spread.SpreadDescriptor == "" {
				return apierr.Invalidf("invalid placement preference: only spread=<node.labels.NAME or engine.labels.NAME> is supported")
			}
		}
	}
	if err := validateUpdateConfig("update", spec.UpdateConfig); err != nil {
		return err
	}
	return validateUpdateConfig("rollback", spec.RollbackConfig)
}

func checkDurations(ds map[string]*time.Duration) error {
	for name, d := range ds {
		if d != nil && *d < 0 {
			return apierr.Invalidf("invalid %s %s: must be 0 or more", name, *d)
		}
	}
	return nil
}

func validateResources(r *swarm.ResourceRequirements) error {
	if r == nil {
		return nil
	}
	if l := r.Limits; l != nil && (l.NanoCPUs < 0 || l.MemoryBytes < 0 || l.Pids < 0) {
		return apierr.Invalidf("invalid resource limits: --limit-cpu, --limit-memory and --limit-pids must be 0 or more")
	}
	if l := r.Limits; l != nil && l.MemoryBytes > 0 && l.MemoryBytes < 6*1024*1024 {
		return apierr.Invalidf("invalid --limit-memory %d: the minimum is 6MB", l.MemoryBytes)
	}
	if rs := r.Reservations; rs != nil && (rs.NanoCPUs < 0 || rs.MemoryBytes < 0) {
		return apierr.Invalidf("invalid resource reservations: --reserve-cpu and --reserve-memory must be 0 or more")
	}
	return nil
}

func validateUpdateConfig(which string, uc *swarm.UpdateConfig) error {
	if uc == nil {
		return nil
	}
	switch uc.Order {
	case "", swarm.UpdateOrderStopFirst, swarm.UpdateOrderStartFirst:
	default:
		return apierr.Invalidf("invalid --%s-order %q: must be start-first or stop-first", which, uc.Order)
	}
	switch uc.FailureAction {
	case "", swarm.UpdateFailureActionPause, swarm.UpdateFailureActionContinue:
	case swarm.UpdateFailureActionRollback:
		if which == "rollback" {
			return apierr.Invalidf("invalid --rollback-failure-action %q: must be pause or continue", uc.FailureAction)
		}
	default:
		allowed := "pause, continue or rollback"
		if which == "rollback" {
			allowed = "pause or continue"
		}
		return apierr.Invalidf("invalid --%s-failure-action %q: must be %s", which, uc.FailureAction, allowed)
	}
	if uc.Delay < 0 || uc.Monitor < 0 {
		return apierr.Invalidf("invalid --%s-delay or --%s-monitor: durations must be 0 or more", which, which)
	}
	if uc.MaxFailureRatio < 0 || uc.MaxFailureRatio > 1 {
		return apierr.Invalidf("invalid --%s-max-failure-ratio %v: must be between 0 and 1", which, uc.MaxFailureRatio)
	}
	return nil
}

// Defaults for a new or updated spec, as the reference applies them.
const (
	DefaultStopGracePeriod = 10 * time.Second
	DefaultRestartDelay    = 5 * time.Second
	DefaultMonitor         = 5 * time.Second
)

// WithDefaults fills what the reference fills when a spec leaves it out.
func WithDefaults(spec swarm.ServiceSpec) swarm.ServiceSpec {
	if spec.Mode.Replicated == nil && spec.Mode.Global == nil {
		spec.Mode.Replicated = &swarm.ReplicatedService{}
	}
	if r := spec.Mode.Replicated; r != nil && r.Replicas == nil {
		one := uint64(1)
		r.Replicas = &one
	}
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	// A spec without update settings gets the reference's: one task at a time. (A spec
	// that sets Parallelism 0 means "all at once" and keeps it.)
	if spec.UpdateConfig == nil {
		spec.UpdateConfig = &swarm.UpdateConfig{Parallelism: 1}
	}
	if spec.RollbackConfig == nil {
		spec.RollbackConfig = &swarm.UpdateConfig{Parallelism: 1}
	}
	for _, uc := range []*swarm.UpdateConfig{spec.UpdateConfig, spec.RollbackConfig} {
		if uc.FailureAction == "" {
			uc.FailureAction = swarm.UpdateFailureActionPause
		}
		if uc.Monitor == 0 {
			uc.Monitor = DefaultMonitor
		}
		if uc.Order == "" {
			uc.Order = swarm.UpdateOrderStopFirst
		}
	}
	if spec.TaskTemplate.RestartPolicy == nil {
		spec.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{}
	}
	rp := spec.TaskTemplate.RestartPolicy
	if rp.Condition == "" {
		rp.Condition = swarm.RestartPolicyConditionAny
	}
	if rp.Delay == nil {
		d := DefaultRestartDelay
		rp.Delay = &d
	}
	if rp.MaxAttempts == nil {
		z := uint64(0)
		rp.MaxAttempts = &z
	}
	if rp.Window == nil {
		z := time.Duration(0)
		rp.Window = &z
	}
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil && cs.StopGracePeriod == nil {
		d := DefaultStopGracePeriod
		cs.StopGracePeriod = &d
	}
	if spec.TaskTemplate.Placement == nil {
		spec.TaskTemplate.Placement = &swarm.Placement{}
	}
	if spec.EndpointSpec == nil {
		spec.EndpointSpec = &swarm.EndpointSpec{Mode: swarm.ResolutionModeVIP}
	}
	return spec
}

// CheckUpdate refuses changes the reference refuses on a live service.
func CheckUpdate(old, next swarm.ServiceSpec) error {
	if next.Name != "" && next.Name != old.Name {
		return apierr.Invalidf("renaming services is not supported (service %s cannot become %s)", old.Name, next.Name)
	}
	oldGlobal, nextGlobal := old.Mode.Global != nil, next.Mode.Global != nil
	if oldGlobal != nextGlobal {
		return apierr.Invalidf("service mode change is not allowed (%s to %s)", modeName(oldGlobal), modeName(nextGlobal))
	}
	return nil
}

func modeName(global bool) string {
	if global {
		return "global"
	}
	return "replicated"
}

// ServiceNameFor makes a name for a service created without one, as Docker does.
func ServiceNameFor(id string) string {
	adjectives := []string{"brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nifty", "proud", "quirky", "sharp", "tender", "vivid"}
	fish := []string{"anchovy", "bream", "carp", "dace", "eel", "flounder", "goby", "herring", "ide", "koi", "loach", "mackerel", "perch", "roach", "sprat", "tench"}
	h := 0
	for _, c := range id {
		h = h*31 + int(c)
	}
	if h < 0 {
		h = -h
	}
	return fmt.Sprintf("%s_%s", adjectives[h%len(adjectives)], fish[(h/len(adjectives))%len(fish)])
}

// validatePorts refuses published ports that cannot be served: a missing target, an
// unknown protocol or publish mode, and what is not built yet (udp and sctp).
func validatePorts(ep *swarm.EndpointSpec) error {
	if ep == nil {
		return nil
	}
	published := map[string]bool{}
	for _, p := range ep.Ports {
		if p.TargetPort == 0 || p.TargetPort > 65535 || p.PublishedPort > 65535 {
			return apierr.Invalidf("invalid port %d:%d: the target port must be 1-65535 and the published port 0-65535 (0 picks one)", p.PublishedPort, p.TargetPort)
		}
		switch p.Protocol {
		case "", "tcp":
		case "udp", "sctp":
			return apierr.NotImplementedf("publishing %s ports is not implemented yet (port %d/%s): only tcp", p.Protocol, p.TargetPort, p.Protocol)
		default:
			return apierr.Invalidf("invalid protocol %q for port %d: must be tcp, udp or sctp", p.Protocol, p.TargetPort)
		}
		switch p.PublishMode {
		case "", swarm.PortConfigPublishModeIngress, swarm.PortConfigPublishModeHost:
		default:
			return apierr.Invalidf("invalid publish mode %q for port %d: must be ingress or host", p.PublishMode, p.TargetPort)
		}
		if p.PublishedPort != 0 {
			key := fmt.Sprintf("%d/%s", p.PublishedPort, cmp.Or(string(p.Protocol), "tcp"))
			if published[key] {
				return apierr.Invalidf("port %s is published twice: a published port serves one target", key)
			}
			published[key] = true
		}
	}
	return nil
}
