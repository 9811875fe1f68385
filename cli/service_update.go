package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// serviceUpdateOptions are the flags of `service update`: the shared service flags, whose
// list values serve the *-add flags, plus the update-only ones.
type serviceUpdateOptions struct {
	*serviceOptions
	args                 shlexOpt
	requestRollback      bool
	force                bool
	envRemove            *listOpt
	labelRemove          *listOpt
	containerLabelRemove *listOpt
	constraintRemove     *listOpt
	networkRemove        *listOpt
	placementPrefRemove  placementPrefOpt
	publishRemove        portOpt
}

func newServiceUpdateCommand(g *Globals) *cobra.Command {
	opts := &serviceUpdateOptions{
		serviceOptions:       newServiceOptions(),
		envRemove:            newListOpt(validateKey),
		labelRemove:          newListOpt(validateKey),
		containerLabelRemove: newListOpt(validateKey),
		constraintRemove:     newListOpt(validateKey),
		networkRemove:        newListOpt(validateKey),
	}
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] SERVICE",
		Short: "Update a service",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServiceUpdate(cmd.Context(), g, cmd.Flags(), opts, args[0])
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.image, flagImage, "", "Service image tag")
	flags.Var(&opts.args, flagArgs, "Service command args")
	flags.BoolVar(&opts.requestRollback, flagRollback, false, "Rollback to previous specification")
	flags.BoolVar(&opts.force, flagForce, false, "Force update even if no changes require it")
	addServiceFlags(flags, opts.serviceOptions, false)

	flags.Var(opts.envRemove, flagEnvRemove, "Remove an environment variable")
	flags.Var(opts.labelRemove, flagLabelRemove, "Remove a label by its key")
	flags.Var(opts.containerLabelRemove, flagContainerLabelRemove, "Remove a container label by its key")
	flags.Var(&opts.publishRemove, flagPublishRemove, "Remove a published port by its target port")
	flags.Var(opts.constraintRemove, flagConstraintRemove, "Remove a constraint")
	flags.Var(opts.labels, flagLabelAdd, "Add or update a service label")
	flags.Var(opts.containerLabels, flagContainerLabelAdd, "Add or update a container label")
	flags.Var(opts.env, flagEnvAdd, "Add or update an environment variable")
	flags.Var(opts.constraints, flagConstraintAdd, "Add or update a placement constraint")
	flags.Var(&opts.placementPrefs, flagPlacementPrefAdd, "Add a placement preference")
	flags.Var(&opts.placementPrefRemove, flagPlacementPrefRemove, "Remove a placement preference")
	flags.Var(&opts.networks, flagNetworkAdd, "Add a network")
	flags.Var(opts.networkRemove, flagNetworkRemove, "Remove a network")
	flags.Var(&opts.ports, flagPublishAdd, "Add or update a published port")
	return cmd
}

func runServiceUpdate(ctx context.Context, g *Globals, flags *pflag.FlagSet, opts *serviceUpdateOptions, ref string) error {
	if opts.requestRollback {
		others := false
		flags.Visit(func(f *pflag.Flag) {
			switch f.Name {
			case flagRollback, flagDetach, flagQuiet, "host":
			default:
				others = true
			}
		})
		if others {
			return errors.New("other flags may not be combined with --rollback")
		}
	}
	if opts.health.disable && anyChanged(flags, healthFlags...) {
		return fmt.Errorf("--%s conflicts with --health-* options", flagNoHealthcheck)
	}

	c, err := g.Client()
	if err != nil {
		return err
	}
	res, err := c.ServiceInspect(ctx, ref, client.ServiceInspectOptions{})
	if err != nil {
		return err
	}
	svc := res.Service
	rollback := ""
	if opts.requestRollback {
		rollback = "previous"
	} else {
		if err := opts.merge(flags, &svc.Spec); err != nil {
			return err
		}
		if err := checkServiceSpec(svc.Spec); err != nil {
			return err
		}
	}
	update, err := c.ServiceUpdate(ctx, svc.ID, client.ServiceUpdateOptions{
		Version:       svc.Version,
		Spec:          svc.Spec,
		Rollback:      rollback,
		QueryRegistry: flags.Changed(flagImage) && !opts.noResolveImage,
	})
	if err != nil {
		return err
	}
	printWarnings(g.Err, update.Warnings)
	fmt.Fprintln(g.Out, ref)
	if opts.detach {
		return nil
	}
	return waitOnService(ctx, g, c, ref, waitOptions{quiet: opts.quiet, rollback: opts.requestRollback})
}

