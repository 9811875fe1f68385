package cli

import (
	"bytes"
	"context"
	"sort"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// defaultNodeTableFormat is docker's: the ID column carries " *" for the node answering.
const defaultNodeTableFormat = "table {{.ID}} {{if .Self}}*{{else}} {{ end }}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}\t{{.EngineVersion}}"

// nodeListHeader maps each field of nodeRow to its column title.
var nodeListHeader = map[string]string{
	"ID":            "ID",
	"Self":          "",
	"Hostname":      "HOSTNAME",
	"Status":        "STATUS",
	"Availability":  "AVAILABILITY",
	"ManagerStatus": "MANAGER STATUS",
	"EngineVersion": "ENGINE VERSION",
	"TLSStatus":     "TLS STATUS",
}

type nodeListOptions struct {
	quiet  bool
	format string
	filter filterFlag
}

func newNodeListCommand(g *Globals) *cobra.Command {
	opts := nodeListOptions{filter: newFilterFlag()}
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List nodes in the swarm",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNodeList(cmd.Context(), g, &opts)
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.quiet, "quiet", "q", false, "Only display IDs")
	flags.StringVar(&opts.format, "format", "", listFormatHelp)
	flags.VarP(&opts.filter, "filter", "f", "Filter output based on conditions provided")
	return cmd
}

func runNodeList(ctx context.Context, g *Globals, opts *nodeListOptions) error {
	c, err := g.Client()
	if err != nil {
		return err
	}
	nodes, err := c.NodeList(ctx, client.NodeListOptions{Filters: opts.filter.Value()})
	if err != nil {
		return err
	}
	// Which node is this one, and the cluster's TLS state, come from /info; a quiet
	// listing shows neither.
	var self swarm.Info
	if len(nodes.Items) > 0 && !opts.quiet {
		info, err := c.Info(ctx, client.InfoOptions{})
		if err != nil {
			return err
		}
		self = info.Info.Swarm
	}

	sortNodes(nodes.Items)
	rows := make([]any, len(nodes.Items))
	for i, n := range nodes.Items {
		rows[i] = &nodeRow{node: n, self: self}
	}
	return writeList(g.Out, nodeListFormat(opts.format, opts.quiet), nodeListHeader, rows)
}

// nodeListFormat picks the template for `node ls`, as docker does: a --format wins over
// -q, and "table" and "raw" stand for the built-in layouts.
func nodeListFormat(format string, quiet bool) string {
	switch format {
	case "", formatKeyTable:
		if quiet {
			return quietFormat
		}
		return defaultNodeTableFormat
	case formatKeyRaw:
		if quiet {
			return `node_id: {{.ID}}`
		}
		return `node_id: {{.ID}}\nhostname: {{.Hostname}}\nstatus: {{.Status}}\navailability: {{.Availability}}\nmanager_status: {{.ManagerStatus}}\n`
	}
	return format
}

// sortNodes orders nodes by hostname, numbers in names counted as numbers, then by ID.
func sortNodes(nodes []swarm.Node) {
	sort.SliceStable(nodes, func(i, j int) bool {
		a, b := nodes[i], nodes[j]
		if a.Description.Hostname != b.Description.Hostname {
			return naturalLess(a.Description.Hostname, b.Description.Hostname)
		}
		return a.ID < b.ID
	})
}

// nodeRow is one node as `node ls` templates see it. Its exported methods are the fields
// a --format template can use, and the keys of {{json .}}.
type nodeRow struct {
	node swarm.Node
	self swarm.Info
}

func (r *nodeRow) MarshalJSON() ([]byte, error) { return marshalRow(r) }

func (r *nodeRow) ID() string { return r.node.ID }

func (r *nodeRow) Self() bool { return r.node.ID != "" && r.node.ID == r.self.NodeID }

func (r *nodeRow) Hostname() string { return r.node.Description.Hostname }

func (r *nodeRow) Status() string { return prettyPrint(string(r.node.Status.State)) }

func (r *nodeRow) Availability() string { return prettyPrint(string(r.node.Spec.Availability)) }

func (r *nodeRow) ManagerStatus() string {
	ms := r.node.ManagerStatus
	switch {
	case ms == nil:
		return ""
	case ms.Leader:
		return "Leader"
	default:
		return prettyPrint(string(ms.Reachability))
	}
}

func (r *nodeRow) EngineVersion() string { return r.node.Description.Engine.EngineVersion }

// TLSStatus says whether the node's certificate comes from the cluster's current root CA.
func (r *nodeRow) TLSStatus() string {
	if r.self.Cluster == nil || isEmptyTLSInfo(r.self.Cluster.TLSInfo) || isEmptyTLSInfo(r.node.Description.TLSInfo) {
		return "Unknown"
	}
	if equalTLSInfo(r.node.Description.TLSInfo, r.self.Cluster.TLSInfo) {
		return "Ready"
	}
	return "Needs Rotation"
}

func isEmptyTLSInfo(t swarm.TLSInfo) bool {
	return t.TrustRoot == "" && len(t.CertIssuerSubject) == 0 && len(t.CertIssuerPublicKey) == 0
}

func equalTLSInfo(a, b swarm.TLSInfo) bool {
	return a.TrustRoot == b.TrustRoot && bytes.Equal(a.CertIssuerSubject, b.CertIssuerSubject) &&
		bytes.Equal(a.CertIssuerPublicKey, b.CertIssuerPublicKey)
}
