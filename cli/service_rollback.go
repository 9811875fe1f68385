package cli

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type serviceRollbackOptions struct {
	detach bool
	quiet  bool
}

func newServiceRollbackCommand(g *Globals) *cobra.Command {
	var opts serviceRollbackOptions
	cmd := &cobra.Command{
		Use:   "rollback [OPTIONS] SERVICE",
		Short: "Revert changes to a service's configuration",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServiceRollback(cmd.Context(), g, opts, args[0])
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.quiet, flagQuiet, "q", false, "Suppress progress output")
	addDetachFlag(flags, &opts.detach)
	return cmd
}

// runServiceRollback asks the daemon to go back to the service's previous spec.
func runServiceRollback(ctx context.Context, g *Globals, opts serviceRollbackOptions, ref string) error {
	c, err := g.Client()
	if err != nil {
		return err
	}
	res, err := c.ServiceInspect(ctx, ref, client.ServiceInspectOptions{})
	if err != nil {
		return err
	}
	update, err := c.ServiceUpdate(ctx, res.Service.ID, client.ServiceUpdateOptions{
		Version:  res.Service.Version,
		Spec:     res.Service.Spec,
		Rollback: "previous",
	})
	if err != nil {
		return err
	}
	printWarnings(g.Err, update.Warnings)
	fmt.Fprintln(g.Out, ref)
	if opts.detach {
		return nil
	}
	return waitOnService(ctx, g, c, ref, waitOptions{quiet: opts.quiet, rollback: true})
}
