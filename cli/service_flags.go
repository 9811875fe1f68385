package cli

// The flags `service create` and `service update` share, and how create turns them into
// a service spec. Defaults are the daemon's: the CLI sends only what the user gave, and
// --help shows what the daemon fills in, as docker's does.

import (
	"errors"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"github.com/spf13/pflag"
)

const (
	flagArgs                    = "args"
	flagConstraint              = "constraint"
	flagConstraintAdd           = "constraint-add"
	flagConstraintRemove        = "constraint-rm"
	flagContainerLabel          = "container-label"
	flagContainerLabelAdd       = "container-label-add"
	flagContainerLabelRemove    = "container-label-rm"
	flagDetach                  = "detach"
	flagEndpointMode            = "endpoint-mode"
	flagEntrypoint              = "entrypoint"
	flagEnv                     = "env"
	flagEnvAdd                  = "env-add"
	flagEnvFile                 = "env-file"
	flagEnvRemove               = "env-rm"
	flagForce                   = "force"
	flagHealthCmd               = "health-cmd"
	flagHealthInterval          = "health-interval"
	flagHealthRetries           = "health-retries"
	flagHealthStartPeriod       = "health-start-period"
	flagHealthTimeout           = "health-timeout"
	flagHostname                = "hostname"
	flagImage                   = "image"
	flagLabel                   = "label"
	flagLimitCPU                = "limit-cpu"
	flagLimitMemory             = "limit-memory"
	flagLimitPids               = "limit-pids"
	flagMaxReplicas             = "replicas-max-per-node"
	flagMode                    = "mode"
	flagName                    = "name"
	flagNetwork                 = "network"
	flagNetworkAdd              = "network-add"
	flagNetworkRemove           = "network-rm"
	flagNoHealthcheck           = "no-healthcheck"
	flagNoResolveImage          = "no-resolve-image"
	flagPlacementPref           = "placement-pref"
	flagPlacementPrefAdd        = "placement-pref-add"
	flagPlacementPrefRemove     = "placement-pref-rm"
	flagPublish                 = "publish"
	flagPublishAdd              = "publish-add"
	flagPublishRemove           = "publish-rm"
	flagRegistryAuth            = "with-registry-auth"
	flagReplicas                = "replicas"
	flagReserveCPU              = "reserve-cpu"
	flagReserveMemory           = "reserve-memory"
	flagRestartCondition        = "restart-condition"
	flagRestartDelay            = "restart-delay"
	flagRestartMaxAttempts      = "restart-max-attempts"
	flagRestartWindow           = "restart-window"
	flagRollback                = "rollback"
	flagRollbackDelay           = "rollback-delay"
	flagRollbackFailureAction   = "rollback-failure-action"
	flagRollbackMaxFailureRatio = "rollback-max-failure-ratio"
	flagRollbackMonitor         = "rollback-monitor"
	flagRollbackOrder           = "rollback-order"
	flagRollbackParallelism     = "rollback-parallelism"
	flagStopGracePeriod         = "stop-grace-period"
	flagStopSignal              = "stop-signal"
	flagUpdateDelay             = "update-delay"
	flagUpdateFailureAction     = "update-failure-action"
	flagUpdateMaxFailureRatio   = "update-max-failure-ratio"
	flagUpdateMonitor           = "update-monitor"
	flagUpdateOrder             = "update-order"
	flagUpdateParallelism       = "update-parallelism"
	flagUser                    = "user"
	flagWorkdir                 = "workdir"
)

// Service modes Shoal runs.
const (
	modeReplicated = "replicated"
	modeGlobal     = "global"
)

// serviceDefaults are the values the daemon fills in for what a spec leaves out
// (DESIGN.md), shown in `service create --help`.
var serviceDefaults = map[string]string{
	flagStopGracePeriod:         "10s",
	flagRestartCondition:        `"any"`,
	flagRestartDelay:            "5s",
	flagUpdateDelay:             "0s",
	flagUpdateMonitor:           "5s",
	flagUpdateFailureAction:     `"pause"`,
	flagUpdateMaxFailureRatio:   "0",
	flagUpdateOrder:             `"stop-first"`,
	flagRollbackDelay:           "0s",
	flagRollbackMonitor:         "5s",
	flagRollbackFailureAction:   `"pause"`,
	flagRollbackMaxFailureRatio: "0",
	flagRollbackOrder:           `"stop-first"`,
}

// defaultUpdateConfig is the daemon's update (and rollback) policy, the base a flag
// changes when the spec has none yet.
func defaultUpdateConfig() *swarm.UpdateConfig {
	return &swarm.UpdateConfig{
		Parallelism:   1,
		Monitor:       5 * time.Second,
		FailureAction: swarm.UpdateFailureActionPause,
		Order:         swarm.UpdateOrderStopFirst,
	}
}

