package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// errNetworkConnect is what `network connect` answers: a swarm service joins a network
// through its spec, and Shoal has no standalone containers to connect.
var errNetworkConnect = errors.New("network connect is not implemented yet: attach a service with service create --network or service update --network-add")

// newNetworkConnectCommand takes docker's flags, so that a docker command line is refused
// for what it asks rather than for a flag it uses; nothing is sent to the daemon.
func newNetworkConnectCommand(*Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  exactArgs(2),
		RunE: func(*cobra.Command, []string) error {
			return errNetworkConnect
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.String("ip", "", `IPv4 address (e.g., "172.30.100.104")`)
	flags.String("ip6", "", `IPv6 address (e.g., "2001:db8::33")`)
	flags.Var(newListOpt(nil), "link", "Add link to another container")
	flags.StringSlice("alias", nil, "Add network-scoped alias for the container")
	flags.StringSlice("link-local-ip", nil, "Add a link-local address for the container")
	flags.StringSlice("driver-opt", nil, "driver options for the network")
	flags.Int("gw-priority", 0, "Highest gw-priority provides the default gateway. Accepts positive and negative values.")
	return cmd
}
