package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shoal/shoal/lab"
)

func newLabEnvCommand(g *Globals) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:                   "env [OPTIONS] NODE",
		Short:                 "Print the export lines that point shoal and docker at a lab node",
		Long:                  "Print the export lines that point shoal and docker at a lab node:\n\n  eval \"$(shoal lab env manager-1)\"",
		DisableFlagsInUseLine: true,
		Args:                  labNodeArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			l, err := lab.Load(name)
			if err != nil {
				return err
			}
			env, err := l.Env(args[0])
			if err != nil {
				return err
			}
			for _, kv := range env {
				fmt.Fprintln(g.Out, "export "+kv)
			}
			return nil
		},
	}
	addLabNameFlag(cmd, &name)
	return cmd
}
