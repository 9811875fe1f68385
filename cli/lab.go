package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func newLabCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "lab",
		Short: "lab (not implemented yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("shoal lab: not implemented yet")
		},
	}
}
