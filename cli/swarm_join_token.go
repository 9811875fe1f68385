package cli

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type swarmJoinTokenOptions struct {
	rotate bool
	quiet  bool
}

func newSwarmJoinTokenCommand(g *Globals) *cobra.Command {
	var opts swarmJoinTokenOptions
	cmd := &cobra.Command{
		Use:   "join-token [OPTIONS] (worker|manager)",
		Short: "Manage join tokens",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSwarmJoinToken(cmd.Context(), g, args[0], opts)
		},
		ValidArgs:             []string{"worker", "manager"},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.BoolVar(&opts.rotate, flagRotate, false, "Rotate join token")
	flags.BoolVarP(&opts.quiet, flagQuiet, "q", false, "Only display token")
	return cmd
}

func runSwarmJoinToken(ctx context.Context, g *Globals, role string, opts swarmJoinTokenOptions) error {
	worker, manager := role == "worker", role == "manager"
	if !worker && !manager {
		return fmt.Errorf("unknown role %q: must be worker or manager", role)
	}
	c, err := g.Client()
	if err != nil {
		return err
	}

	if opts.rotate {
		sw, err := c.SwarmInspect(ctx, client.SwarmInspectOptions{})
		if err != nil {
			return err
		}
		if _, err := c.SwarmUpdate(ctx, client.SwarmUpdateOptions{
			Version:            sw.Swarm.Version,
			Spec:               sw.Swarm.Spec,
			RotateWorkerToken:  worker,
			RotateManagerToken: manager,
		}); err != nil {
			return err
		}
		if !opts.quiet {
			fmt.Fprintf(g.Out, "Successfully rotated %s join token.\n\n", role)
		}
	}

	if opts.quiet {
		// Read the swarm again: a rotation just changed the tokens.
		sw, err := c.SwarmInspect(ctx, client.SwarmInspectOptions{})
		if err != nil {
			return err
		}
		if worker {
			fmt.Fprintln(g.Out, sw.Swarm.JoinTokens.Worker)
		} else {
			fmt.Fprintln(g.Out, sw.Swarm.JoinTokens.Manager)
		}
		return nil
	}

	info, err := c.Info(ctx, client.InfoOptions{})
	if err != nil {
		return err
	}
	return printJoinCommand(ctx, g, c, info.Info.Swarm.NodeID, worker, manager)
}

// printJoinCommand prints the command that joins another node to the swarm as a worker
// and/or a manager, through the manager address of nodeID (this node). It prints nothing
// if this node has no manager address.
func printJoinCommand(ctx context.Context, g *Globals, c *client.Client, nodeID string, worker, manager bool) error {
	addr, err := managerAddr(ctx, c, nodeID)
	if err != nil {
		return err
	}
	sw, err := c.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return err
	}
	if addr == "" {
		return nil
	}
	if worker {
		fmt.Fprintf(g.Out, "To add a worker to this swarm, run the following command:\n\n    shoal swarm join --token %s %s\n\n",
			sw.Swarm.JoinTokens.Worker, addr)
	}
	if manager {
		fmt.Fprintf(g.Out, "To add a manager to this swarm, run the following command:\n\n    shoal swarm join --token %s %s\n\n",
			sw.Swarm.JoinTokens.Manager, addr)
	}
	return nil
}

// managerAddr finds the address other nodes reach manager nodeID at: its manager status,
// or else its entry in this node's list of remote managers.
func managerAddr(ctx context.Context, c *client.Client, nodeID string) (string, error) {
	node, err := c.NodeInspect(ctx, nodeID, client.NodeInspectOptions{})
	if err != nil {
		return "", err
	}
	if ms := node.Node.ManagerStatus; ms != nil && ms.Addr != "" {
		return ms.Addr, nil
	}
	info, err := c.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", err
	}
	for _, peer := range info.Info.Swarm.RemoteManagers {
		if peer.NodeID == nodeID {
			return peer.Addr, nil
		}
	}
	return "", nil
}
