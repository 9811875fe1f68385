package cli

import (
	"errors"
	"fmt"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newNodeRemoveCommand(g *Globals) *cobra.Command {
	var opts client.NodeRemoveOptions
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] NODE [NODE...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more nodes from the swarm",
		Args:    requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, refs []string) error {
			c, err := g.Client()
			if err != nil {
				return err
			}
			// Remove every node that can be removed; report the others together.
			var errs []error
			for _, ref := range refs {
				if _, err := c.NodeRemove(cmd.Context(), ref, opts); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(g.Out, ref)
			}
			return errors.Join(errs...)
		},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "Force remove a node from the swarm")
	return cmd
}
