package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func newDaemonCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "daemon",
		Short: "daemon (not implemented yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("shoal daemon: not implemented yet")
		},
	}
}
