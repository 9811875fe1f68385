package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/spf13/cobra"
)

func newImageCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:                   "image",
		Short:                 "Manage images",
		Args:                  noArgs,
		RunE:                  showHelp,
		DisableFlagsInUseLine: true,
	}
	cmd.AddCommand(
		newImageImportCommand(g),
		newImageLoadCommand(g),
		newImageListCommand(g),
		newImageRemoveCommand(g),
	)
	return cmd
}

// displayJSONMessages prints the daemon's stream of JSON progress messages as docker
// does when its output is not a terminal: statuses and stream text as they come, progress
// bars left out. An error message ends the stream with that error.
func displayJSONMessages(in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(in)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading the daemon's reply: %w", err)
		}
		switch {
		case m.Error != nil:
			return m.Error
		case m.Aux != nil:
		case m.Progress != nil && (m.Progress.Current > 0 || m.Progress.Total > 0):
		case m.Stream != "":
			io.WriteString(out, m.Stream)
		case m.Status != "":
			if m.ID != "" {
				fmt.Fprintf(out, "%s: ", m.ID)
			}
			fmt.Fprintln(out, m.Status)
		}
	}
}
