package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newSwarmUnlockCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "unlock",
		Short: "Unlock swarm",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSwarmUnlock(cmd.Context(), g)
		},
		DisableFlagsInUseLine: true,
	}
}

func runSwarmUnlock(ctx context.Context, g *Globals) error {
	c, err := g.Client()
	if err != nil {
		return err
	}
	// Ask for the key only if this node is in a swarm and locked.
	info, err := c.Info(ctx, client.InfoOptions{})
	if err != nil {
		return err
	}
	switch info.Info.Swarm.LocalNodeState {
	case swarm.LocalNodeStateInactive:
		return errors.New("this node is not part of a swarm")
	case swarm.LocalNodeStatePending, swarm.LocalNodeStateActive, swarm.LocalNodeStateError:
		return errors.New("swarm is not locked")
	}

	key, err := readUnlockKey(g, "Enter unlock key: ")
	if err != nil {
		return err
	}
	_, err = c.SwarmUnlock(ctx, client.SwarmUnlockOptions{Key: key})
	return err
}

// readUnlockKey reads the key from a terminal, without echo and after a prompt, or else
// as the first line of the input.
func readUnlockKey(g *Globals, prompt string) (string, error) {
	if f, ok := g.In.(*os.File); ok && isTerminal(f) {
		fmt.Fprint(g.Err, prompt)
		key, err := readLineNoEcho(f)
		fmt.Fprintln(g.Err)
		return strings.TrimSpace(key), err
	}
	key, err := bufio.NewReader(g.In).ReadString('\n')
	if err == io.EOF {
		err = nil
	}
	return strings.TrimSpace(key), err
}

// isTerminal reports whether f is a character device such as a terminal.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
