package cli

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

const defaultNetworkTableFormat = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"

// networkListHeader maps each field of networkRow to its column title, as docker's.
var networkListHeader = map[string]string{
	"ID":        "NETWORK ID",
	"Name":      "NAME",
	"Driver":    "DRIVER",
	"Scope":     "SCOPE",
	"IPv4":      "IPV4",
	"IPv6":      "IPV6",
	"Internal":  "INTERNAL",
	"Labels":    "LABELS",
	"CreatedAt": "CREATED AT",
}

type networkListOptions struct {
	quiet   bool
	noTrunc bool
	format  string
	filter  filterFlag
}

func newNetworkListCommand(g *Globals) *cobra.Command {
	opts := networkListOptions{filter: newFilterFlag()}
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNetworkList(cmd.Context(), g, &opts)
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.quiet, flagQuiet, "q", false, "Only display network IDs")
	flags.BoolVar(&opts.noTrunc, "no-trunc", false, "Do not truncate the output")
	flags.StringVar(&opts.format, "format", "", listFormatHelp)
	flags.VarP(&opts.filter, "filter", "f", `Provide filter values (e.g. "driver=bridge")`)
	return cmd
}

func runNetworkList(ctx context.Context, g *Globals, opts *networkListOptions) error {
	c, err := g.Client()
	if err != nil {
		return err
	}
	res, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: opts.filter.Value()})
	if err != nil {
		return err
	}
	networks := res.Items
	sort.SliceStable(networks, func(i, j int) bool { return naturalLess(networks[i].Name, networks[j].Name) })
	rows := make([]any, len(networks))
	for i, n := range networks {
		rows[i] = &networkRow{network: n, trunc: !opts.noTrunc}
	}
	return writeList(g.Out, networkListFormat(opts.format, opts.quiet), networkListHeader, rows)
}

// networkListFormat picks the template for `network ls`, as docker does: a --format wins
// over -q, and "table" and "raw" stand for the built-in layouts.
func networkListFormat(format string, quiet bool) string {
	switch format {
	case "", formatKeyTable:
		if quiet {
			return quietFormat
		}
		return defaultNetworkTableFormat
	case formatKeyRaw:
		if quiet {
			return `network_id: {{.ID}}`
		}
		return `network_id: {{.ID}}\nname: {{.Name}}\ndriver: {{.Driver}}\nscope: {{.Scope}}\n`
	}
	return format
}

// networkRow is one network as `network ls` templates see it. Its exported methods are
// the fields a --format template can use, and the keys of {{json .}}.
type networkRow struct {
	network network.Summary
	trunc   bool
}

func (r *networkRow) MarshalJSON() ([]byte, error) { return marshalRow(r) }

func (r *networkRow) ID() string {
	if r.trunc {
		return truncateID(r.network.ID)
	}
	return r.network.ID
}

func (r *networkRow) Name() string   { return r.network.Name }
func (r *networkRow) Driver() string { return r.network.Driver }
func (r *networkRow) Scope() string  { return r.network.Scope }

func (r *networkRow) IPv4() string     { return strconv.FormatBool(r.network.EnableIPv4) }
func (r *networkRow) IPv6() string     { return strconv.FormatBool(r.network.EnableIPv6) }
func (r *networkRow) Internal() string { return strconv.FormatBool(r.network.Internal) }

// Labels lists the labels as "k=v" joined by commas, sorted by key (docker leaves them in
// map order, which changes from run to run).
func (r *networkRow) Labels() string {
	labels := make([]string, 0, len(r.network.Labels))
	for k, v := range r.network.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	return strings.Join(labels, ",")
}

// Label is the value of one label ({{.Label "tier"}}).
func (r *networkRow) Label(name string) string { return r.network.Labels[name] }

func (r *networkRow) CreatedAt() string { return r.network.Created.String() }
