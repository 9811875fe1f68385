package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type swarmUnlockKeyOptions struct {
	rotate bool
	quiet  bool
}

func newSwarmUnlockKeyCommand(g *Globals) *cobra.Command {
	var opts swarmUnlockKeyOptions
	cmd := &cobra.Command{
		Use:   "unlock-key [OPTIONS]",
		Short: "Manage the unlock key",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSwarmUnlockKey(cmd.Context(), g, opts)
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.BoolVar(&opts.rotate, flagRotate, false, "Rotate unlock key")
	flags.BoolVarP(&opts.quiet, flagQuiet, "q", false, "Only display token")
	return cmd
}

func runSwarmUnlockKey(ctx context.Context, g *Globals, opts swarmUnlockKeyOptions) error {
	c, err := g.Client()
	if err != nil {
		return err
	}
	if opts.rotate {
		sw, err := c.SwarmInspect(ctx, client.SwarmInspectOptions{})
		if err != nil {
			return err
		}
		if !sw.Swarm.Spec.EncryptionConfig.AutoLockManagers {
			return errors.New("cannot rotate because autolock is not turned on")
		}
		if _, err := c.SwarmUpdate(ctx, client.SwarmUpdateOptions{
			Version:                sw.Swarm.Version,
			Spec:                   sw.Swarm.Spec,
			RotateManagerUnlockKey: true,
		}); err != nil {
			return err
		}
		if !opts.quiet {
			fmt.Fprintln(g.Out, "Successfully rotated manager unlock key.")
		}
	}

	key, err := c.SwarmGetUnlockKey(ctx)
	if err != nil {
		return fmt.Errorf("could not fetch unlock key: %w", err)
	}
	if key.Key == "" {
		return errors.New("no unlock key is set")
	}
	if opts.quiet {
		fmt.Fprintln(g.Out, key.Key)
		return nil
	}
	printUnlockCommand(g.Out, key.Key)
	return nil
}
