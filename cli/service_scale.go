package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type serviceScaleOptions struct {
	detach bool
}

func newServiceScaleCommand(g *Globals) *cobra.Command {
	var opts serviceScaleOptions
	cmd := &cobra.Command{
		Use:   "scale SERVICE=REPLICAS [SERVICE=REPLICAS...]",
		Short: "Scale one or multiple replicated services",
		Args:  scaleArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServiceScale(cmd.Context(), g, opts, args)
		},
		DisableFlagsInUseLine: true,
	}
	addDetachFlag(cmd.Flags(), &opts.detach)
	return cmd
}

// scaleArgs checks that every argument is SERVICE=REPLICAS, as docker does.
func scaleArgs(cmd *cobra.Command, args []string) error {
	if err := requiresMinArgs(1)(cmd, args); err != nil {
		return err
	}
	for _, arg := range args {
		if name, value, ok := strings.Cut(arg, "="); !ok || name == "" || value == "" {
			return fmt.Errorf("invalid scale specifier '%s'.\nSee '%s --help'.\n\nUsage:  %s\n\n%s",
				arg, cmd.CommandPath(), cmd.UseLine(), cmd.Short)
		}
	}
	return nil
}

type scaleTarget struct {
	ref      string
	replicas uint64
}

func runServiceScale(ctx context.Context, g *Globals, opts serviceScaleOptions, args []string) error {
	// Every count is checked before any service changes.
	targets := make([]scaleTarget, 0, len(args))
	for _, arg := range args {
		ref, value, _ := strings.Cut(arg, "=")
		n, err := parseUint(value)
		if err != nil {
			return fmt.Errorf("%s: invalid replicas value %s: %w", ref, value, err)
		}
		targets = append(targets, scaleTarget{ref, n})
	}
	c, err := g.Client()
	if err != nil {
		return err
	}
	var (
		errs   []error
		scaled []string
	)
	for _, t := range targets {
		warnings, err := scaleService(ctx, c, t)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.ref, err))
			continue
		}
		printWarnings(g.Err, warnings)
		fmt.Fprintf(g.Out, "%s scaled to %d\n", t.ref, t.replicas)
		scaled = append(scaled, t.ref)
	}
	if !opts.detach {
		for _, ref := range scaled {
			if err := waitOnService(ctx, g, c, ref, waitOptions{}); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", ref, err))
			}
		}
	}
	return errors.Join(errs...)
}

func scaleService(ctx context.Context, c *client.Client, t scaleTarget) ([]string, error) {
	res, err := c.ServiceInspect(ctx, t.ref, client.ServiceInspectOptions{})
	if err != nil {
		return nil, err
	}
	svc := res.Service
	if svc.Spec.Mode.Replicated == nil {
		return nil, errors.New("scale can only be used with replicated or replicated-job mode")
	}
	replicas := t.replicas
	svc.Spec.Mode.Replicated.Replicas = &replicas
	update, err := c.ServiceUpdate(ctx, svc.ID, client.ServiceUpdateOptions{Version: svc.Version, Spec: svc.Spec})
	if err != nil {
		return nil, err
	}
	return update.Warnings, nil
}
