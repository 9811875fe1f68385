package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// serviceInspectPrettyTemplate is docker's `service inspect --pretty` layout, tabs and
// leading blank line included.
const serviceInspectPrettyTemplate = `
ID:		{{.ID}}
Name:		{{.Name}}
{{- if .Labels }}
Labels:
{{- range $k, $v := .Labels }}
 {{ $k }}{{if $v }}={{ $v }}{{ end }}
{{- end }}{{ end }}
Service Mode:
{{- if .IsModeGlobal }}	Global
{{- else if .IsModeReplicated }}	Replicated
{{- if .ModeReplicatedReplicas }}
 Replicas:	{{ .ModeReplicatedReplicas }}
{{- end }}{{ end }}
{{- if .HasUpdateStatus }}
UpdateStatus:
 State:		{{ .UpdateStatusState }}
{{- if .HasUpdateStatusStarted }}
 Started:	{{ .UpdateStatusStarted }}
{{- end }}
{{- if .UpdateIsCompleted }}
 Completed:	{{ .UpdateStatusCompleted }}
{{- end }}
 Message:	{{ .UpdateStatusMessage }}
{{- end }}
Placement:
{{- if .TaskPlacementConstraints }}
 Constraints:	{{ .TaskPlacementConstraints }}
{{- end }}
{{- if .TaskPlacementPreferences }}
 Preferences:   {{ .TaskPlacementPreferences }}
{{- end }}
{{- if .MaxReplicas }}
 Max Replicas Per Node:   {{ .MaxReplicas }}
{{- end }}
{{- if .HasUpdateConfig }}
UpdateConfig:
 Parallelism:	{{ .UpdateParallelism }}
{{- if .HasUpdateDelay}}
 Delay:		{{ .UpdateDelay }}
{{- end }}
 On failure:	{{ .UpdateOnFailure }}
{{- if .HasUpdateMonitor}}
 Monitoring Period: {{ .UpdateMonitor }}
{{- end }}
 Max failure ratio: {{ .UpdateMaxFailureRatio }}
 Update order:      {{ .UpdateOrder }}
{{- end }}
{{- if .HasRollbackConfig }}
RollbackConfig:
 Parallelism:	{{ .RollbackParallelism }}
{{- if .HasRollbackDelay}}
 Delay:		{{ .RollbackDelay }}
{{- end }}
 On failure:	{{ .RollbackOnFailure }}
{{- if .HasRollbackMonitor}}
 Monitoring Period: {{ .RollbackMonitor }}
{{- end }}
 Max failure ratio: {{ .RollbackMaxFailureRatio }}
 Rollback order:    {{ .RollbackOrder }}
{{- end }}
ContainerSpec:
 Image:		{{ .ContainerImage }}
{{- if .ContainerArgs }}
 Args:		{{ range $arg := .ContainerArgs }}{{ $arg }} {{ end }}
{{- end -}}
{{- if .ContainerEnv }}
 Env:		{{ range $env := .ContainerEnv }}{{ $env }} {{ end }}
{{- end -}}
{{- if .ContainerWorkDir }}
 Dir:		{{ .ContainerWorkDir }}
{{- end -}}
{{- if .HasContainerInit }}
 Init:		{{ .ContainerInit }}
{{- end -}}
{{- if .ContainerUser }}
 User: {{ .ContainerUser }}
{{- end }}
{{- if .HasCapabilities }}
Capabilities:
{{- if .HasCapabilityAdd }}
 Add: {{ .CapabilityAdd }}
{{- end }}
{{- if .HasCapabilityDrop }}
 Drop: {{ .CapabilityDrop }}
{{- end }}
{{- end }}
{{- if .ContainerSysCtls }}
SysCtls:
{{- range $k, $v := .ContainerSysCtls }}
 {{ $k }}{{if $v }}: {{ $v }}{{ end }}
{{- end }}{{ end }}
{{- if .ContainerUlimits }}
Ulimits:
{{- range $k, $v := .ContainerUlimits }}
 {{ $k }}: {{ $v }}
{{- end }}{{ end }}
{{- if .ContainerMounts }}
Mounts:
{{- end }}
{{- range $mount := .ContainerMounts }}
 Target:	{{ $mount.Target }}
  Source:	{{ $mount.Source }}
  ReadOnly:	{{ $mount.ReadOnly }}
  Type:		{{ $mount.Type }}
{{- end -}}
{{- if .Configs}}
Configs:
{{- range $config := .Configs }}
 Target:	{{$config.File.Name}}
  Source:	{{$config.ConfigName}}
{{- end }}{{ end }}
{{- if .Secrets }}
Secrets:
{{- range $secret := .Secrets }}
 Target:	{{$secret.File.Name}}
  Source:	{{$secret.SecretName}}
{{- end }}{{ end }}
{{- if .HasLogDriver }}
Log Driver:
{{- if .HasLogDriverName }}
 Name:		{{ .LogDriverName }}
{{- end }}
{{- if .LogOpts }}
 LogOpts:
{{- range $k, $v := .LogOpts }}
  {{ $k }}{{if $v }}:       {{ $v }}{{ end }}
{{- end }}{{ end }}
{{ end }}
{{- if .HasResources }}
Resources:
{{- if .HasResourceReservations }}
 Reservations:
{{- if gt .ResourceReservationNanoCPUs 0.0 }}
  CPU:		{{ .ResourceReservationNanoCPUs }}
{{- end }}
{{- if .ResourceReservationMemory }}
  Memory:	{{ .ResourceReservationMemory }}
{{- end }}{{ end }}
{{- if .HasResourceLimits }}
 Limits:
{{- if gt .ResourceLimitsNanoCPUs 0.0 }}
  CPU:		{{ .ResourceLimitsNanoCPUs }}
{{- end }}
{{- if .ResourceLimitMemory }}
  Memory:	{{ .ResourceLimitMemory }}
{{- end }}{{ end }}{{ end }}
{{- if gt .ResourceLimitPids 0 }}
  PIDs:		{{ .ResourceLimitPids }}
{{- end }}
{{- if .Networks }}
Networks:
{{- range $network := .Networks }} {{ $network }}{{ end }} {{ end }}
Endpoint Mode:	{{ .EndpointMode }}
{{- if .Ports }}
Ports:
{{- range $port := .Ports }}
 PublishedPort = {{ $port.PublishedPort }}
  Protocol = {{ $port.Protocol }}
  TargetPort = {{ $port.TargetPort }}
  PublishMode = {{ $port.PublishMode }}
{{- end }} {{ end -}}
{{- if .Healthcheck }}
 Healthcheck:
  Interval = {{ .Healthcheck.Interval }}
  Retries = {{ .Healthcheck.Retries }}
  StartPeriod =	{{ .Healthcheck.StartPeriod }}
  Timeout =	{{ .Healthcheck.Timeout }}
  {{- if .Healthcheck.Test }}
  Tests:
	{{- range $test := .Healthcheck.Test }}
	 Test = {{ $test }}
  {{- end }} {{ end -}}
{{- end }}
`

