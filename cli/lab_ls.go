package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/shoal/shoal/lab"
)

func newLabListCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the labs on this machine",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			labs, err := lab.List()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(g.Out, 0, 8, 3, ' ', 0)
			fmt.Fprintln(w, "NAME\tNODES\tSUBNET\tSTATUS")
			for _, s := range labs {
				subnet := "-"
				if s.Subnet.IsValid() {
					subnet = s.Subnet.String()
				}
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", s.Name, s.Nodes, subnet, s.Status)
			}
			return w.Flush()
		},
	}
}
