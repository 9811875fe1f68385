package cli

import (
	"fmt"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newSwarmLeaveCommand(g *Globals) *cobra.Command {
	var opts client.SwarmLeaveOptions
	cmd := &cobra.Command{
		Use:   "leave [OPTIONS]",
		Short: "Leave the swarm",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.Client()
			if err != nil {
				return err
			}
			if _, err := c.SwarmLeave(cmd.Context(), opts); err != nil {
				return err
			}
			fmt.Fprintln(g.Out, "Node left the swarm.")
			return nil
		},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "Force this node to leave the swarm, ignoring warnings")
	return cmd
}
