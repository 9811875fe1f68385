package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

var errNetworkDisconnect = errors.New("network disconnect is not implemented yet: detach a service with service update --network-rm")

// newNetworkDisconnectCommand is refused as network connect is, without asking the daemon.
func newNetworkDisconnectCommand(*Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  exactArgs(2),
		RunE: func(*cobra.Command, []string) error {
			return errNetworkDisconnect
		},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().BoolP("force", "f", false, "Force the container to disconnect from a network")
	return cmd
}
