package cli

import (
	"github.com/spf13/cobra"

	"github.com/shoal/shoal/lab"
)

// newLabCommand is `shoal lab`: a multi-node cluster on this machine, one network namespace
// per node. Unlike the other commands it talks to the kernel and starts daemons itself; it
// needs root.
func newLabCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab COMMAND",
		Short: "Run a multi-node cluster on this machine, one network namespace per node",
		Long: "Run a real multi-node Shoal cluster on this machine: each node is a network namespace\n" +
			"on a private bridge, runs its own daemon, and is reachable from the machine at its\n" +
			"address. Needs root.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newLabUpCommand(g),
		newLabDownCommand(g),
		newLabListCommand(g),
		newLabEnvCommand(g),
		newLabStopCommand(g),
		newLabStartCommand(g),
	)
	return cmd
}

// addLabNameFlag adds --name, the lab a command acts on.
func addLabNameFlag(cmd *cobra.Command, name *string) {
	cmd.Flags().StringVar(name, "name", lab.DefaultName, "name of the lab")
}

// labNodeArgs checks a command's single NODE argument.
var labNodeArgs = cobra.ExactArgs(1)
