package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func newSwarmCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "swarm",
		Short: "swarm (not implemented yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("shoal swarm: not implemented yet")
		},
	}
}
