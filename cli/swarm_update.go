package cli

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newSwarmUpdateCommand(g *Globals) *cobra.Command {
	var opts swarmOptions
	cmd := &cobra.Command{
		Use:   "update [OPTIONS]",
		Short: "Update the swarm",
		Args:  noArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if !anyLocalFlagChanged(cmd) {
				return pflag.ErrHelp // nothing to change: show the help, as docker does
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSwarmUpdate(cmd.Context(), g, cmd.Flags(), &opts)
		},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().BoolVar(&opts.autolock, flagAutolock, false, "Change manager autolocking setting (true|false)")
	addSwarmFlags(cmd.Flags(), &opts)
	return cmd
}

// anyLocalFlagChanged reports whether the user gave any of cmd's own flags (global flags
// such as -H do not count).
func anyLocalFlagChanged(cmd *cobra.Command) bool {
	changed := false
	cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			changed = true
		}
	})
	return changed
}

func runSwarmUpdate(ctx context.Context, g *Globals, flags *pflag.FlagSet, opts *swarmOptions) error {
	if err := opts.validate(flags); err != nil {
		return err
	}
	c, err := g.Client()
	if err != nil {
		return err
	}
	sw, err := c.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return err
	}
	wasLocked := sw.Swarm.Spec.EncryptionConfig.AutoLockManagers
	opts.merge(&sw.Swarm.Spec, flags, &sw.Swarm.TLSInfo.TrustRoot)
	if _, err := c.SwarmUpdate(ctx, client.SwarmUpdateOptions{
		Version: sw.Swarm.Version,
		Spec:    sw.Swarm.Spec,
	}); err != nil {
		return err
	}
	fmt.Fprintln(g.Out, "Swarm updated.")

	if sw.Swarm.Spec.EncryptionConfig.AutoLockManagers && !wasLocked {
		key, err := c.SwarmGetUnlockKey(ctx)
		if err != nil {
			return fmt.Errorf("could not fetch unlock key: %w", err)
		}
		printUnlockCommand(g.Out, key.Key)
	}
	return nil
}
