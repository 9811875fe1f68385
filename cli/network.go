package cli

import (
	"github.com/spf13/cobra"
)

func newNetworkCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:                   "network",
		Short:                 "Manage networks",
		Args:                  noArgs,
		RunE:                  showHelp,
		DisableFlagsInUseLine: true,
	}
	cmd.AddCommand(
		newNetworkConnectCommand(g),
		newNetworkCreateCommand(g),
		newNetworkDisconnectCommand(g),
		newNetworkInspectCommand(g),
		newNetworkListCommand(g),
		newNetworkPruneCommand(g),
		newNetworkRemoveCommand(g),
	)
	return cmd
}
