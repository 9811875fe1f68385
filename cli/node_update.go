package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const (
	flagRole        = "role"
	flagLabelAdd    = "label-add"
	flagLabelRemove = "label-rm"
)

// errNoRoleChange skips a node whose role is already the one asked for.
var errNoRoleChange = errors.New("role was already set to the requested value")

type nodeUpdateOptions struct {
	role         string
	availability string
	labelAdd     []string
	labelRemove  []string
}

func newNodeUpdateCommand(g *Globals) *cobra.Command {
	var opts nodeUpdateOptions
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] NODE",
		Short: "Update a node",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runNodeUpdate(cmd.Context(), g, cmd.Flags(), args[0], &opts)
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.role, flagRole, "", `Role of the node ("worker", "manager")`)
	flags.StringVar(&opts.availability, flagAvailability, "", `Availability of the node ("active", "pause", "drain")`)
	flags.StringArrayVar(&opts.labelAdd, flagLabelAdd, nil, `Add or update a node label ("key=value")`)
	flags.StringArrayVar(&opts.labelRemove, flagLabelRemove, nil, "Remove a node label if exists")
	return cmd
}

func runNodeUpdate(ctx context.Context, g *Globals, flags *pflag.FlagSet, nodeRef string, opts *nodeUpdateOptions) error {
	merge, err := opts.mergeFunc(flags)
	if err != nil {
		return err
	}
	c, err := g.Client()
	if err != nil {
		return err
	}
	return updateNodes(ctx, c, []string{nodeRef}, merge, func(string) {
		fmt.Fprintln(g.Out, nodeRef)
	})
}

// mergeFunc checks the flags and returns the change they make to a node's spec. Nothing
// is sent if a value is invalid.
func (o *nodeUpdateOptions) mergeFunc(flags *pflag.FlagSet) (func(*swarm.Node) error, error) {
	var (
		role         swarm.NodeRole
		availability swarm.NodeAvailability
		addLabels    = map[string]string{}
	)
	if flags.Changed(flagRole) {
		r, err := parseRole(o.role)
		if err != nil {
			return nil, err
		}
		role = r
	}
	if flags.Changed(flagAvailability) {
		a, err := parseAvailability(o.availability)
		if err != nil {
			return nil, err
		}
		availability = a
	}
	for _, kv := range o.labelAdd {
		key, value, _ := strings.Cut(kv, "=")
		if strings.TrimSpace(key) == "" {
			return nil, fmt.Errorf("invalid --%s %q: want key=value with a non-empty key", flagLabelAdd, kv)
		}
		addLabels[key] = value
	}
	for _, key := range o.labelRemove {
		if key == "" {
			return nil, fmt.Errorf("invalid --%s \"\": want a label key", flagLabelRemove)
		}
	}

	return func(node *swarm.Node) error {
		spec := &node.Spec
		if role != "" {
			spec.Role = role
		}
		if availability != "" {
			spec.Availability = availability
		}
		if spec.Labels == nil {
			spec.Labels = map[string]string{}
		}
		for k, v := range addLabels {
			spec.Labels[k] = v
		}
		for _, k := range o.labelRemove {
			if _, ok := spec.Labels[k]; !ok {
				return fmt.Errorf("key %s doesn't exist in node's labels", k)
			}
			delete(spec.Labels, k)
		}
		return nil
	}, nil
}

// parseRole checks a node role given on the command line.
func parseRole(value string) (swarm.NodeRole, error) {
	switch r := swarm.NodeRole(strings.ToLower(value)); r {
	case swarm.NodeRoleWorker, swarm.NodeRoleManager:
		return r, nil
	}
	return "", fmt.Errorf("invalid role %q: must be worker or manager", value)
}

// updateNodes reads each node, changes its spec with merge and writes it back at the
// version it read. It stops at the first error; a node merge leaves unchanged
// (errNoRoleChange) is skipped. success is called with the reference of each node updated.
func updateNodes(ctx context.Context, c *client.Client, refs []string, merge func(*swarm.Node) error, success func(ref string)) error {
	for _, ref := range refs {
		res, err := c.NodeInspect(ctx, ref, client.NodeInspectOptions{})
		if err != nil {
			return err
		}
		if err := merge(&res.Node); err != nil {
			if errors.Is(err, errNoRoleChange) {
				continue
			}
			return err
		}
		if _, err := c.NodeUpdate(ctx, res.Node.ID, client.NodeUpdateOptions{
			Version: res.Node.Version,
			Spec:    res.Node.Spec,
		}); err != nil {
			return err
		}
		success(ref)
	}
	return nil
}
