package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// rootRotationPollInterval is how often `swarm ca --rotate` looks at the nodes while it
// waits for them to take the new root CA.
const rootRotationPollInterval = 200 * time.Millisecond

type swarmCACommandOptions struct {
	swarmCAOptions
	rootCACert pemFileFlag
	rootCAKey  pemFileFlag
	rotate     bool
	detach     bool
	quiet      bool
}

func newSwarmCACommand(g *Globals) *cobra.Command {
	var opts swarmCACommandOptions
	cmd := &cobra.Command{
		Use:   "ca [OPTIONS]",
		Short: "Display and rotate the root CA",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSwarmCA(cmd.Context(), g, cmd.Flags(), &opts)
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	addSwarmCAFlags(flags, &opts.swarmCAOptions)
	flags.BoolVar(&opts.rotate, flagRotate, false, "Rotate the swarm CA - if no certificate or key are provided, new ones will be generated")
	flags.Var(&opts.rootCACert, flagCACert, "Path to the PEM-formatted root CA certificate to use for the new cluster")
	flags.Var(&opts.rootCAKey, flagCAKey, "Path to the PEM-formatted root CA key to use for the new cluster")
	flags.BoolVarP(&opts.detach, "detach", "d", false, "Exit immediately instead of waiting for the root rotation to converge")
	flags.BoolVarP(&opts.quiet, flagQuiet, "q", false, "Suppress progress output")
	return cmd
}

func runSwarmCA(ctx context.Context, g *Globals, flags *pflag.FlagSet, opts *swarmCACommandOptions) error {
	if !opts.rotate {
		for _, f := range []string{flagCACert, flagCAKey, flagCertExpiry, flagExternalCA} {
			if flags.Changed(f) {
				return fmt.Errorf("`--%s` flag requires the `--rotate` flag to update the CA", f)
			}
		}
	} else {
		if err := opts.validate(flags); err != nil {
			return err
		}
		if flags.Changed(flagExternalCA) && len(opts.externalCA.values) > 0 && !flags.Changed(flagCACert) {
			return fmt.Errorf("rotating to an external CA requires the `--%s` flag to specify the external CA's cert - "+
				"to add an external CA with the current root CA certificate, use the `update` command instead", flagCACert)
		}
		if flags.Changed(flagCACert) && len(opts.externalCA.values) == 0 && !flags.Changed(flagCAKey) {
			return fmt.Errorf("the --%s flag requires that a --%s flag and/or --%s flag be provided as well",
				flagCACert, flagCAKey, flagExternalCA)
		}
	}

	c, err := g.Client()
	if err != nil {
		return err
	}
	sw, err := c.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return err
	}
	if !opts.rotate {
		return printTrustRoot(g, sw.Swarm)
	}

	caCert, caKey := opts.rootCACert.contents, opts.rootCAKey.contents
	spec := &sw.Swarm.Spec
	opts.merge(spec, flags, &caCert)
	spec.CAConfig.SigningCACert = caCert
	spec.CAConfig.SigningCAKey = caKey
	if caCert == "" && caKey == "" {
		spec.CAConfig.ForceRotate++
	}
	if _, err := c.SwarmUpdate(ctx, client.SwarmUpdateOptions{Version: sw.Swarm.Version, Spec: *spec}); err != nil {
		return err
	}
	if opts.detach {
		return nil
	}
	if err := waitRootRotation(ctx, g, c, opts.quiet); err != nil {
		return err
	}
	if opts.quiet {
		return nil
	}
	sw, err = c.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return err
	}
	return printTrustRoot(g, sw.Swarm)
}

func printTrustRoot(g *Globals, sw swarm.Swarm) error {
	if sw.TLSInfo.TrustRoot == "" {
		return errors.New("no CA information available")
	}
	fmt.Fprintln(g.Out, strings.TrimSpace(sw.TLSInfo.TrustRoot))
	return nil
}

// waitRootRotation polls until every node has a certificate from the new root CA and
// trusts it, printing progress lines as the counts change unless quiet.
func waitRootRotation(ctx context.Context, g *Globals, c *client.Client, quiet bool) error {
	ticker := time.NewTicker(rootRotationPollInterval)
	defer ticker.Stop()
	last := ""
	for {
		sw, err := c.SwarmInspect(ctx, client.SwarmInspectOptions{})
		if err != nil {
			return err
		}
		nodes, err := c.NodeList(ctx, client.NodeListOptions{})
		if err != nil {
			return err
		}
		progress, done := rootRotationProgress(sw.Swarm, nodes.Items)
		if !quiet && progress != last {
			fmt.Fprint(g.Out, progress)
			last = progress
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// rootRotationProgress describes how far a root CA rotation has gone, and whether it is
// over: every node holds a certificate issued by the desired CA and trusts its root.
func rootRotationProgress(sw swarm.Swarm, nodes []swarm.Node) (string, bool) {
	want := sw.TLSInfo
	var certs, roots int
	for _, n := range nodes {
		have := n.Description.TLSInfo
		if bytes.Equal(have.CertIssuerPublicKey, want.CertIssuerPublicKey) &&
			bytes.Equal(have.CertIssuerSubject, want.CertIssuerSubject) {
			certs++
		}
		if have.TrustRoot == want.TrustRoot {
			roots++
		}
	}
	certsDone := certs == len(nodes) && !sw.RootRotationInProgress
	if !certsDone {
		roots = 0 // roots are only swapped once every certificate is renewed
	}
	digest := sha256.Sum256([]byte(want.TrustRoot))
	text := fmt.Sprintf("desired root digest: sha256:%s\n  rotated TLS certificates: %d/%d nodes\n  rotated CA certificates: %d/%d nodes\n",
		hex.EncodeToString(digest[:]), certs, len(nodes), roots, len(nodes))
	return text, certsDone && roots == len(nodes)
}

// pemFileFlag is a flag naming a PEM file, read when the flag is parsed.
type pemFileFlag struct {
	path, contents string
}

func (*pemFileFlag) Type() string     { return "pem-file" }
func (p *pemFileFlag) String() string { return p.path }

func (p *pemFileFlag) Set(path string) error {
	contents, err := readPEMFile(path)
	if err != nil {
		return err
	}
	p.path, p.contents = path, contents
	return nil
}
