package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func newInfoCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "info",
		Short: "info (not implemented yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("shoal info: not implemented yet")
		},
	}
}
