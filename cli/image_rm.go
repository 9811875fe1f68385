package cli

import (
	"context"
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type imageRemoveOptions struct {
	force   bool
	noPrune bool
}

func newImageRemoveCommand(g *Globals) *cobra.Command {
	var opts imageRemoveOptions
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] IMAGE [IMAGE...]",
		Aliases: []string{"rmi", "remove"},
		Short:   "Remove one or more images",
		Args:    requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImageRemove(cmd.Context(), g, opts, args)
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.force, "force", "f", false, "Force removal of the image")
	flags.BoolVar(&opts.noPrune, "no-prune", false, "Do not delete untagged parents")
	return cmd
}

// runImageRemove removes each image named, printing what was untagged and deleted. With
// --force, images that do not exist are reported on stderr but do not fail the command.
func runImageRemove(ctx context.Context, g *Globals, opts imageRemoveOptions, refs []string) error {
	c, err := g.Client()
	if err != nil {
		return err
	}
	var (
		errs  []error
		fatal bool
	)
	for _, ref := range refs {
		res, err := c.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: opts.force, PruneChildren: !opts.noPrune})
		if err != nil {
			fatal = fatal || !cerrdefs.IsNotFound(err)
			errs = append(errs, err)
			continue
		}
		for _, d := range res.Items {
			if d.Deleted != "" {
				fmt.Fprintln(g.Out, "Deleted:", d.Deleted)
			} else {
				fmt.Fprintln(g.Out, "Untagged:", d.Untagged)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		if !opts.force || fatal {
			return err
		}
		fmt.Fprintln(g.Err, err)
	}
	return nil
}