// defaultRestartPolicy is the daemon's restart policy, the base a flag changes when the
// spec has none yet.
func defaultRestartPolicy() *swarm.RestartPolicy {
	delay := 5 * time.Second
	var attempts uint64
	return &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny, Delay: &delay, MaxAttempts: &attempts}
}

type updatePolicyOptions struct {
	parallelism     uint64
	delay           time.Duration
	monitor         time.Duration
	failureAction   string
	maxFailureRatio ratioValue
	order           string
}

type healthOptions struct {
	cmd         string
	interval    optionalDuration
	timeout     optionalDuration
	startPeriod optionalDuration
	retries     int64
	disable     bool
}

type resourceOptions struct {
	limitCPU      nanoCPUs
	limitMemory   memBytes
	limitPids     int64
	reserveCPU    nanoCPUs
	reserveMemory memBytes
}

// serviceOptions are the values of the service flags. The list-valued ones serve both
// create (--env) and update (--env-add).
type serviceOptions struct {
	detach bool
	quiet  bool

	name            string
	mode            string
	image           string
	args            []string
	replicas        optionalUint
	maxReplicas     uint64
	labels          *listOpt
	containerLabels *listOpt
	env             *listOpt
	envFile         *listOpt
	constraints     *listOpt
	placementPrefs  placementPrefOpt
	networks        networkOpt
	ports           portOpt
	endpointMode    string

	hostname   string
	workdir    string
	user       string
	entrypoint shlexOpt
	stopSignal string
	stopGrace  optionalDuration

	restartCondition   string
	restartDelay       optionalDuration
	restartMaxAttempts optionalUint
	restartWindow      optionalDuration

	update    updatePolicyOptions
	rollback  updatePolicyOptions
	health    healthOptions
	resources resourceOptions

	registryAuth   bool
	noResolveImage bool
}

func newServiceOptions() *serviceOptions {
	return &serviceOptions{
		labels:          newListOpt(validateLabel),
		containerLabels: newListOpt(validateLabel),
		env:             newListOpt(validateEnv),
		envFile:         newListOpt(nil),
		constraints:     newListOpt(validateConstraint),
	}
}

