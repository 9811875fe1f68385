package cli

import (
	"context"
	"errors"
	"maps"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newNodePsCommand(g *Globals) *cobra.Command {
	var opts taskListOptions
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS] [NODE...]",
		Short: "List tasks running on one or more nodes, defaults to current node",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"self"}
			}
			return runNodePs(cmd.Context(), g, &opts, args)
		},
		DisableFlagsInUseLine: true,
	}
	addTaskListFlags(cmd.Flags(), &opts)
	return cmd
}

// runNodePs lists the tasks of each node named. A node that cannot be read is reported
// after the tasks of the others are shown.
func runNodePs(ctx context.Context, g *Globals, opts *taskListOptions, refs []string) error {
	c, err := g.Client()
	if err != nil {
		return err
	}
	var (
		errs  []error
		tasks []swarm.Task
	)
	for _, ref := range refs {
		id, err := nodeReference(ctx, c, ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		node, err := c.NodeInspect(ctx, id, client.NodeInspectOptions{})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		filter := client.Filters{}
		for term, values := range opts.filter.Value() {
			filter[term] = maps.Clone(values)
		}
		filter.Add("node", node.Node.ID)
		res, err := c.TaskList(ctx, client.TaskListOptions{Filters: filter})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		tasks = append(tasks, res.Items...)
	}
	if len(errs) == 0 || len(tasks) > 0 {
		// As docker's node ps, -q alone does not lengthen the IDs.
		resolver := newNameResolver(c, opts.noResolve)
		if err := printTasks(ctx, g.Out, tasks, resolver, !opts.noTrunc, taskListFormat(opts.format, opts.quiet)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