type serviceInspectOptions struct {
	format string
	pretty bool
}

func newServiceInspectCommand(g *Globals) *cobra.Command {
	var opts serviceInspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] SERVICE [SERVICE...]",
		Short: "Display detailed information on one or more services",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.pretty && opts.format != "" {
				return errors.New("--format is incompatible with human friendly format")
			}
			return runServiceInspect(cmd.Context(), g, args, opts)
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.StringVarP(&opts.format, "format", "f", "", inspectFormatHelp)
	flags.BoolVar(&opts.pretty, "pretty", false, "Print the information in a human friendly format")
	return cmd
}

func runServiceInspect(ctx context.Context, g *Globals, refs []string, opts serviceInspectOptions) error {
	format, err := inspectFormat(opts.format, opts.pretty)
	if err != nil {
		return err
	}
	c, err := g.Client()
	if err != nil {
		return err
	}
	get := func(ref string) (any, []byte, error) {
		// With the daemon's defaults filled in, as docker shows a service.
		res, err := c.ServiceInspect(ctx, ref, client.ServiceInspectOptions{InsertDefaults: true})
		if cerrdefs.IsNotFound(err) {
			return nil, nil, fmt.Errorf("no such service: %s", ref)
		}
		if err != nil {
			return nil, nil, err
		}
		return res.Service, res.Raw, nil
	}
	return writeInspectOrPretty(g, refs, format, get, writeServicesPretty)
}

// writeServicesPretty prints services in the human form. Like docker, it prints nothing
// if any service cannot be fetched.
func writeServicesPretty(g *Globals, refs []string, get inspectGetter) error {
	return writePretty(g, refs, get, serviceInspectPrettyTemplate, func(obj any) any {
		return newServicePrettyView(obj.(swarm.Service))
	})
}

// servicePrettyView holds the values the pretty template shows.
type servicePrettyView struct {
	s     swarm.Service
	cspec *swarm.ContainerSpec
}

func newServicePrettyView(s swarm.Service) *servicePrettyView {
	cspec := s.Spec.TaskTemplate.ContainerSpec
	if cspec == nil {
		cspec = &swarm.ContainerSpec{}
	}
	return &servicePrettyView{s: s, cspec: cspec}
}