// addServiceFlags adds the flags create and update share. withDefaults puts the daemon's
// defaults in the help, as create's help does.
func addServiceFlags(flags *pflag.FlagSet, o *serviceOptions, withDefaults bool) {
	desc := func(name, text string) string {
		if def, ok := serviceDefaults[name]; ok && withDefaults {
			return fmt.Sprintf("%s (default %s)", text, def)
		}
		return text
	}
	var defaultParallelism uint64
	if withDefaults {
		defaultParallelism = 1
	}

	addDetachFlag(flags, &o.detach)
	flags.BoolVarP(&o.quiet, flagQuiet, "q", false, "Suppress progress output")

	flags.StringVarP(&o.workdir, flagWorkdir, "w", "", "Working directory inside the container")
	flags.StringVarP(&o.user, flagUser, "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	flags.StringVar(&o.hostname, flagHostname, "", "Container hostname")
	flags.Var(&o.entrypoint, flagEntrypoint, "Overwrite the default ENTRYPOINT of the image")

	flags.Var(&o.resources.limitCPU, flagLimitCPU, "Limit CPUs")
	flags.Var(&o.resources.limitMemory, flagLimitMemory, "Limit Memory")
	flags.Var(&o.resources.reserveCPU, flagReserveCPU, "Reserve CPUs")
	flags.Var(&o.resources.reserveMemory, flagReserveMemory, "Reserve Memory")
	flags.Var(newIntValue(&o.resources.limitPids), flagLimitPids, "Limit maximum number of processes (default 0 = unlimited)")

	flags.Var(&o.stopGrace, flagStopGracePeriod, desc(flagStopGracePeriod, "Time to wait before force killing a container (ns|us|ms|s|m|h)"))
	flags.Var(&o.replicas, flagReplicas, "Number of tasks")
	flags.Var(newUintValue(&o.maxReplicas, 0), flagMaxReplicas, "Maximum number of tasks per node (default 0 = unlimited)")

	flags.Var(newChoiceValue(&o.restartCondition, "", "none", "on-failure", "any"), flagRestartCondition,
		desc(flagRestartCondition, `Restart when condition is met ("none", "on-failure", "any")`))
	flags.Var(&o.restartDelay, flagRestartDelay, desc(flagRestartDelay, "Delay between restart attempts (ns|us|ms|s|m|h)"))
	flags.Var(&o.restartMaxAttempts, flagRestartMaxAttempts, desc(flagRestartMaxAttempts, "Maximum number of restarts before giving up"))
	flags.Var(&o.restartWindow, flagRestartWindow, desc(flagRestartWindow, "Window used to evaluate the restart policy (ns|us|ms|s|m|h)"))

	flags.Var(newUintValue(&o.update.parallelism, defaultParallelism), flagUpdateParallelism, "Maximum number of tasks updated simultaneously (0 to update all at once)")
	flags.Var(&durationValue{&o.update.delay}, flagUpdateDelay, desc(flagUpdateDelay, "Delay between updates (ns|us|ms|s|m|h)"))
	flags.Var(&durationValue{&o.update.monitor}, flagUpdateMonitor, desc(flagUpdateMonitor, "Duration after each task update to monitor for failure (ns|us|ms|s|m|h)"))
	flags.Var(newChoiceValue(&o.update.failureAction, "", "pause", "continue", "rollback"), flagUpdateFailureAction,
		desc(flagUpdateFailureAction, `Action on update failure ("pause", "continue", "rollback")`))
	flags.Var(&o.update.maxFailureRatio, flagUpdateMaxFailureRatio, desc(flagUpdateMaxFailureRatio, "Failure rate to tolerate during an update"))
	flags.Var(newChoiceValue(&o.update.order, "", "start-first", "stop-first"), flagUpdateOrder,
		desc(flagUpdateOrder, `Update order ("start-first", "stop-first")`))

	flags.Var(newUintValue(&o.rollback.parallelism, defaultParallelism), flagRollbackParallelism, "Maximum number of tasks rolled back simultaneously (0 to roll back all at once)")
	flags.Var(&durationValue{&o.rollback.delay}, flagRollbackDelay, desc(flagRollbackDelay, "Delay between task rollbacks (ns|us|ms|s|m|h)"))
	flags.Var(&durationValue{&o.rollback.monitor}, flagRollbackMonitor, desc(flagRollbackMonitor, "Duration after each task rollback to monitor for failure (ns|us|ms|s|m|h)"))
	flags.Var(newChoiceValue(&o.rollback.failureAction, "", "pause", "continue"), flagRollbackFailureAction,
		desc(flagRollbackFailureAction, `Action on rollback failure ("pause", "continue")`))
	flags.Var(&o.rollback.maxFailureRatio, flagRollbackMaxFailureRatio, desc(flagRollbackMaxFailureRatio, "Failure rate to tolerate during a rollback"))
	flags.Var(newChoiceValue(&o.rollback.order, "", "start-first", "stop-first"), flagRollbackOrder,
		desc(flagRollbackOrder, `Rollback order ("start-first", "stop-first")`))

	endpointDefault := ""
	if withDefaults {
		endpointDefault = "vip"
	}
	flags.Var(newChoiceValue(&o.endpointMode, endpointDefault, "vip", "dnsrr"), flagEndpointMode, "Endpoint mode (vip or dnsrr)")

	flags.BoolVar(&o.registryAuth, flagRegistryAuth, false, "Send registry authentication details to swarm agents")
	flags.BoolVar(&o.noResolveImage, flagNoResolveImage, false, "Do not query the registry to resolve image digest and supported platforms")

	flags.StringVar(&o.health.cmd, flagHealthCmd, "", "Command to run to check health")
	flags.Var(&o.health.interval, flagHealthInterval, "Time between running the check (ms|s|m|h)")
	flags.Var(&o.health.timeout, flagHealthTimeout, "Maximum time to allow one check to run (ms|s|m|h)")
	flags.Var(newIntValue(&o.health.retries), flagHealthRetries, "Consecutive failures needed to report unhealthy")
	flags.Var(&o.health.startPeriod, flagHealthStartPeriod, "Start period for the container to initialize before counting retries towards unstable (ms|s|m|h)")
	flags.BoolVar(&o.health.disable, flagNoHealthcheck, false, "Disable any container-specified HEALTHCHECK")

	flags.StringVar(&o.stopSignal, flagStopSignal, "", "Signal to stop the container")
}

func addDetachFlag(flags *pflag.FlagSet, detach *bool) {
	flags.BoolVarP(detach, flagDetach, "d", false, "Exit immediately instead of waiting for the service to converge")
}

// anyChanged reports whether the user gave any of the named flags.
func anyChanged(flags *pflag.FlagSet, names ...string) bool {
	for _, name := range names {
		if flags.Changed(name) {
			return true
		}
	}
	return false
}

// policy builds an update or rollback policy from defaults and the flags given, or nil
// when none of them was.
func (o *updatePolicyOptions) policy(flags *pflag.FlagSet, names [6]string) *swarm.UpdateConfig {
	if !anyChanged(flags, names[:]...) {
		return nil
	}
	config := defaultUpdateConfig()
	o.merge(flags, names, config)
	return config
}

// merge writes the flags given into config. names are the parallelism, delay, monitor,
// failure action, max failure ratio and order flags, in that order.
func (o *updatePolicyOptions) merge(flags *pflag.FlagSet, names [6]string, config *swarm.UpdateConfig) {
	if flags.Changed(names[0]) {
		config.Parallelism = o.parallelism
	}
	if flags.Changed(names[1]) {
		config.Delay = o.delay
	}
	if flags.Changed(names[2]) {
		config.Monitor = o.monitor
	}
	if flags.Changed(names[3]) {
		config.FailureAction = swarm.FailureAction(o.failureAction)
	}
	if flags.Changed(names[4]) {
		config.MaxFailureRatio = o.maxFailureRatio.value
	}
	if flags.Changed(names[5]) {
		config.Order = swarm.UpdateOrder(o.order)
	}
}

var (
	updatePolicyFlags = [6]string{flagUpdateParallelism, flagUpdateDelay, flagUpdateMonitor,
		flagUpdateFailureAction, flagUpdateMaxFailureRatio, flagUpdateOrder}
	rollbackPolicyFlags = [6]string{flagRollbackParallelism, flagRollbackDelay, flagRollbackMonitor,
		flagRollbackFailureAction, flagRollbackMaxFailureRatio, flagRollbackOrder}
	restartPolicyFlags = []string{flagRestartCondition, flagRestartDelay, flagRestartMaxAttempts, flagRestartWindow}
	healthFlags        = []string{flagHealthCmd, flagHealthInterval, flagHealthTimeout, flagHealthRetries, flagHealthStartPeriod}
)

// mergeRestartPolicy writes the restart flags given into policy.
func (o *serviceOptions) mergeRestartPolicy(flags *pflag.FlagSet, policy *swarm.RestartPolicy) {
	if flags.Changed(flagRestartCondition) {
		policy.Condition = swarm.RestartPolicyCondition(o.restartCondition)
	}
	if flags.Changed(flagRestartDelay) {
		policy.Delay = o.restartDelay.Value()
	}
	if flags.Changed(flagRestartMaxAttempts) {
		policy.MaxAttempts = o.restartMaxAttempts.Value()
	}
	if flags.Changed(flagRestartWindow) {
		policy.Window = o.restartWindow.Value()
	}
}

// healthConfig builds the health check a create asks for, or nil for the image's own.
func (h *healthOptions) healthConfig(flags *pflag.FlagSet) (*container.HealthConfig, error) {
	if h.disable {
		if anyChanged(flags, healthFlags...) {
			return nil, fmt.Errorf("--%s conflicts with --health-* options", flagNoHealthcheck)
		}
		return &container.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if !anyChanged(flags, healthFlags...) {
		return nil, nil
	}
	config := &container.HealthConfig{}
	h.merge(flags, config)
	return config, nil
}

// merge writes the health flags given into config.
func (h *healthOptions) merge(flags *pflag.FlagSet, config *container.HealthConfig) {
	if len(config.Test) > 0 && config.Test[0] == "NONE" {
		config.Test = nil
	}
	if flags.Changed(flagHealthCmd) {
		config.Test = nil
		if h.cmd != "" {
			config.Test = []string{"CMD-SHELL", h.cmd}
		}
	}
	if flags.Changed(flagHealthInterval) {
		config.Interval = *h.interval.Value()
	}
	if flags.Changed(flagHealthTimeout) {
		config.Timeout = *h.timeout.Value()
	}
	if flags.Changed(flagHealthStartPeriod) {
		config.StartPeriod = *h.startPeriod.Value()
	}
	if flags.Changed(flagHealthRetries) {
		config.Retries = int(h.retries)
	}
}

// mergeResources writes the limit and reservation flags given into task.
func (r *resourceOptions) merge(flags *pflag.FlagSet, task *swarm.TaskSpec) {
	if !anyChanged(flags, flagLimitCPU, flagLimitMemory, flagLimitPids, flagReserveCPU, flagReserveMemory) {
		return
	}
	if task.Resources == nil {
		task.Resources = &swarm.ResourceRequirements{}
	}
	if anyChanged(flags, flagLimitCPU, flagLimitMemory, flagLimitPids) {
		if task.Resources.Limits == nil {
			task.Resources.Limits = &swarm.Limit{}
		}
		if flags.Changed(flagLimitCPU) {
			task.Resources.Limits.NanoCPUs = int64(r.limitCPU)
		}
		if flags.Changed(flagLimitMemory) {
			task.Resources.Limits.MemoryBytes = int64(r.limitMemory)
		}
		if flags.Changed(flagLimitPids) {
			task.Resources.Limits.Pids = r.limitPids
		}
	}
	if anyChanged(flags, flagReserveCPU, flagReserveMemory) {
		if task.Resources.Reservations == nil {
			task.Resources.Reservations = &swarm.Resources{}
		}
		if flags.Changed(flagReserveCPU) {
			task.Resources.Reservations.NanoCPUs = int64(r.reserveCPU)
		}
		if flags.Changed(flagReserveMemory) {
			task.Resources.Reservations.MemoryBytes = int64(r.reserveMemory)
		}
	}
}

// serviceSpec builds the spec `service create` sends. It refuses contradictory flags.
func (o *serviceOptions) serviceSpec(flags *pflag.FlagSet) (swarm.ServiceSpec, error) {
	var spec swarm.ServiceSpec
	switch o.mode {
	case modeGlobal:
		if o.replicas.Value() != nil {
			return spec, errors.New("--replicas can only be used with replicated mode")
		}
		if o.maxReplicas > 0 {
			return spec, fmt.Errorf("--%s can only be used with replicated mode", flagMaxReplicas)
		}
		spec.Mode.Global = &swarm.GlobalService{}
	default:
		replicas := uint64(1)
		if r := o.replicas.Value(); r != nil {
			replicas = *r
		}
		spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &replicas}
	}

	env, err := o.createEnv()
	if err != nil {
		return spec, err
	}
	health, err := o.health.healthConfig(flags)
	if err != nil {
		return spec, err
	}

	spec.Name = o.name
	if len(o.labels.Values()) > 0 {
		spec.Labels = labelMap(o.labels.Values())
	}
	cspec := &swarm.ContainerSpec{
		Image:       o.image,
		Args:        o.args,
		Command:     o.entrypoint,
		Env:         env,
		Hostname:    o.hostname,
		Dir:         o.workdir,
		User:        o.user,
		StopSignal:  o.stopSignal,
		Healthcheck: health,
	}
	if len(o.containerLabels.Values()) > 0 {
		cspec.Labels = labelMap(o.containerLabels.Values())
	}
	if flags.Changed(flagStopGracePeriod) {
		cspec.StopGracePeriod = o.stopGrace.Value()
	}
	task := &spec.TaskTemplate
	task.ContainerSpec = cspec
	task.Networks = o.networks.attachments
	o.resources.merge(flags, task)
	if anyChanged(flags, restartPolicyFlags...) {
		task.RestartPolicy = defaultRestartPolicy()
		o.mergeRestartPolicy(flags, task.RestartPolicy)
	}
	if len(o.constraints.Values()) > 0 || len(o.placementPrefs.prefs) > 0 || o.maxReplicas > 0 {
		task.Placement = &swarm.Placement{
			Constraints: o.constraints.Values(),
			Preferences: o.placementPrefs.prefs,
			MaxReplicas: o.maxReplicas,
		}
	}
	spec.UpdateConfig = o.update.policy(flags, updatePolicyFlags)
	spec.RollbackConfig = o.rollback.policy(flags, rollbackPolicyFlags)
	spec.EndpointSpec = &swarm.EndpointSpec{
		Mode:  swarm.ResolutionMode(o.endpointMode),
		Ports: o.ports.Value(),
	}
	return spec, checkServiceSpec(spec)
}

// createEnv gathers --env-file and --env values; a later value for a variable replaces
// an earlier one.
func (o *serviceOptions) createEnv() ([]string, error) {
	var env []string
	for _, path := range o.envFile.Values() {
		lines, err := readEnvFile(path)
		if err != nil {
			return nil, err
		}
		env = mergeEnv(env, lines)
	}
	return mergeEnv(env, o.env.Values()), nil
}

// checkServiceSpec refuses specs the daemon would refuse, before anything is sent.
func checkServiceSpec(spec swarm.ServiceSpec) error {
	if spec.EndpointSpec == nil || spec.EndpointSpec.Mode != swarm.ResolutionModeDNSRR {
		return nil
	}
	for _, p := range spec.EndpointSpec.Ports {
		if p.PublishMode == "" || p.PublishMode == swarm.PortConfigPublishModeIngress {
			return fmt.Errorf("port %d is published in ingress mode, which --endpoint-mode dnsrr cannot use: publish it with mode=host", p.TargetPort)
		}
	}
	return nil
}
