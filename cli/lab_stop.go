package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shoal/shoal/lab"
)

func newLabStopCommand(g *Globals) *cobra.Command {
	var (
		name string
		opts lab.StopOptions
	)
	cmd := &cobra.Command{
		Use:                   "stop [OPTIONS] NODE",
		Short:                 "Cut a lab node off as a power failure would: kill its processes, take its link down",
		DisableFlagsInUseLine: true,
		Args:                  labNodeArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			l, err := lab.Load(name)
			if err != nil {
				return err
			}
			if err := l.Stop(args[0], opts); err != nil {
				return err
			}
			fmt.Fprintln(g.Out, args[0])
			return nil
		},
	}
	addLabNameFlag(cmd, &name)
	cmd.Flags().BoolVar(&opts.DaemonOnly, "daemon-only", false, "kill only the daemon and leave the node's tasks running")
	return cmd
}
