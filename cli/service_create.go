package cli

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newServiceCreateCommand(g *Globals) *cobra.Command {
	opts := newServiceOptions()
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new service",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.image = args[0]
			if len(args) > 1 {
				opts.args = args[1:]
			}
			return runServiceCreate(cmd.Context(), g, cmd.Flags(), opts)
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.Var(newChoiceValue(&opts.mode, modeReplicated, modeReplicated, modeGlobal), flagMode, `Service mode ("replicated", "global")`)
	flags.StringVar(&opts.name, flagName, "", "Service name")
	addServiceFlags(flags, opts, true)
	flags.VarP(opts.labels, flagLabel, "l", "Service labels")
	flags.Var(opts.containerLabels, flagContainerLabel, "Container labels")
	flags.VarP(opts.env, flagEnv, "e", "Set environment variables")
	flags.Var(opts.envFile, flagEnvFile, "Read in a file of environment variables")
	flags.Var(opts.constraints, flagConstraint, "Placement constraints")
	flags.Var(&opts.placementPrefs, flagPlacementPref, "Add a placement preference")
	flags.Var(&opts.networks, flagNetwork, "Network attachments")
	flags.VarP(&opts.ports, flagPublish, "p", "Publish a port as a node port")
	// Flags after the image belong to the command the service runs.
	flags.SetInterspersed(false)
	return cmd
}

func runServiceCreate(ctx context.Context, g *Globals, flags *pflag.FlagSet, opts *serviceOptions) error {
	spec, err := opts.serviceSpec(flags)
	if err != nil {
		return err
	}
	c, err := g.Client()
	if err != nil {
		return err
	}
	res, err := c.ServiceCreate(ctx, client.ServiceCreateOptions{
		Spec:          spec,
		QueryRegistry: !opts.noResolveImage,
	})
	if err != nil {
		return err
	}
	printWarnings(g.Err, res.Warnings)
	fmt.Fprintln(g.Out, res.ID)
	if opts.detach {
		return nil
	}
	return waitOnService(ctx, g, c, res.ID, waitOptions{quiet: opts.quiet})
}
