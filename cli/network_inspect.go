package cli

import (
	"context"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type networkInspectOptions struct {
	format  string
	verbose bool
}

func newNetworkInspectCommand(g *Globals) *cobra.Command {
	var opts networkInspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runNetworkInspect(cmd.Context(), g, args, opts)
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.StringVarP(&opts.format, "format", "f", "", inspectFormatHelp)
	flags.BoolVarP(&opts.verbose, "verbose", "v", false, "Verbose output for diagnostics")
	return cmd
}

// runNetworkInspect prints the networks as docker does; with -v the daemon adds the
// services on each network and their tasks' addresses.
func runNetworkInspect(ctx context.Context, g *Globals, refs []string, opts networkInspectOptions) error {
	c, err := g.Client()
	if err != nil {
		return err
	}
	return writeInspect(g.Out, refs, opts.format, func(ref string) (any, []byte, error) {
		res, err := c.NetworkInspect(ctx, ref, client.NetworkInspectOptions{Verbose: opts.verbose})
		if err != nil {
			return nil, nil, err
		}
		return res.Network, res.Raw, nil
	})
}
