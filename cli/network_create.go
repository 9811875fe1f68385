package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// driverOverlay is the only network driver a swarm has. It is also --driver's default:
// docker's default, bridge, makes a network local to one host, which Shoal has no use for.
const driverOverlay = "overlay"

type networkCreateOptions struct {
	driver     string
	driverOpts *mapOpt
	labels     *listOpt
	internal   bool
	attachable bool
	ingress    bool
	scope      string
	subnets    []string
	ipRanges   []string
	gateways   []string
}

func newNetworkCreateCommand(g *Globals) *cobra.Command {
	opts := networkCreateOptions{
		driverOpts: newMapOpt(),
		labels:     newListOpt(validateLabel),
	}
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runNetworkCreate(cmd.Context(), g, args[0], &opts)
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.StringVarP(&opts.driver, "driver", "d", driverOverlay, "Driver to manage the Network")
	flags.VarP(opts.driverOpts, "opt", "o", "Set driver specific options")
	flags.Var(opts.labels, "label", "Set metadata on a network")
	flags.BoolVar(&opts.internal, "internal", false, "Restrict external access to the network")
	flags.BoolVar(&opts.attachable, "attachable", false, "Enable manual container attachment")
	flags.BoolVar(&opts.ingress, "ingress", false, "Create swarm routing-mesh network")
	flags.StringVar(&opts.scope, "scope", "", "Control the network's scope")
	flags.StringSliceVar(&opts.subnets, "subnet", nil, "Subnet in CIDR format that represents a network segment")
	flags.StringSliceVar(&opts.ipRanges, "ip-range", nil, "Allocate container ip from a sub-range")
	flags.StringSliceVar(&opts.gateways, "gateway", nil, "IPv4 or IPv6 Gateway for the master subnet")
	return cmd
}

// runNetworkCreate checks the options, sends the request as docker does and prints the
// new network's ID.
func runNetworkCreate(ctx context.Context, g *Globals, name string, opts *networkCreateOptions) error {
	req, err := opts.createOptions()
	if err != nil {
		return err
	}
	c, err := g.Client()
	if err != nil {
		return err
	}
	res, err := c.NetworkCreate(ctx, name, req)
	if err != nil {
		return err
	}
	printWarnings(g.Err, res.Warning)
	fmt.Fprintln(g.Out, res.ID)
	return nil
}

// createOptions turns the flags into the request, refusing what a swarm cannot do before
// anything is sent. Labels and options are sent as empty objects rather than left out, as
// docker sends them.
func (o *networkCreateOptions) createOptions() (client.NetworkCreateOptions, error) {
	if o.driver != driverOverlay {
		return client.NetworkCreateOptions{}, fmt.Errorf("only the overlay driver is supported in a swarm (got %s)", o.driver)
	}
	switch o.scope {
	case "", "swarm":
	default:
		return client.NetworkCreateOptions{}, fmt.Errorf("invalid --scope %q: overlay networks are swarm-scoped; use swarm or leave it out", o.scope)
	}
	if len(o.ipRanges) > 0 {
		return client.NetworkCreateOptions{}, errors.New("--ip-range is not implemented yet: tasks get addresses from the whole subnet")
	}
	ipam, err := ipamConfigs(o.subnets, o.gateways)
	if err != nil {
		return client.NetworkCreateOptions{}, err
	}
	return client.NetworkCreateOptions{
		Driver:     o.driver,
		Scope:      o.scope,
		IPAM:       &network.IPAM{Driver: "default", Options: map[string]string{}, Config: ipam},
		Internal:   o.internal,
		Attachable: o.attachable,
		Ingress:    o.ingress,
		Options:    o.driverOpts.Values(),
		Labels:     labelMap(o.labels.Values()),
	}, nil
}

// ipamConfigs pairs each --gateway with the --subnet that holds it, as docker does: one
// configuration per subnet, in the order given, subnets must not overlap, and a subnet has
// at most one gateway.
func ipamConfigs(subnets, gateways []string) ([]network.IPAMConfig, error) {
	if len(subnets) < len(gateways) {
		return nil, errors.New("every ip-range or gateway must have a corresponding subnet")
	}
	configs := make([]network.IPAMConfig, 0, len(subnets))
	for _, s := range subnets {
		prefix, err := parseSubnet(s)
		if err != nil {
			return nil, err
		}
		for _, c := range configs {
			if c.Subnet.Overlaps(prefix) {
				return nil, errors.New("multiple overlapping subnet configuration is not supported")
			}
		}
		configs = append(configs, network.IPAMConfig{Subnet: prefix})
	}
	for _, gw := range gateways {
		addr, err := netip.ParseAddr(gw)
		if err != nil {
			return nil, fmt.Errorf("invalid gateway %s: must be an IPv4 or IPv6 address", gw)
		}
		i := indexOfSubnet(configs, addr)
		if i < 0 {
			return nil, fmt.Errorf("no matching subnet for gateway %s", gw)
		}
		if configs[i].Gateway.IsValid() {
			return nil, fmt.Errorf("cannot configure multiple gateways (%s, %s) for the same subnet (%s)", gw, configs[i].Gateway, configs[i].Subnet)
		}
		configs[i].Gateway = addr
	}
	return configs, nil
}

// parseSubnet reads a --subnet in CIDR form. Host bits are refused: "10.0.9.5/24" is more
// likely a typo than a way to write 10.0.9.0/24.
func parseSubnet(s string) (netip.Prefix, error) {
	if _, _, err := net.ParseCIDR(s); err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid subnet %s: %w", s, err)
	}
	prefix, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid subnet %s: %w", s, err)
	}
	if masked := prefix.Masked(); masked != prefix {
		return netip.Prefix{}, fmt.Errorf("invalid subnet %s: it has host bits set; use %s", s, masked)
	}
	return prefix, nil
}

func indexOfSubnet(configs []network.IPAMConfig, addr netip.Addr) int {
	for i, c := range configs {
		if c.Subnet.Contains(addr) {
			return i
		}
	}
	return -1
}

// mapOpt is a repeatable key=value flag gathered into a map (--opt); a bare "key" maps to
// "", and a later value for a key replaces an earlier one.
type mapOpt struct {
	values map[string]string
}

func newMapOpt() *mapOpt { return &mapOpt{values: map[string]string{}} }

func (*mapOpt) Type() string { return "map" }

// String shows the map as docker's --help does: "map[]" when empty.
func (m *mapOpt) String() string { return fmt.Sprintf("%v", m.values) }

func (m *mapOpt) Set(s string) error {
	key, value, _ := strings.Cut(s, "=")
	if strings.TrimSpace(key) == "" {
		return errors.New("want key=value with a non-empty key")
	}
	m.values[key] = value
	return nil
}

// Values returns a copy of the map.
func (m *mapOpt) Values() map[string]string { return maps.Clone(m.values) }
