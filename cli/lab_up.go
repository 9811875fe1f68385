package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/shoal/shoal/lab"
)

func newLabUpCommand(g *Globals) *cobra.Command {
	var opts lab.Options
	cmd := &cobra.Command{
		Use:                   "up [OPTIONS]",
		Short:                 "Create a lab: network, one daemon per node, and the cluster",
		DisableFlagsInUseLine: true,
		Args:                  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Managers < 1 {
				return fmt.Errorf("invalid --managers %d: a lab needs at least 1 manager", opts.Managers)
			}
			// Ctrl-C while building tears down what was built.
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			l, err := lab.Up(ctx, opts, g.Out)
			if err != nil {
				return err
			}
			if err := writeLabNodes(g, l); err != nil {
				return err
			}
			first := l.Nodes()[0].Name
			envCmd := "shoal lab env " + first
			if l.Name() != lab.DefaultName {
				envCmd = "shoal lab env --name " + l.Name() + " " + first
			}
			fmt.Fprintf(g.Out, "\nTalk to a node with: eval \"$(%s)\"\n", envCmd)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Name, "name", lab.DefaultName, "name of the lab")
	f.IntVar(&opts.Managers, "managers", 1, "number of manager nodes")
	f.IntVar(&opts.Workers, "workers", 0, "number of worker nodes")
	f.StringVar(&opts.Subnet, "subnet", "auto", `lab subnet, or "auto" for a free /24 in 172.16.0.0/12 or 192.168.0.0/16`)
	f.DurationVar(&opts.DispatcherHeartbeat, "dispatcher-heartbeat", lab.DefaultDispatcherHeartbeat, "dispatcher heartbeat period")
	f.DurationVar(&opts.CertExpiry, "cert-expiry", 0, "validity period for node certificates (0: the daemon's default, 90 days)")
	f.StringVar(&opts.Bin, "bin", "", "shoal binary the nodes run (default: this one)")
	f.StringArrayVar(&opts.DaemonArgs, "daemon-arg", nil, "extra flag for every node's daemon, e.g. --daemon-arg=--debug (repeatable)")
	f.DurationVar(&opts.StartTimeout, "start-timeout", lab.DefaultStartTimeout, "how long to wait for each daemon's API")
	f.BoolVar(&opts.SkipSwarm, "skip-swarm", false, "start the daemons without forming a cluster")
	_ = f.MarkHidden("skip-swarm")
	return cmd
}

// writeLabNodes prints the NAME ROLE ADDRESS SOCKET table.
func writeLabNodes(g *Globals, l *lab.Lab) error {
	w := tabwriter.NewWriter(g.Out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(w, "NAME\tROLE\tADDRESS\tSOCKET")
	for _, n := range l.Nodes() {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", n.Name, n.Role, n.Addr, n.Socket)
	}
	return w.Flush()
}
