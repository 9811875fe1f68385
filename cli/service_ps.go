package cli

import (
	"context"
	"errors"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newServicePsCommand(g *Globals) *cobra.Command {
	var opts taskListOptions
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS] SERVICE [SERVICE...]",
		Short: "List the tasks of one or more services",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServicePs(cmd.Context(), g, &opts, args)
		},
		DisableFlagsInUseLine: true,
	}
	addTaskListFlags(cmd.Flags(), &opts)
	return cmd
}

func runServicePs(ctx context.Context, g *Globals, opts *taskListOptions, refs []string) error {
	c, err := g.Client()
	if err != nil {
		return err
	}
	resolver := newNameResolver(c, opts.noResolve)
	filter, notFound, err := serviceTaskFilter(ctx, c, resolver, opts.filter.Value(), refs)
	if err != nil {
		return err
	}
	if err := resolveNodeFilter(ctx, c, filter); err != nil {
		return err
	}
	tasks, err := c.TaskList(ctx, client.TaskListOptions{Filters: filter})
	if err != nil {
		return err
	}
	// IDs alone are for scripts: whole ones.
	trunc := !opts.noTrunc && !opts.quiet
	if err := printTasks(ctx, g.Out, tasks.Items, resolver, trunc, taskListFormat(opts.format, opts.quiet)); err != nil {
		return err
	}
	if len(notFound) > 0 {
		return errors.New(strings.Join(notFound, "\n"))
	}
	return nil
}

// serviceTaskFilter adds a service filter for each service refs names, matching as docker
// does: full ID, then full name, then unique ID prefix. It returns the refs that match
// nothing; none matching at all is an error.
func serviceTaskFilter(ctx context.Context, c *client.Client, r *nameResolver, filter client.Filters, refs []string) (client.Filters, []string, error) {
	byID, byName := make(client.Filters), make(client.Filters)
	for _, ref := range refs {
		byID.Add("id", ref)
		byName.Add("name", ref)
	}
	idMatches, err := c.ServiceList(ctx, client.ServiceListOptions{Filters: byID})
	if err != nil {
		return nil, nil, err
	}
	nameMatches, err := c.ServiceList(ctx, client.ServiceListOptions{Filters: byName})
	if err != nil {
		return nil, nil, err
	}
	r.knowServices(idMatches.Items)
	r.knowServices(nameMatches.Items)

	var notFound []string
	found := 0
next:
	for _, ref := range refs {
		for _, s := range idMatches.Items {
			if s.ID == ref {
				filter.Add("service", s.ID)
				found++
				continue next
			}
		}
		for _, s := range nameMatches.Items {
			if s.Spec.Name == ref {
				filter.Add("service", s.ID)
				found++
				continue next
			}
		}
		matched := false
		for _, s := range idMatches.Items {
			if strings.HasPrefix(s.ID, ref) {
				if matched {
					return nil, nil, errors.New("multiple services found with provided prefix: " + ref)
				}
				filter.Add("service", s.ID)
				found++
				matched = true
			}
		}
		if !matched {
			notFound = append(notFound, "no such service: "+ref)
		}
	}
	if found == 0 {
		return nil, nil, errors.New(strings.Join(notFound, "\n"))
	}
	return filter, notFound, nil
}

// resolveNodeFilter turns a node=self filter into this node's ID.
func resolveNodeFilter(ctx context.Context, c *client.Client, filter client.Filters) error {
	nodes, ok := filter["node"]
	if !ok {
		return nil
	}
	resolved := map[string]bool{}
	for ref := range nodes {
		id, err := nodeReference(ctx, c, ref)
		if err != nil {
			return err
		}
		resolved[id] = true
	}
	filter["node"] = resolved
	return nil
}
