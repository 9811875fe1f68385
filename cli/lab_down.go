package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shoal/shoal/lab"
)

func newLabDownCommand(g *Globals) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:                   "down [OPTIONS]",
		Short:                 "Remove a lab and every trace of it (processes, namespaces, links, state)",
		DisableFlagsInUseLine: true,
		Args:                  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := lab.Down(name); err != nil {
				return err
			}
			fmt.Fprintf(g.Out, "lab %s removed\n", name)
			return nil
		},
	}
	addLabNameFlag(cmd, &name)
	return cmd
}
