package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

const defaultServiceTableFormat = "table {{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}"

var serviceListHeader = map[string]string{
	"ID":       "ID",
	"Name":     "NAME",
	"Mode":     "MODE",
	"Replicas": "REPLICAS",
	"Image":    "IMAGE",
	"Ports":    "PORTS",
}

type serviceListOptions struct {
	quiet  bool
	format string
	filter filterFlag
}

func newServiceListCommand(g *Globals) *cobra.Command {
	opts := serviceListOptions{filter: newFilterFlag()}
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List services",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServiceList(cmd.Context(), g, &opts)
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.quiet, flagQuiet, "q", false, "Only display IDs")
	flags.StringVar(&opts.format, "format", "", listFormatHelp)
	flags.VarP(&opts.filter, "filter", "f", "Filter output based on conditions provided")
	return cmd
}

func runServiceList(ctx context.Context, g *Globals, opts *serviceListOptions) error {
	c, err := g.Client()
	if err != nil {
		return err
	}
	res, err := c.ServiceList(ctx, client.ServiceListOptions{
		Filters: opts.filter.Value(),
		Status:  !opts.quiet, // running/desired counts, not needed for IDs alone
	})
	if err != nil {
		return err
	}
	services := res.Items
	sort.SliceStable(services, func(i, j int) bool { return naturalLess(services[i].Spec.Name, services[j].Spec.Name) })
	rows := make([]any, len(services))
	for i, s := range services {
		rows[i] = &serviceRow{service: s}
	}
	return writeList(g.Out, serviceListFormat(opts.format, opts.quiet), serviceListHeader, rows)
}

// serviceListFormat picks the template for `service ls`, as docker does.
func serviceListFormat(format string, quiet bool) string {
	switch format {
	case "", formatKeyTable:
		if quiet {
			return quietFormat
		}
		return defaultServiceTableFormat
	case formatKeyRaw:
		if quiet {
			return `id: {{.ID}}`
		}
		return `id: {{.ID}}\nname: {{.Name}}\nmode: {{.Mode}}\nreplicas: {{.Replicas}}\nimage: {{.Image}}\nports: {{.Ports}}\n`
	}
	return format
}

// serviceRow is one service as `service ls` templates see it.
type serviceRow struct {
	service swarm.Service
}

func (r *serviceRow) MarshalJSON() ([]byte, error) { return marshalRow(r) }

func (r *serviceRow) ID() string { return truncateID(r.service.ID) }

func (r *serviceRow) Name() string { return r.service.Spec.Name }

func (r *serviceRow) Mode() string {
	switch m := r.service.Spec.Mode; {
	case m.Global != nil:
		return "global"
	case m.Replicated != nil:
		return "replicated"
	case m.ReplicatedJob != nil:
		return "replicated job"
	case m.GlobalJob != nil:
		return "global job"
	}
	return ""
}

// Replicas is "running/desired", with the per-node limit when there is one.
func (r *serviceRow) Replicas() string {
	var running, desired uint64
	if st := r.service.ServiceStatus; st != nil {
		running, desired = st.RunningTasks, st.DesiredTasks
	}
	if p := r.service.Spec.TaskTemplate.Placement; r.service.Spec.Mode.Replicated != nil && p != nil && p.MaxReplicas > 0 {
		return fmt.Sprintf("%d/%d (max %d per node)", running, desired, p.MaxReplicas)
	}
	return fmt.Sprintf("%d/%d", running, desired)
}

func (r *serviceRow) Image() string {
	if cs := r.service.Spec.TaskTemplate.ContainerSpec; cs != nil {
		return displayImage(cs.Image)
	}
	return ""
}

// Ports lists the ports published through the routing mesh, consecutive ones grouped
// into ranges: "*:8080->80/tcp, *:9000-9001->9000-9001/udp".
func (r *serviceRow) Ports() string {
	ports := append([]swarm.PortConfig(nil), r.service.Endpoint.Ports...)
	if len(ports) == 0 {
		return ""
	}
	sort.SliceStable(ports, func(i, j int) bool {
		if ports[i].Protocol == ports[j].Protocol {
			return ports[i].PublishedPort < ports[j].PublishedPort
		}
		return ports[i].Protocol < ports[j].Protocol
	})
	var (
		out []string
		cur portRange
	)
	for _, p := range ports {
		if p.PublishMode != swarm.PortConfigPublishModeIngress {
			continue
		}
		isRange := cur.tEnd != cur.tStart
		overlaps := p.TargetPort <= cur.tEnd
		if p.Protocol != cur.protocol || p.PublishedPort-cur.pEnd > 1 || p.TargetPort-cur.tEnd > 1 || isRange && overlaps {
			if cur.pStart > 0 {
				out = append(out, cur.String())
			}
			cur = portRange{p.PublishedPort, p.PublishedPort, p.TargetPort, p.TargetPort, p.Protocol}
			continue
		}
		cur.pEnd, cur.tEnd = p.PublishedPort, p.TargetPort
	}
	if cur.pStart > 0 {
		out = append(out, cur.String())
	}
	return strings.Join(out, ", ")
}

type portRange struct {
	pStart, pEnd, tStart, tEnd uint32
	protocol                   network.IPProtocol
}

func (pr portRange) String() string {
	span := func(start, end uint32) string {
		if end > start {
			return fmt.Sprintf("%d-%d", start, end)
		}
		return strconv.FormatUint(uint64(start), 10)
	}
	return fmt.Sprintf("*:%s->%s/%s", span(pr.pStart, pr.pEnd), span(pr.tStart, pr.tEnd), pr.protocol)
}
