package cli

import (
	"context"
	"os"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type imageImportOptions struct {
	source    string
	reference string
	changes   *listOpt
	message   string
}

func newImageImportCommand(g *Globals) *cobra.Command {
	opts := imageImportOptions{changes: newListOpt(nil)}
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 2 {
				return usageError(cmd, "requires at most 2 arguments")
			}
			opts.source = args[0]
			if len(args) > 1 {
				opts.reference = args[1]
			}
			return runImageImport(cmd.Context(), g, opts)
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.VarP(opts.changes, "change", "c", "Apply Dockerfile instruction to the created image")
	flags.StringVarP(&opts.message, "message", "m", "", "Set commit message for imported image")
	return cmd
}

// runImageImport sends a root filesystem tarball (a file, stdin or a URL the daemon
// fetches) to become a one-layer image, and prints the new image's ID.
func runImageImport(ctx context.Context, g *Globals, opts imageImportOptions) error {
	var source client.ImageImportSource
	switch {
	case opts.source == "-":
		source = client.ImageImportSource{Source: g.In, SourceName: "-"}
	case strings.HasPrefix(opts.source, "http://"), strings.HasPrefix(opts.source, "https://"):
		source = client.ImageImportSource{SourceName: opts.source}
	default:
		f, err := os.Open(opts.source)
		if err != nil {
			return err
		}
		defer f.Close()
		source = client.ImageImportSource{Source: f, SourceName: "-"}
	}
	c, err := g.Client()
	if err != nil {
		return err
	}
	res, err := c.ImageImport(ctx, source, opts.reference, client.ImageImportOptions{
		Message: opts.message,
		Changes: opts.changes.Values(),
	})
	if err != nil {
		return err
	}
	defer res.Close()
	return displayJSONMessages(res, g.Out)
}
