package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func newNodePsCommand(g *Globals) *cobra.Command {
	var (
		noTrunc, noResolve, quiet bool
		format                    string
		filter                    = newFilterFlag()
	)
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS] [NODE...]",
		Short: "List tasks running on one or more nodes, defaults to current node",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("shoal node ps: not implemented yet (needs services, a later issue)")
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.BoolVar(&noTrunc, "no-trunc", false, "Do not truncate output")
	flags.BoolVar(&noResolve, "no-resolve", false, "Do not map IDs to Names")
	flags.VarP(&filter, "filter", "f", "Filter output based on conditions provided")
	flags.StringVar(&format, "format", "", "Pretty-print tasks using a Go template")
	flags.BoolVarP(&quiet, "quiet", "q", false, "Only display task IDs")
	return cmd
}
