package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// now is the clock that "5 minutes ago" columns read; tests fix it.
var now = time.Now

func newServiceCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:                   "service",
		Short:                 "Manage Swarm services",
		Args:                  noArgs,
		RunE:                  showHelp,
		DisableFlagsInUseLine: true,
	}
	cmd.AddCommand(
		newServiceCreateCommand(g),
		newServiceInspectCommand(g),
		newServiceLogsCommand(g),
		newServiceListCommand(g),
		newServicePsCommand(g),
		newServiceRemoveCommand(g),
		newServiceRollbackCommand(g),
		newServiceScaleCommand(g),
		newServiceUpdateCommand(g),
	)
	return cmd
}

// printWarnings writes the daemon's warnings about a request, one per line.
func printWarnings(w io.Writer, warnings []string) {
	for _, warning := range warnings {
		fmt.Fprintln(w, warning)
	}
}

// truncateID shortens an ID to docker's 12 characters, dropping an algorithm prefix
// such as "sha256:".
func truncateID(id string) string {
	if _, after, ok := strings.Cut(id, ":"); ok {
		id = after
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// ellipsis shortens s to at most n characters, the last one "…".
func ellipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 1 {
		return string(r[:n])
	}
	return string(r[:n-1]) + "…"
}

// displayImage shows an image reference as docker's tables do: a digest is dropped when
// there is a tag to show instead, and docker.io's default prefixes are left out.
func displayImage(image string) string {
	name, _, hasDigest := strings.Cut(image, "@")
	lastComponent := name[strings.LastIndex(name, "/")+1:]
	if !hasDigest || !strings.Contains(lastComponent, ":") {
		name = image
	}
	return familiarImage(name)
}

// nameResolver maps service and node IDs to names for task listings, with one list
// request per kind at most. With noResolve it leaves IDs as they are.
type nameResolver struct {
	c         *client.Client
	noResolve bool
	services  map[string]string
	nodes     map[string]string
}

func newNameResolver(c *client.Client, noResolve bool) *nameResolver {
	return &nameResolver{c: c, noResolve: noResolve}
}

// knowServices records services already fetched, so they need no request.
func (r *nameResolver) knowServices(services []swarm.Service) {
	if r.services == nil {
		r.services = map[string]string{}
	}
	for _, s := range services {
		r.services[s.ID] = s.Spec.Name
	}
}

func (r *nameResolver) serviceName(ctx context.Context, id string) string {
	if r.noResolve {
		return id
	}
	if name, ok := r.services[id]; ok {
		return name
	}
	res, err := r.c.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
	if err != nil {
		return id // best effort, as docker: an ID is better than no listing
	}
	r.knowServices([]swarm.Service{res.Service})
	return res.Service.Spec.Name
}

func (r *nameResolver) nodeName(ctx context.Context, id string) string {
	if r.noResolve || id == "" {
		return id
	}
	if r.nodes == nil {
		r.nodes = map[string]string{}
		if res, err := r.c.NodeList(ctx, client.NodeListOptions{}); err == nil {
			for _, n := range res.Items {
				name := n.Spec.Name
				if name == "" {
					name = n.Description.Hostname
				}
				if name != "" {
					r.nodes[n.ID] = name
				}
			}
		}
	}
	if name, ok := r.nodes[id]; ok {
		return name
	}
	return id
}
