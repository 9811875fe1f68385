package cli

import (
	"fmt"

	"github.com/moby/moby/api/types/swarm"
	"github.com/spf13/cobra"
)

func newNodeDemoteCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "demote NODE [NODE...]",
		Short: "Demote one or more nodes from manager in the swarm",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, refs []string) error {
			c, err := g.Client()
			if err != nil {
				return err
			}
			demote := func(node *swarm.Node) error {
				if node.Spec.Role == swarm.NodeRoleWorker {
					fmt.Fprintf(g.Out, "Node %s is already a worker.\n", node.ID)
					return errNoRoleChange
				}
				node.Spec.Role = swarm.NodeRoleWorker
				return nil
			}
			return updateNodes(cmd.Context(), c, refs, demote, func(ref string) {
				fmt.Fprintf(g.Out, "Manager %s demoted in the swarm.\n", ref)
			})
		},
		DisableFlagsInUseLine: true,
	}
}
