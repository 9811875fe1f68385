// Package cli holds the shoal command line: one file per noun-verb. Every command but
// `daemon` and `lab` is a client of a daemon's Docker Engine API.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// DefaultHost is where the daemon listens and the client looks when neither -H nor
// SHOAL_HOST says otherwise.
const DefaultHost = "unix:///run/shoal/shoal.sock"

// Globals are the options every command shares.
type Globals struct {
	Host   string
	Out    io.Writer
	Err    io.Writer
	In     io.Reader
	client *client.Client
}

// Client returns an API client for the daemon at g.Host, created once.
func (g *Globals) Client() (*client.Client, error) {
	if g.client != nil {
		return g.client, nil
	}
	c, err := client.New(client.WithHost(g.Host), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("cannot use daemon address %q: %w", g.Host, err)
	}
	g.client = c
	return c, nil
}

// NewRootCommand builds the whole command tree around g.
func NewRootCommand(g *Globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "shoal",
		Short:         "A container orchestrator in the spirit of Docker swarm mode",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(g.Out)
	root.SetErr(g.Err)
	root.SetIn(g.In)
	host := os.Getenv("SHOAL_HOST")
	if host == "" {
		host = DefaultHost
	}
	root.PersistentFlags().StringVarP(&g.Host, "host", "H", host, "daemon socket to connect to (env SHOAL_HOST)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w\nSee '%s --help'.", err, c.CommandPath())
	})
	root.AddCommand(
		newDaemonCommand(g),
		newSwarmCommand(g),
		newNodeCommand(g),
		newServiceCommand(g),
		newImageCommand(g),
		newNetworkCommand(g),
		newExecCommand(g),
		newInfoCommand(g),
		newVersionCommand(g),
		newLabCommand(g),
	)
	return root
}

// Execute runs the command line and returns the process exit status.
func Execute(args []string) int {
	g := &Globals{Out: os.Stdout, Err: os.Stderr, In: os.Stdin}
	root := NewRootCommand(g)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		var st statusError
		if errors.As(err, &st) {
			if st.msg != "" {
				fmt.Fprintln(g.Err, st.msg)
			}
			return st.code
		}
		if client.IsErrConnectionFailed(err) {
			err = fmt.Errorf("Cannot connect to the Shoal daemon at %s. Is the shoal daemon running?", g.Host)
		}
		fmt.Fprintln(g.Err, err)
		return 1
	}
	return 0
}

// statusError ends the program with a chosen exit code (used by commands whose exit code
// carries meaning, such as exec).
type statusError struct {
	code int
	msg  string
}

func (e statusError) Error() string { return fmt.Sprintf("exit status %d: %s", e.code, e.msg) }