// merge writes the flags given, and only those, into spec.
func (o *serviceUpdateOptions) merge(flags *pflag.FlagSet, spec *swarm.ServiceSpec) error {
	task := &spec.TaskTemplate
	if task.ContainerSpec == nil {
		task.ContainerSpec = &swarm.ContainerSpec{}
	}
	cspec := task.ContainerSpec

	updateLabels(&spec.Labels, o.labelRemove.Values(), o.labels.Values())
	updateLabels(&cspec.Labels, o.containerLabelRemove.Values(), o.containerLabels.Values())
	setIfChanged(flags, flagImage, &cspec.Image, o.image)
	setIfChanged(flags, flagArgs, &cspec.Args, []string(o.args))
	setIfChanged(flags, flagEntrypoint, &cspec.Command, []string(o.entrypoint))
	if anyChanged(flags, flagEnvRemove, flagEnvAdd) {
		cspec.Env = mergeEnv(removeEnv(cspec.Env, o.envRemove.Values()), o.env.Values())
	}
	setIfChanged(flags, flagWorkdir, &cspec.Dir, o.workdir)
	setIfChanged(flags, flagUser, &cspec.User, o.user)
	setIfChanged(flags, flagHostname, &cspec.Hostname, o.hostname)
	setIfChanged(flags, flagStopSignal, &cspec.StopSignal, o.stopSignal)
	setIfChanged(flags, flagStopGracePeriod, &cspec.StopGracePeriod, o.stopGrace.Value())
	if err := o.mergeHealthcheck(flags, cspec); err != nil {
		return err
	}

	o.resources.merge(flags, task)
	if anyChanged(flags, restartPolicyFlags...) {
		if task.RestartPolicy == nil {
			task.RestartPolicy = defaultRestartPolicy()
		}
		o.mergeRestartPolicy(flags, task.RestartPolicy)
	}
	if anyChanged(flags, flagConstraintAdd, flagConstraintRemove, flagPlacementPrefAdd, flagPlacementPrefRemove, flagMaxReplicas) {
		if task.Placement == nil {
			task.Placement = &swarm.Placement{}
		}
		o.mergePlacement(flags, task.Placement)
	}
	if err := o.mergeNetworks(flags, task); err != nil {
		return err
	}

	if flags.Changed(flagReplicas) {
		if spec.Mode.Replicated == nil {
			return errors.New("--replicas can only be used with replicated mode")
		}
		spec.Mode.Replicated.Replicas = o.replicas.Value()
	}
	if flags.Changed(flagMaxReplicas) && spec.Mode.Replicated == nil {
		return fmt.Errorf("--%s can only be used with replicated mode", flagMaxReplicas)
	}

	if anyChanged(flags, updatePolicyFlags[:]...) {
		if spec.UpdateConfig == nil {
			spec.UpdateConfig = defaultUpdateConfig()
		}
		o.update.merge(flags, updatePolicyFlags, spec.UpdateConfig)
	}
	if anyChanged(flags, rollbackPolicyFlags[:]...) {
		if spec.RollbackConfig == nil {
			spec.RollbackConfig = defaultUpdateConfig()
		}
		o.rollback.merge(flags, rollbackPolicyFlags, spec.RollbackConfig)
	}

	if anyChanged(flags, flagEndpointMode, flagPublishAdd, flagPublishRemove) {
		if spec.EndpointSpec == nil {
			spec.EndpointSpec = &swarm.EndpointSpec{}
		}
		if flags.Changed(flagEndpointMode) {
			spec.EndpointSpec.Mode = swarm.ResolutionMode(o.endpointMode)
		}
		spec.EndpointSpec.Ports = updatePorts(spec.EndpointSpec.Ports, o.publishRemove.Value(), o.ports.Value())
	}

	if o.force {
		task.ForceUpdate++
	}
	return nil
}

// setIfChanged sets *field to value if the flag was given.
func setIfChanged[T any](flags *pflag.FlagSet, name string, field *T, value T) {
	if flags.Changed(name) {
		*field = value
	}
}

// updateLabels removes the keys in remove, then sets the "key=value" labels in add.
func updateLabels(labels *map[string]string, remove, add []string) {
	if *labels != nil {
		for _, key := range remove {
			delete(*labels, key)
		}
	}
	if len(add) > 0 {
		if *labels == nil {
			*labels = map[string]string{}
		}
		maps.Copy(*labels, labelMap(add))
	}
}

