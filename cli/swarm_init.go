package cli

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

type swarmInitOptions struct {
	swarmOptions
	listenAddr                nodeAddrFlag
	advertiseAddr             string // no default port, so not a nodeAddrFlag
	dataPathAddr              string
	dataPathPort              uint32
	forceNewCluster           bool
	availability              string
	defaultAddrPools          []net.IPNet
	defaultAddrPoolMaskLength uint32
}

func newSwarmInitCommand(g *Globals) *cobra.Command {
	opts := swarmInitOptions{listenAddr: nodeAddrFlag{addr: defaultListenAddr}}
	cmd := &cobra.Command{
		Use:   "init [OPTIONS]",
		Short: "Initialize a swarm",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSwarmInit(cmd.Context(), g, cmd.Flags(), &opts)
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.Var(&opts.listenAddr, flagListenAddr, `Listen address (format: "<ip|interface>[:port]")`)
	flags.StringVar(&opts.advertiseAddr, flagAdvertiseAddr, "", `Advertised address (format: "<ip|interface>[:port]")`)
	flags.StringVar(&opts.dataPathAddr, flagDataPathAddr, "", `Address or interface to use for data path traffic (format: "<ip|interface>")`)
	flags.Uint32Var(&opts.dataPathPort, flagDataPathPort, 0, "Port number to use for data path traffic (1024 - 49151). If no value is set or is set to 0, the default port (4789) is used.")
	flags.BoolVar(&opts.forceNewCluster, "force-new-cluster", false, "Force create a new cluster from current state")
	flags.BoolVar(&opts.autolock, flagAutolock, false, "Enable manager autolocking (requiring an unlock key to start a stopped manager)")
	flags.StringVar(&opts.availability, flagAvailability, "active", `Availability of the node ("active", "pause", "drain")`)
	flags.IPNetSliceVar(&opts.defaultAddrPools, flagDefaultAddrPool, []net.IPNet{}, "default address pool in CIDR format")
	flags.Uint32Var(&opts.defaultAddrPoolMaskLength, flagDefaultAddrPoolMaskLength, 24, "default address pool subnet mask length")
	addSwarmFlags(flags, &opts.swarmOptions)
	return cmd
}

func runSwarmInit(ctx context.Context, g *Globals, flags *pflag.FlagSet, opts *swarmInitOptions) error {
	availability, err := availabilityFlag(flags, opts.availability)
	if err != nil {
		return err
	}
	if err := opts.validate(flags); err != nil {
		return err
	}
	if p := opts.dataPathPort; p != 0 && (p < 1024 || p > 49151) {
		return fmt.Errorf("invalid --%s %d: must be 0 (the default, 4789) or between 1024 and 49151", flagDataPathPort, p)
	}
	pools, err := addrPools(opts.defaultAddrPools)
	if err != nil {
		return err
	}

	c, err := g.Client()
	if err != nil {
		return err
	}
	req := client.SwarmInitOptions{
		ListenAddr:       opts.listenAddr.String(),
		AdvertiseAddr:    opts.advertiseAddr,
		DataPathAddr:     opts.dataPathAddr,
		DataPathPort:     opts.dataPathPort,
		ForceNewCluster:  opts.forceNewCluster,
		AutoLockManagers: opts.autolock,
		Availability:     availability,
		DefaultAddrPool:  pools,
		SubnetSize:       opts.defaultAddrPoolMaskLength,
	}
	opts.merge(&req.Spec, flags, nil)
	res, err := c.SwarmInit(ctx, req)
	if err != nil {
		if msg := err.Error(); strings.Contains(msg, "could not choose an IP address to advertise") ||
			strings.Contains(msg, "could not find the system's IP address") {
			return fmt.Errorf("%w - specify one with --advertise-addr", err)
		}
		return err
	}

	fmt.Fprintf(g.Out, "Swarm initialized: current node (%s) is now a manager.\n\n", res.NodeID)
	if err := printJoinCommand(ctx, g, c, res.NodeID, true, false); err != nil {
		return err
	}
	fmt.Fprintln(g.Out, "To add a manager to this swarm, run 'shoal swarm join-token manager' and follow the instructions.")

	if opts.autolock {
		key, err := c.SwarmGetUnlockKey(ctx)
		if err != nil {
			return fmt.Errorf("could not fetch unlock key: %w", err)
		}
		printUnlockCommand(g.Out, key.Key)
	}
	return nil
}

// addrPools converts --default-addr-pool values to the API's prefixes.
func addrPools(nets []net.IPNet) ([]netip.Prefix, error) {
	pools := make([]netip.Prefix, 0, len(nets))
	for _, n := range nets {
		if len(n.IP) == 0 {
			continue
		}
		ip := n.IP.To4()
		if ip == nil {
			ip = n.IP.To16()
		}
		addr, ok := netip.AddrFromSlice(ip)
		if !ok {
			return nil, fmt.Errorf("invalid --%s %s: not an IP network", flagDefaultAddrPool, n.String())
		}
		ones, _ := n.Mask.Size()
		pools = append(pools, netip.PrefixFrom(addr, ones))
	}
	return pools, nil
}