func (v *servicePrettyView) ID() string                { return v.s.ID }
func (v *servicePrettyView) Name() string              { return v.s.Spec.Name }
func (v *servicePrettyView) Labels() map[string]string { return v.s.Spec.Labels }
func (v *servicePrettyView) IsModeGlobal() bool        { return v.s.Spec.Mode.Global != nil }
func (v *servicePrettyView) IsModeReplicated() bool    { return v.s.Spec.Mode.Replicated != nil }
func (v *servicePrettyView) ModeReplicatedReplicas() *uint64 {
	return v.s.Spec.Mode.Replicated.Replicas
}

func (v *servicePrettyView) HasUpdateStatus() bool {
	return v.s.UpdateStatus != nil && v.s.UpdateStatus.State != ""
}
func (v *servicePrettyView) UpdateStatusState() swarm.UpdateState { return v.s.UpdateStatus.State }
func (v *servicePrettyView) HasUpdateStatusStarted() bool         { return v.s.UpdateStatus.StartedAt != nil }
func (v *servicePrettyView) UpdateStatusStarted() string {
	return units.HumanDuration(now().Sub(*v.s.UpdateStatus.StartedAt)) + " ago"
}
func (v *servicePrettyView) UpdateIsCompleted() bool {
	return v.s.UpdateStatus.State == swarm.UpdateStateCompleted && v.s.UpdateStatus.CompletedAt != nil
}
func (v *servicePrettyView) UpdateStatusCompleted() string {
	return units.HumanDuration(now().Sub(*v.s.UpdateStatus.CompletedAt)) + " ago"
}
func (v *servicePrettyView) UpdateStatusMessage() string { return v.s.UpdateStatus.Message }

func (v *servicePrettyView) placement() *swarm.Placement {
	if p := v.s.Spec.TaskTemplate.Placement; p != nil {
		return p
	}
	return &swarm.Placement{}
}
func (v *servicePrettyView) TaskPlacementConstraints() []string { return v.placement().Constraints }
func (v *servicePrettyView) MaxReplicas() uint64                { return v.placement().MaxReplicas }
func (v *servicePrettyView) TaskPlacementPreferences() []string {
	var out []string
	for _, pref := range v.placement().Preferences {
		if pref.Spread != nil {
			out = append(out, "spread="+pref.Spread.SpreadDescriptor)
		}
	}
	return out
}

func (v *servicePrettyView) HasUpdateConfig() bool      { return v.s.Spec.UpdateConfig != nil }
func (v *servicePrettyView) UpdateParallelism() uint64  { return v.s.Spec.UpdateConfig.Parallelism }
func (v *servicePrettyView) HasUpdateDelay() bool       { return v.s.Spec.UpdateConfig.Delay > 0 }
func (v *servicePrettyView) UpdateDelay() time.Duration { return v.s.Spec.UpdateConfig.Delay }
func (v *servicePrettyView) UpdateOnFailure() string {
	return string(v.s.Spec.UpdateConfig.FailureAction)
}
func (v *servicePrettyView) HasUpdateMonitor() bool       { return v.s.Spec.UpdateConfig.Monitor > 0 }
func (v *servicePrettyView) UpdateMonitor() time.Duration { return v.s.Spec.UpdateConfig.Monitor }
func (v *servicePrettyView) UpdateMaxFailureRatio() float32 {
	return v.s.Spec.UpdateConfig.MaxFailureRatio
}
func (v *servicePrettyView) UpdateOrder() string { return string(v.s.Spec.UpdateConfig.Order) }

func (v *servicePrettyView) HasRollbackConfig() bool      { return v.s.Spec.RollbackConfig != nil }
func (v *servicePrettyView) RollbackParallelism() uint64  { return v.s.Spec.RollbackConfig.Parallelism }
func (v *servicePrettyView) HasRollbackDelay() bool       { return v.s.Spec.RollbackConfig.Delay > 0 }
func (v *servicePrettyView) RollbackDelay() time.Duration { return v.s.Spec.RollbackConfig.Delay }
func (v *servicePrettyView) RollbackOnFailure() string {
	return string(v.s.Spec.RollbackConfig.FailureAction)
}
func (v *servicePrettyView) HasRollbackMonitor() bool       { return v.s.Spec.RollbackConfig.Monitor > 0 }
func (v *servicePrettyView) RollbackMonitor() time.Duration { return v.s.Spec.RollbackConfig.Monitor }
func (v *servicePrettyView) RollbackMaxFailureRatio() float32 {
	return v.s.Spec.RollbackConfig.MaxFailureRatio
}
func (v *servicePrettyView) RollbackOrder() string { return string(v.s.Spec.RollbackConfig.Order) }

