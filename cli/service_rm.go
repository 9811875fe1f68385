package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newServiceRemoveCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rm SERVICE [SERVICE...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more services",
		Args:    requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServiceRemove(cmd.Context(), g, args)
		},
		DisableFlagsInUseLine: true,
	}
}

// runServiceRemove removes each service named, printing its name; it goes on past a
// service that cannot be removed and reports them all at the end.
func runServiceRemove(ctx context.Context, g *Globals, refs []string) error {
	c, err := g.Client()
	if err != nil {
		return err
	}
	var errs []error
	for _, ref := range refs {
		if _, err := c.ServiceRemove(ctx, ref, client.ServiceRemoveOptions{}); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(g.Out, ref)
	}
	return errors.Join(errs...)
}