// removeEnv drops the variables named in names.
func removeEnv(env, names []string) []string {
	out := []string{}
	for _, v := range env {
		keep := true
		for _, name := range names {
			if envName(v) == name {
				keep = false
			}
		}
		if keep {
			out = append(out, v)
		}
	}
	return out
}

func (o *serviceUpdateOptions) mergeHealthcheck(flags *pflag.FlagSet, cspec *swarm.ContainerSpec) error {
	if !anyChanged(flags, append([]string{flagNoHealthcheck}, healthFlags...)...) {
		return nil
	}
	if o.health.disable {
		cspec.Healthcheck = &container.HealthConfig{Test: []string{"NONE"}}
		return nil
	}
	if cspec.Healthcheck == nil {
		cspec.Healthcheck = &container.HealthConfig{}
	}
	o.health.merge(flags, cspec.Healthcheck)
	return nil
}

func (o *serviceUpdateOptions) mergePlacement(flags *pflag.FlagSet, p *swarm.Placement) {
	if anyChanged(flags, flagConstraintAdd, flagConstraintRemove) {
		constraints := []string{}
		for _, c := range append(p.Constraints, o.constraints.Values()...) {
			removed := false
			for _, rm := range o.constraintRemove.Values() {
				removed = removed || c == rm
			}
			if !removed && !slices.Contains(constraints, c) {
				constraints = append(constraints, c)
			}
		}
		sort.Strings(constraints)
		p.Constraints = constraints
	}
	if anyChanged(flags, flagPlacementPrefAdd, flagPlacementPrefRemove) {
		var prefs []swarm.PlacementPreference
		for _, pref := range p.Preferences {
			removed := false
			for _, rm := range o.placementPrefRemove.prefs {
				removed = removed || (pref.Spread != nil && pref.Spread.SpreadDescriptor == rm.Spread.SpreadDescriptor)
			}
			if !removed {
				prefs = append(prefs, pref)
			}
		}
		p.Preferences = append(prefs, o.placementPrefs.prefs...)
	}
	setIfChanged(flags, flagMaxReplicas, &p.MaxReplicas, o.maxReplicas)
}

// mergeNetworks removes and adds network attachments, by network name or ID.
func (o *serviceUpdateOptions) mergeNetworks(flags *pflag.FlagSet, task *swarm.TaskSpec) error {
	if !anyChanged(flags, flagNetworkAdd, flagNetworkRemove) {
		return nil
	}
	networks := []swarm.NetworkAttachmentConfig{}
	for _, n := range task.Networks {
		if !slices.Contains(o.networkRemove.Values(), n.Target) {
			networks = append(networks, n)
		}
	}
	for _, add := range o.networks.attachments {
		for _, n := range networks {
			if n.Target == add.Target {
				return fmt.Errorf("service is already attached to network %s", add.Target)
			}
		}
		networks = append(networks, add)
	}
	sort.Slice(networks, func(i, j int) bool { return networks[i].Target < networks[j].Target })
	task.Networks = networks
	return nil
}

// updatePorts removes the ports whose target port, protocol and mode match one in
// remove, then adds the ports in add that are not there yet. The result is sorted.
func updatePorts(ports, remove, add []swarm.PortConfig) []swarm.PortConfig {
	out := []swarm.PortConfig{}
	seen := map[string]bool{}
	for _, p := range ports {
		key := portConfigString(p)
		if seen[key] {
			continue
		}
		seen[key] = true
		removed := false
		for _, rm := range remove {
			removed = removed || (p.TargetPort == rm.TargetPort && sameProtocol(p, rm) && samePublishMode(p, rm))
		}
		if !removed {
			out = append(out, p)
		}
	}
	for _, p := range add {
		key := portConfigString(p)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return portConfigString(out[i]) < portConfigString(out[j]) })
	return out
}

func sameProtocol(a, b swarm.PortConfig) bool {
	pa, pb := a.Protocol, b.Protocol
	if pa == "" {
		pa = "tcp"
	}
	if pb == "" {
		pb = "tcp"
	}
	return pa == pb
}

func samePublishMode(a, b swarm.PortConfig) bool {
	ma, mb := a.PublishMode, b.PublishMode
	if ma == "" {
		ma = swarm.PortConfigPublishModeIngress
	}
	if mb == "" {
		mb = swarm.PortConfigPublishModeIngress
	}
	return ma == mb
}
