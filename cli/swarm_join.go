package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

type swarmJoinOptions struct {
	listenAddr    nodeAddrFlag
	advertiseAddr string // no default port, so not a nodeAddrFlag
	dataPathAddr  string
	token         string
	availability  string
}

func newSwarmJoinCommand(g *Globals) *cobra.Command {
	opts := swarmJoinOptions{listenAddr: nodeAddrFlag{addr: defaultListenAddr}}
	cmd := &cobra.Command{
		Use:   "join [OPTIONS] HOST:PORT",
		Short: "Join a swarm as a node and/or manager",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSwarmJoin(cmd.Context(), g, cmd.Flags(), args[0], &opts)
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.Var(&opts.listenAddr, flagListenAddr, `Listen address (format: "<ip|interface>[:port]")`)
	flags.StringVar(&opts.advertiseAddr, flagAdvertiseAddr, "", `Advertised address (format: "<ip|interface>[:port]")`)
	flags.StringVar(&opts.dataPathAddr, flagDataPathAddr, "", `Address or interface to use for data path traffic (format: "<ip|interface>")`)
	flags.StringVar(&opts.token, flagToken, "", "Token for entry into the swarm")
	flags.StringVar(&opts.availability, flagAvailability, "active", `Availability of the node ("active", "pause", "drain")`)
	return cmd
}

func runSwarmJoin(ctx context.Context, g *Globals, flags *pflag.FlagSet, remote string, opts *swarmJoinOptions) error {
	availability, err := availabilityFlag(flags, opts.availability)
	if err != nil {
		return err
	}
	if opts.token == "" {
		return errors.New("--token is required: run 'shoal swarm join-token worker' (or manager) on a manager to get one")
	}
	c, err := g.Client()
	if err != nil {
		return err
	}
	if _, err := c.SwarmJoin(ctx, client.SwarmJoinOptions{
		JoinToken:     opts.token,
		ListenAddr:    opts.listenAddr.String(),
		AdvertiseAddr: opts.advertiseAddr,
		DataPathAddr:  opts.dataPathAddr,
		RemoteAddrs:   []string{remote},
		Availability:  availability,
	}); err != nil {
		return err
	}

	info, err := c.Info(ctx, client.InfoOptions{})
	if err != nil {
		return err
	}
	if info.Info.Swarm.ControlAvailable {
		fmt.Fprintln(g.Out, "This node joined a swarm as a manager.")
	} else {
		fmt.Fprintln(g.Out, "This node joined a swarm as a worker.")
	}
	return nil
}
