package cli

import (
	"fmt"

	"github.com/moby/moby/api/types/swarm"
	"github.com/spf13/cobra"
)

func newNodePromoteCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "promote NODE [NODE...]",
		Short: "Promote one or more nodes to manager in the swarm",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, refs []string) error {
			c, err := g.Client()
			if err != nil {
				return err
			}
			promote := func(node *swarm.Node) error {
				if node.Spec.Role == swarm.NodeRoleManager {
					fmt.Fprintf(g.Out, "Node %s is already a manager.\n", node.ID)
					return errNoRoleChange
				}
				node.Spec.Role = swarm.NodeRoleManager
				return nil
			}
			return updateNodes(cmd.Context(), c, refs, promote, func(ref string) {
				fmt.Fprintf(g.Out, "Node %s promoted to a manager in the swarm.\n", ref)
			})
		},
		DisableFlagsInUseLine: true,
	}
}