func (v *servicePrettyView) ContainerImage() string               { return v.cspec.Image }
func (v *servicePrettyView) ContainerArgs() []string              { return v.cspec.Args }
func (v *servicePrettyView) ContainerEnv() []string               { return v.cspec.Env }
func (v *servicePrettyView) ContainerWorkDir() string             { return v.cspec.Dir }
func (v *servicePrettyView) ContainerUser() string                { return v.cspec.User }
func (v *servicePrettyView) HasContainerInit() bool               { return v.cspec.Init != nil }
func (v *servicePrettyView) ContainerInit() bool                  { return *v.cspec.Init }
func (v *servicePrettyView) ContainerMounts() []mount.Mount       { return v.cspec.Mounts }
func (v *servicePrettyView) Healthcheck() *container.HealthConfig { return v.cspec.Healthcheck }
func (v *servicePrettyView) ContainerSysCtls() map[string]string  { return v.cspec.Sysctls }
func (v *servicePrettyView) Configs() []*swarm.ConfigReference    { return v.cspec.Configs }
func (v *servicePrettyView) Secrets() []*swarm.SecretReference    { return v.cspec.Secrets }
func (v *servicePrettyView) HasCapabilities() bool {
	return len(v.cspec.CapabilityAdd) > 0 || len(v.cspec.CapabilityDrop) > 0
}
func (v *servicePrettyView) HasCapabilityAdd() bool  { return len(v.cspec.CapabilityAdd) > 0 }
func (v *servicePrettyView) HasCapabilityDrop() bool { return len(v.cspec.CapabilityDrop) > 0 }
func (v *servicePrettyView) CapabilityAdd() string   { return strings.Join(v.cspec.CapabilityAdd, ", ") }
func (v *servicePrettyView) CapabilityDrop() string {
	return strings.Join(v.cspec.CapabilityDrop, ", ")
}

func (v *servicePrettyView) ContainerUlimits() map[string]string {
	ulimits := map[string]string{}
	for _, u := range v.cspec.Ulimits {
		ulimits[u.Name] = fmt.Sprintf("%d:%d", u.Soft, u.Hard)
	}
	return ulimits
}

func (v *servicePrettyView) HasLogDriver() bool { return v.s.Spec.TaskTemplate.LogDriver != nil }
func (v *servicePrettyView) HasLogDriverName() bool {
	return v.s.Spec.TaskTemplate.LogDriver.Name != ""
}
func (v *servicePrettyView) LogDriverName() string { return v.s.Spec.TaskTemplate.LogDriver.Name }
func (v *servicePrettyView) LogOpts() map[string]string {
	return v.s.Spec.TaskTemplate.LogDriver.Options
}

func (v *servicePrettyView) resources() *swarm.ResourceRequirements {
	if r := v.s.Spec.TaskTemplate.Resources; r != nil {
		return r
	}
	return &swarm.ResourceRequirements{}
}
func (v *servicePrettyView) reservations() *swarm.Resources {
	if r := v.resources().Reservations; r != nil {
		return r
	}
	return &swarm.Resources{}
}
func (v *servicePrettyView) limits() *swarm.Limit {
	if l := v.resources().Limits; l != nil {
		return l
	}
	return &swarm.Limit{}
}
func (v *servicePrettyView) HasResources() bool { return v.s.Spec.TaskTemplate.Resources != nil }
func (v *servicePrettyView) HasResourceReservations() bool {
	return v.reservations().NanoCPUs > 0 || v.reservations().MemoryBytes > 0
}
func (v *servicePrettyView) ResourceReservationNanoCPUs() float64 {
	return float64(v.reservations().NanoCPUs) / 1e9
}
func (v *servicePrettyView) ResourceReservationMemory() string {
	if v.reservations().MemoryBytes == 0 {
		return ""
	}
	return units.BytesSize(float64(v.reservations().MemoryBytes))
}
func (v *servicePrettyView) HasResourceLimits() bool {
	l := v.limits()
	return l.NanoCPUs > 0 || l.MemoryBytes > 0 || l.Pids > 0
}
func (v *servicePrettyView) ResourceLimitsNanoCPUs() float64 {
	return float64(v.limits().NanoCPUs) / 1e9
}
func (v *servicePrettyView) ResourceLimitMemory() string {
	if v.limits().MemoryBytes == 0 {
		return ""
	}
	return units.BytesSize(float64(v.limits().MemoryBytes))
}
func (v *servicePrettyView) ResourceLimitPids() int64 { return v.limits().Pids }

// Networks are the networks the tasks join, by the name or ID the spec holds.
func (v *servicePrettyView) Networks() []string {
	var out []string
	for _, n := range v.s.Spec.TaskTemplate.Networks {
		out = append(out, n.Target)
	}
	return out
}

func (v *servicePrettyView) EndpointMode() string {
	if v.s.Spec.EndpointSpec == nil {
		return ""
	}
	return string(v.s.Spec.EndpointSpec.Mode)
}

func (v *servicePrettyView) Ports() []swarm.PortConfig { return v.s.Endpoint.Ports }
