package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

var errNetworkPrune = errors.New("network prune is not implemented yet: remove networks one at a time with network rm")

// newNetworkPruneCommand is refused before its confirmation prompt, without asking the
// daemon: nothing would be removed, so there is nothing to confirm.
func newNetworkPruneCommand(*Globals) *cobra.Command {
	filter := newFilterFlag()
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			return errNetworkPrune
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.Var(&filter, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	flags.BoolP("force", "f", false, "Do not prompt for confirmation")
	return cmd
}
