package cli

import (
	"context"
	"errors"
	"os"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type imageLoadOptions struct {
	input string
	quiet bool
}

func newImageLoadCommand(g *Globals) *cobra.Command {
	var opts imageLoadOptions
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runImageLoad(cmd.Context(), g, opts)
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.StringVarP(&opts.input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	flags.BoolVarP(&opts.quiet, flagQuiet, "q", false, "Suppress the load output")
	return cmd
}

// runImageLoad sends a docker-save or OCI archive to the daemon and prints what it loaded.
func runImageLoad(ctx context.Context, g *Globals, opts imageLoadOptions) error {
	input := g.In
	if opts.input == "" {
		// Reading a terminal would wait for an archive nobody is typing.
		if f, ok := g.In.(*os.File); ok && isTerminal(f) {
			return errors.New("requested load from stdin, but stdin is empty")
		}
	} else {
		f, err := os.Open(opts.input)
		if err != nil {
			return err
		}
		defer f.Close()
		input = f
	}
	c, err := g.Client()
	if err != nil {
		return err
	}
	terminal, _ := terminalInfo(g.Out)
	res, err := c.ImageLoad(ctx, input, client.ImageLoadWithQuiet(opts.quiet || !terminal))
	if err != nil {
		return err
	}
	defer res.Close()
	return displayJSONMessages(res, g.Out)
}
