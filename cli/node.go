package cli

import (
	"context"
	"errors"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newNodeCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:                   "node",
		Short:                 "Manage Swarm nodes",
		Args:                  noArgs,
		RunE:                  showHelp,
		DisableFlagsInUseLine: true,
	}
	cmd.AddCommand(
		newNodeDemoteCommand(g),
		newNodeInspectCommand(g),
		newNodeListCommand(g),
		newNodePromoteCommand(g),
		newNodeRemoveCommand(g),
		newNodePsCommand(g),
		newNodeUpdateCommand(g),
	)
	return cmd
}

// nodeReference resolves the special reference "self" to this node's ID; any other
// reference is passed on as it is for the daemon to resolve.
func nodeReference(ctx context.Context, c *client.Client, ref string) (string, error) {
	if ref != "self" {
		return ref, nil
	}
	info, err := c.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", err
	}
	if info.Info.Swarm.NodeID != "" {
		return info.Info.Swarm.NodeID, nil
	}
	// No node ID: the node is probably not a manager. A swarm endpoint says why.
	if _, err := c.NodeList(ctx, client.NodeListOptions{}); err != nil {
		return "", err
	}
	return "", errors.New("node ID not found in /info")
}
