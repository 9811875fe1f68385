package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newNetworkRemoveCommand(g *Globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runNetworkRemove(cmd.Context(), g, args, force)
		},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not error if the network does not exist")
	return cmd
}

// ingressRemovalWarning is asked before the routing mesh's network goes, as docker asks.
const ingressRemovalWarning = "WARNING! Before removing the routing-mesh network, make sure all the nodes in your swarm run the same shoal version. Otherwise, removal may not be effective and functionality of newly created ingress networks will be impaired.\nAre you sure you want to continue?"

// runNetworkRemove removes each network named, printing its name; it goes on past a
// network that cannot be removed (in use, with the daemon's reason) and reports them all
// at the end. With force, a network that does not exist is skipped silently. The ingress
// network is removed only if the user confirms.
func runNetworkRemove(ctx context.Context, g *Globals, refs []string, force bool) error {
	c, err := g.Client()
	if err != nil {
		return err
	}
	var in *bufio.Reader // the user's answers, read only if the ingress network is named
	if g.In != nil {
		in = bufio.NewReader(g.In)
	}
	var errs []error
	for _, ref := range refs {
		if res, err := c.NetworkInspect(ctx, ref, client.NetworkInspectOptions{}); err == nil && res.Network.Ingress {
			if !confirmIngressRemoval(in, g.Out) {
				continue
			}
		}
		if _, err := c.NetworkRemove(ctx, ref, client.NetworkRemoveOptions{}); err != nil {
			if force && cerrdefs.IsNotFound(err) {
				continue
			}
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(g.Out, ref)
	}
	return errors.Join(errs...)
}

// confirmIngressRemoval asks on out and reads the answer from in: only "y" (any case) is
// yes; anything else, including no answer or no input at all, is no.
func confirmIngressRemoval(in *bufio.Reader, out io.Writer) bool {
	fmt.Fprintf(out, "%s [y/N] ", ingressRemovalWarning)
	if in == nil {
		return false
	}
	answer, _ := in.ReadString('\n')
	return strings.EqualFold(strings.TrimSpace(answer), "y")
}
