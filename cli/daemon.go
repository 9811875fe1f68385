package cli

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/shoal/shoal/daemon"
	"github.com/shoal/shoal/internal/version"
)

func newDaemonCommand(g *Globals) *cobra.Command {
	var cfg daemon.Config
	cmd := &cobra.Command{
		Use:   "daemon [OPTIONS]",
		Short: "Run the Shoal node daemon",
		Long: "Run the Shoal node daemon: it serves the Docker Engine API on a unix socket (-H),\n" +
			"keeps this node's swarm membership under --data-root, and runs the node's agent\n" +
			"and, on managers, its manager.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			level := slog.LevelInfo
			if cfg.Debug {
				level = slog.LevelDebug
			}
			cfg.Logger = slog.New(slog.NewTextHandler(g.Err, &slog.HandlerOptions{Level: level}))
			cfg.Host = g.Host
			cfg.Version = version.Version
			d, err := daemon.New(cfg)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return d.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataRoot, "data-root", "/var/lib/shoal", "root directory of persistent state")
	f.StringVar(&cfg.Hostname, "hostname", "", "the node's hostname in the swarm (default: the machine's)")
	f.BoolVarP(&cfg.Debug, "debug", "D", false, "enable debug logging")
	f.StringVar(&cfg.NetnsPrefix, "netns-prefix", "shoal-", "start of the names of the network namespaces this node makes (nodes sharing a machine need different ones)")
	return cmd
}
