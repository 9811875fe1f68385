package cli

import (
	"context"
	"encoding/base64"
	"strings"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// nodeInspectPrettyTemplate is docker's `node inspect --pretty` layout, tabs included.
const nodeInspectPrettyTemplate = `ID:			{{.ID}}
{{- if .Name }}
Name:			{{.Name}}
{{- end }}
{{- if .Labels }}
Labels:
{{- range $k, $v := .Labels }}
 - {{ $k }}{{if $v }}={{ $v }}{{ end }}
{{- end }}{{ end }}
Hostname:              	{{.Hostname}}
Joined at:             	{{.CreatedAt}}
Status:
 State:			{{.StatusState}}
 {{- if .HasStatusMessage}}
 Message:              	{{.StatusMessage}}
 {{- end}}
 Availability:         	{{.SpecAvailability}}
 {{- if .Status.Addr}}
 Address:		{{.StatusAddr}}
 {{- end}}
{{- if .HasManagerStatus}}
Manager Status:
 Address:		{{.ManagerStatusAddr}}
 Raft Status:		{{.ManagerStatusReachability}}
 {{- if .IsManagerStatusLeader}}
 Leader:		Yes
 {{- else}}
 Leader:		No
 {{- end}}
{{- end}}
Platform:
 Operating System:	{{.PlatformOS}}
 Architecture:		{{.PlatformArchitecture}}
Resources:
 CPUs:			{{.ResourceNanoCPUs}}
 Memory:		{{.ResourceMemory}}
{{- if .HasEnginePlugins}}
Plugins:
{{- range $k, $v := .EnginePlugins }}
 {{ $k }}:{{if $v }}		{{ $v }}{{ end }}
{{- end }}
{{- end }}
Engine Version:		{{.EngineVersion}}
{{- if .EngineLabels}}
Engine Labels:
{{- range $k, $v := .EngineLabels }}
 - {{ $k }}{{if $v }}={{ $v }}{{ end }}
{{- end }}{{- end }}
{{- if .HasTLSInfo}}
TLS Info:
 TrustRoot:
{{.TLSInfoTrustRoot}}
 Issuer Subject:	{{.TLSInfoCertIssuerSubject}}
 Issuer Public Key:	{{.TLSInfoCertIssuerPublicKey}}
{{- end}}`

type nodeInspectOptions struct {
	format string
	pretty bool
}

func newNodeInspectCommand(g *Globals) *cobra.Command {
	var opts nodeInspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] self|NODE [NODE...]",
		Short: "Display detailed information on one or more nodes",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runNodeInspect(cmd.Context(), g, args, opts)
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.StringVarP(&opts.format, "format", "f", "", inspectFormatHelp)
	flags.BoolVar(&opts.pretty, "pretty", false, "Print the information in a human friendly format")
	return cmd
}

func runNodeInspect(ctx context.Context, g *Globals, refs []string, opts nodeInspectOptions) error {
	format, err := inspectFormat(opts.format, opts.pretty)
	if err != nil {
		return err
	}
	c, err := g.Client()
	if err != nil {
		return err
	}
	get := func(ref string) (any, []byte, error) {
		id, err := nodeReference(ctx, c, ref)
		if err != nil {
			return nil, nil, err
		}
		res, err := c.NodeInspect(ctx, id, client.NodeInspectOptions{})
		if err != nil {
			return nil, nil, err
		}
		return res.Node, res.Raw, nil
	}
	return writeInspectOrPretty(g, refs, format, get, writeNodesPretty)
}

// writeNodesPretty prints nodes in the human form. Like docker, it prints nothing if any
// node cannot be fetched.
func writeNodesPretty(g *Globals, refs []string, get inspectGetter) error {
	return writePretty(g, refs, get, nodeInspectPrettyTemplate, func(obj any) any {
		return &nodePrettyView{Node: obj.(swarm.Node)}
	})
}

// nodePrettyView holds the values the pretty template shows. Its methods shadow the
// Node fields of the same name.
type nodePrettyView struct {
	swarm.Node
}

func (v *nodePrettyView) ID() string                      { return v.Node.ID }
func (v *nodePrettyView) Name() string                    { return v.Spec.Name }
func (v *nodePrettyView) Labels() map[string]string       { return v.Spec.Labels }
func (v *nodePrettyView) Hostname() string                { return v.Description.Hostname }
func (v *nodePrettyView) CreatedAt() string               { return prettyPrint(v.Node.CreatedAt) }
func (v *nodePrettyView) StatusState() string             { return prettyPrint(v.Status.State) }
func (v *nodePrettyView) HasStatusMessage() bool          { return v.Status.Message != "" }
func (v *nodePrettyView) StatusMessage() string           { return prettyPrint(v.Status.Message) }
func (v *nodePrettyView) SpecAvailability() string        { return prettyPrint(v.Spec.Availability) }
func (v *nodePrettyView) StatusAddr() string              { return v.Status.Addr }
func (v *nodePrettyView) HasManagerStatus() bool          { return v.Node.ManagerStatus != nil }
func (v *nodePrettyView) ManagerStatusAddr() string       { return v.Node.ManagerStatus.Addr }
func (v *nodePrettyView) IsManagerStatusLeader() bool     { return v.Node.ManagerStatus.Leader }
func (v *nodePrettyView) PlatformOS() string              { return v.Description.Platform.OS }
func (v *nodePrettyView) PlatformArchitecture() string    { return v.Description.Platform.Architecture }
func (v *nodePrettyView) EngineVersion() string           { return v.Description.Engine.EngineVersion }
func (v *nodePrettyView) EngineLabels() map[string]string { return v.Description.Engine.Labels }
func (v *nodePrettyView) HasEnginePlugins() bool          { return len(v.Description.Engine.Plugins) > 0 }
func (v *nodePrettyView) HasTLSInfo() bool                { return !isEmptyTLSInfo(v.Description.TLSInfo) }
func (v *nodePrettyView) TLSInfoTrustRoot() string        { return v.Description.TLSInfo.TrustRoot }

func (v *nodePrettyView) ManagerStatusReachability() string {
	return prettyPrint(v.Node.ManagerStatus.Reachability)
}

func (v *nodePrettyView) TLSInfoCertIssuerSubject() string {
	return base64.StdEncoding.EncodeToString(v.Description.TLSInfo.CertIssuerSubject)
}

func (v *nodePrettyView) TLSInfoCertIssuerPublicKey() string {
	return base64.StdEncoding.EncodeToString(v.Description.TLSInfo.CertIssuerPublicKey)
}

// ResourceNanoCPUs is the node's whole CPUs.
func (v *nodePrettyView) ResourceNanoCPUs() int {
	return int(v.Description.Resources.NanoCPUs / 1e9)
}

func (v *nodePrettyView) ResourceMemory() string {
	if v.Description.Resources.MemoryBytes == 0 {
		return ""
	}
	return bytesSize(v.Description.Resources.MemoryBytes)
}

// EnginePlugins lists plugin names by plugin type ("Network" → "bridge, overlay").
func (v *nodePrettyView) EnginePlugins() map[string]string {
	byType := map[string][]string{}
	for _, p := range v.Description.Engine.Plugins {
		byType[p.Type] = append(byType[p.Type], p.Name)
	}
	joined := make(map[string]string, len(byType))
	for t, names := range byType {
		joined[t] = strings.Join(names, ", ")
	}
	return joined
}
