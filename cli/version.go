package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func newVersionCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "version (not implemented yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("shoal version: not implemented yet")
		},
	}
}
