package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func newNodeCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "node",
		Short: "node (not implemented yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("shoal node: not implemented yet")
		},
	}
}
