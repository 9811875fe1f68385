package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/shoal/shoal/lab"
)

func newLabStartCommand(g *Globals) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:                   "start [OPTIONS] NODE",
		Short:                 "Bring a stopped lab node back: link up, daemon started on its old state",
		DisableFlagsInUseLine: true,
		Args:                  labNodeArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			l, err := lab.Load(name)
			if err != nil {
				return err
			}
			if err := l.Start(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintln(g.Out, args[0])
			return nil
		},
	}
	addLabNameFlag(cmd, &name)
	return cmd
}
