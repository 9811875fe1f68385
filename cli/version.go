package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/shoal/shoal/internal/version"
)

// Set at release time with -ldflags "-X github.com/shoal/shoal/cli.releaseCommit=..." and
// releaseTime (RFC 3339); without them the Go toolchain's build information fills them in.
// The version itself is internal/version's, which the daemon reports too.
var (
	releaseCommit = ""
	releaseTime   = ""
)

// thisBuild describes the running binary; tests replace it for stable output.
var thisBuild = readBuild()

// clientVersion is the Client part of `version` and `info`, with docker's field names.
type clientVersion struct {
	Version           string `json:"Version,omitempty"`
	APIVersion        string `json:"ApiVersion,omitempty"`
	DefaultAPIVersion string `json:"DefaultAPIVersion,omitempty"`
	GitCommit         string `json:"GitCommit,omitempty"`
	GoVersion         string `json:"GoVersion,omitempty"`
	Os                string `json:"Os,omitempty"`
	Arch              string `json:"Arch,omitempty"`
	BuildTime         string `json:"BuildTime,omitempty"`
}

func readBuild() clientVersion {
	v := clientVersion{
		Version:           version.Version,
		DefaultAPIVersion: client.MaxAPIVersion,
		GitCommit:         releaseCommit,
		GoVersion:         runtime.Version(),
		Os:                runtime.GOOS,
		Arch:              runtime.GOARCH,
		BuildTime:         releaseTime,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && v.GitCommit == "":
				v.GitCommit = s.Value
				if len(v.GitCommit) > 7 {
					v.GitCommit = v.GitCommit[:7]
				}
			case s.Key == "vcs.time" && v.BuildTime == "":
				v.BuildTime = s.Value
			}
		}
	}
	v.BuildTime = reformatDate(v.BuildTime)
	return v
}

// serverVersion is the Server part of `version`, with docker's field names. The
// top-level GitCommit and the rest repeat the Engine component, as docker keeps them.
type serverVersion struct {
	Platform      client.PlatformInfo       `json:",omitempty"`
	Version       string                    `json:"Version"`
	APIVersion    string                    `json:"ApiVersion"`
	MinAPIVersion string                    `json:"MinAPIVersion,omitempty"`
	Os            string                    `json:"Os"`
	Arch          string                    `json:"Arch"`
	Components    []system.ComponentVersion `json:"Components,omitempty"`
	GitCommit     string                    `json:"GitCommit,omitempty"`
	GoVersion     string                    `json:"GoVersion,omitempty"`
	KernelVersion string                    `json:"KernelVersion,omitempty"`
	Experimental  bool                      `json:"Experimental,omitempty"`
	BuildTime     string                    `json:"BuildTime,omitempty"`
}

type versionInfo struct {
	Client clientVersion
	Server *serverVersion
}

const defaultVersionTemplate = `{{with .Client -}}
Client:
 Version:	{{.Version}}
 API version:	{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}} (downgraded from {{.DefaultAPIVersion}}){{end}}
 Go version:	{{.GoVersion}}
 Git commit:	{{.GitCommit}}
 Built:	{{.BuildTime}}
 OS/Arch:	{{.Os}}/{{.Arch}}
{{- end}}

{{- if ne .Server nil}}{{with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 {{- range $component := .Components}}
 {{$component.Name}}:
  {{- if eq $component.Name "Engine" }}
  Version:	{{.Version}}
  API version:	{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:	{{index .Details "GoVersion"}}
  Git commit:	{{index .Details "GitCommit"}}
  Built:	{{index .Details "BuildTime"}}
  OS/Arch:	{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:	{{index .Details "Experimental"}}
  {{- else }}
  Version:	{{$component.Version}}
  {{- $detailsOrder := getDetailsOrder $component}}
  {{- range $key := $detailsOrder}}
  {{$key}}:	{{index $component.Details $key}}
   {{- end}}
  {{- end}}
 {{- end}}
 {{- end}}{{- end}}`

func newVersionCommand(g *Globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the Shoal version information",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVersion(cmd.Context(), g, format)
		},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", inspectFormatHelp)
	return cmd
}

func runVersion(ctx context.Context, g *Globals, format string) error {
	tmpl, err := versionTemplate(format)
	if err != nil {
		return statusError{code: 64, msg: err.Error()}
	}
	c, err := g.Client()
	if err != nil {
		return err
	}
	v := versionInfo{Client: thisBuild}
	sv, serverErr := c.ServerVersion(ctx, client.ServerVersionOptions{})
	if serverErr == nil {
		v.Server = newServerVersion(sv)
	}
	v.Client.APIVersion = c.ClientVersion()

	// The client part prints even when the daemon cannot be reached.
	tw := tabwriter.NewWriter(g.Out, 20, 1, 1, ' ', 0)
	err = tmpl.Execute(tw, v)
	tw.Write([]byte{'\n'})
	tw.Flush()
	if serverErr != nil {
		return serverErr
	}
	if err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	return nil
}

func versionTemplate(format string) (*template.Template, error) {
	switch format {
	case "":
		format = defaultVersionTemplate
	case formatKeyJSON:
		format = jsonFormat
	}
	tmpl, err := template.New("version").Funcs(templateFuncs).
		Funcs(template.FuncMap{"getDetailsOrder": detailsOrder}).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return tmpl, nil
}

// newServerVersion arranges the daemon's answer as docker shows it: an Engine component
// always exists, and its details are repeated in the top-level fields.
func newServerVersion(sv client.ServerVersionResult) *serverVersion {
	out := &serverVersion{
		Platform:      sv.Platform,
		Version:       sv.Version,
		APIVersion:    sv.APIVersion,
		MinAPIVersion: sv.MinAPIVersion,
		Os:            sv.Os,
		Arch:          sv.Arch,
		Experimental:  sv.Experimental,
		Components:    make([]system.ComponentVersion, 0, len(sv.Components)+1),
	}
	foundEngine := false
	for _, component := range sv.Components {
		if component.Name == "Engine" && component.Details != nil {
			foundEngine = true
			details := make(map[string]string, len(component.Details))
			for k, v := range component.Details {
				details[k] = v
			}
			out.BuildTime = details["BuildTime"]
			if bt, ok := details["BuildTime"]; ok {
				details["BuildTime"] = reformatDate(bt)
			}
			component.Details = details
			out.GitCommit = details["GitCommit"]
			out.GoVersion = details["GoVersion"]
			out.KernelVersion = details["KernelVersion"]
			out.Experimental, _ = strconv.ParseBool(details["Experimental"])
		}
		out.Components = append(out.Components, component)
	}
	if !foundEngine {
		out.Components = append(out.Components, system.ComponentVersion{
			Name:    "Engine",
			Version: sv.Version,
			Details: map[string]string{
				"ApiVersion":    sv.APIVersion,
				"MinAPIVersion": sv.MinAPIVersion,
				"Os":            sv.Os,
				"Arch":          sv.Arch,
				"Experimental":  strconv.FormatBool(sv.Experimental),
			},
		})
	}
	return out
}

// reformatDate shows an RFC 3339 time as docker's version does ("Mon Jan  2 15:04:05 2006").
func reformatDate(s string) string {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.Format(time.ANSIC)
	}
	return s
}

func detailsOrder(v system.ComponentVersion) []string {
	keys := make([]string, 0, len(v.Details))
	for k := range v.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
