package cli

import (
	"encoding/csv"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const (
	defaultListenAddr = "0.0.0.0:2377"

	flagAdvertiseAddr             = "advertise-addr"
	flagAutolock                  = "autolock"
	flagAvailability              = "availability"
	flagCACert                    = "ca-cert"
	flagCAKey                     = "ca-key"
	flagCertExpiry                = "cert-expiry"
	flagDataPathAddr              = "data-path-addr"
	flagDataPathPort              = "data-path-port"
	flagDefaultAddrPool           = "default-addr-pool"
	flagDefaultAddrPoolMaskLength = "default-addr-pool-mask-length"
	flagDispatcherHeartbeat       = "dispatcher-heartbeat"
	flagExternalCA                = "external-ca"
	flagListenAddr                = "listen-addr"
	flagMaxSnapshots              = "max-snapshots"
	flagQuiet                     = "quiet"
	flagRotate                    = "rotate"
	flagSnapshotInterval          = "snapshot-interval"
	flagTaskHistoryLimit          = "task-history-limit"
	flagToken                     = "token"
)

func newSwarmCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:                   "swarm",
		Short:                 "Manage Swarm",
		Args:                  noArgs,
		RunE:                  showHelp,
		DisableFlagsInUseLine: true,
	}
	cmd.AddCommand(
		newSwarmInitCommand(g),
		newSwarmJoinCommand(g),
		newSwarmJoinTokenCommand(g),
		newSwarmUnlockKeyCommand(g),
		newSwarmUpdateCommand(g),
		newSwarmLeaveCommand(g),
		newSwarmUnlockCommand(g),
		newSwarmCACommand(g),
	)
	return cmd
}

// showHelp is the action of a command that only groups others: like docker, it prints
// the help to stderr and succeeds.
func showHelp(cmd *cobra.Command, args []string) error {
	cmd.SetOut(cmd.ErrOrStderr())
	cmd.HelpFunc()(cmd, args)
	return nil
}

// Argument checks. Their messages follow the flag errors of the root command.

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return fmt.Errorf("unknown command %q for %q\nSee '%s --help'.", args[0], cmd.CommandPath(), cmd.CommandPath())
	}
	return usageError(cmd, "accepts no arguments")
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return usageError(cmd, fmt.Sprintf("requires exactly %d %s", n, pluralize("argument", n)))
	}
}

func requiresMinArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		return usageError(cmd, fmt.Sprintf("requires at least %d %s", n, pluralize("argument", n)))
	}
}

func usageError(cmd *cobra.Command, problem string) error {
	return fmt.Errorf("%q %s.\nSee '%s --help'.\n\nUsage:  %s\n\n%s",
		cmd.CommandPath(), problem, cmd.CommandPath(), cmd.UseLine(), cmd.Short)
}

func pluralize(word string, n int) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// swarmOptions are the cluster settings `swarm init` and `swarm update` share.
type swarmOptions struct {
	taskHistoryLimit    int64
	dispatcherHeartbeat time.Duration
	maxSnapshots        uint64
	snapshotInterval    uint64
	autolock            bool
	caOptions           swarmCAOptions
}

// swarmCAOptions are the CA settings `swarm init`, `swarm update` and `swarm ca` share.
type swarmCAOptions struct {
	nodeCertExpiry time.Duration
	externalCA     externalCAFlag
}

func addSwarmFlags(flags *pflag.FlagSet, o *swarmOptions) {
	flags.Int64Var(&o.taskHistoryLimit, flagTaskHistoryLimit, 5, "Task history retention limit")
	flags.DurationVar(&o.dispatcherHeartbeat, flagDispatcherHeartbeat, 5*time.Second, "Dispatcher heartbeat period (ns|us|ms|s|m|h)")
	flags.Uint64Var(&o.maxSnapshots, flagMaxSnapshots, 0, "Number of additional Raft snapshots to retain")
	flags.Uint64Var(&o.snapshotInterval, flagSnapshotInterval, 10000, "Number of log entries between Raft snapshots")
	addSwarmCAFlags(flags, &o.caOptions)
}

func addSwarmCAFlags(flags *pflag.FlagSet, o *swarmCAOptions) {
	flags.DurationVar(&o.nodeCertExpiry, flagCertExpiry, 90*24*time.Hour, "Validity period for node certificates (ns|us|ms|s|m|h)")
	flags.Var(&o.externalCA, flagExternalCA, "Specifications of one or more certificate signing endpoints")
}

// validate checks the values given before anything is sent.
func (o *swarmOptions) validate(flags *pflag.FlagSet) error {
	if err := checkDuration(flags, flagDispatcherHeartbeat, o.dispatcherHeartbeat); err != nil {
		return err
	}
	return o.caOptions.validate(flags)
}

func (o *swarmCAOptions) validate(flags *pflag.FlagSet) error {
	return checkDuration(flags, flagCertExpiry, o.nodeCertExpiry)
}

// checkDuration refuses a negative duration given to the flag name.
func checkDuration(flags *pflag.FlagSet, name string, d time.Duration) error {
	if flags.Changed(name) && d < 0 {
		return fmt.Errorf("invalid --%s %s: must not be negative", name, d)
	}
	return nil
}

// merge writes the flags the user gave, and only those, into spec. caCert, if not nil,
// is used for external CAs given without their own certificate.
func (o *swarmOptions) merge(spec *swarm.Spec, flags *pflag.FlagSet, caCert *string) {
	if flags.Changed(flagTaskHistoryLimit) {
		limit := o.taskHistoryLimit
		spec.Orchestration.TaskHistoryRetentionLimit = &limit
	}
	if flags.Changed(flagDispatcherHeartbeat) {
		spec.Dispatcher.HeartbeatPeriod = o.dispatcherHeartbeat
	}
	if flags.Changed(flagMaxSnapshots) {
		keep := o.maxSnapshots
		spec.Raft.KeepOldSnapshots = &keep
	}
	if flags.Changed(flagSnapshotInterval) {
		spec.Raft.SnapshotInterval = o.snapshotInterval
	}
	if flags.Changed(flagAutolock) {
		spec.EncryptionConfig.AutoLockManagers = o.autolock
	}
	o.caOptions.merge(spec, flags, caCert)
}

func (o *swarmCAOptions) merge(spec *swarm.Spec, flags *pflag.FlagSet, caCert *string) {
	if flags.Changed(flagCertExpiry) {
		spec.CAConfig.NodeCertExpiry = o.nodeCertExpiry
	}
	if flags.Changed(flagExternalCA) {
		spec.CAConfig.ExternalCAs = o.externalCA.values
		if caCert != nil {
			for _, ca := range spec.CAConfig.ExternalCAs {
				if ca.CACert == "" {
					ca.CACert = *caCert
				}
			}
		}
	}
}

// parseAvailability checks a node availability given on the command line.
func parseAvailability(value string) (swarm.NodeAvailability, error) {
	switch a := swarm.NodeAvailability(strings.ToLower(value)); a {
	case swarm.NodeAvailabilityActive, swarm.NodeAvailabilityPause, swarm.NodeAvailabilityDrain:
		return a, nil
	}
	return "", fmt.Errorf("invalid availability %q: must be active, pause or drain", value)
}

// availabilityFlag returns the availability to send: empty (the daemon's default) unless
// the user gave --availability.
func availabilityFlag(flags *pflag.FlagSet, value string) (swarm.NodeAvailability, error) {
	if !flags.Changed(flagAvailability) {
		return "", nil
	}
	return parseAvailability(value)
}

// nodeAddrFlag is a listen address "<ip|interface>[:port]"; a missing host or port is
// taken from the default.
type nodeAddrFlag struct {
	addr string // host:port
}

func (a *nodeAddrFlag) String() string { return a.addr }
func (*nodeAddrFlag) Type() string     { return "node-addr" }

func (a *nodeAddrFlag) Set(value string) error {
	addr, err := parseTCPAddr(value, a.addr)
	if err != nil {
		return err
	}
	a.addr = addr
	return nil
}

// parseTCPAddr completes "host", ":port", "host:port" or "tcp://host:port" from defaultAddr
// ("host:port") and returns "host:port".
func parseTCPAddr(value, defaultAddr string) (string, error) {
	if value == "" || value == "tcp://" {
		return defaultAddr, nil
	}
	addr := strings.TrimPrefix(value, "tcp://")
	if strings.Contains(addr, "://") || addr == "" {
		return "", fmt.Errorf("invalid proto, expected tcp: %s", value)
	}
	defaultHost, defaultPort, err := net.SplitHostPort(defaultAddr)
	if err != nil {
		return "", err
	}
	if strings.HasSuffix(addr, "]:") {
		addr += defaultPort
	}
	u, err := url.Parse("tcp://" + addr)
	if err != nil || u.Path != "" {
		return "", fmt.Errorf("invalid bind address format: %s", value)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		host, port, err = net.SplitHostPort(net.JoinHostPort(u.Hostname(), defaultPort))
	}
	if err != nil {
		return "", fmt.Errorf("invalid bind address format: %s", value)
	}
	if host == "" {
		host = defaultHost
	}
	if port == "" {
		port = defaultPort
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return "", fmt.Errorf("invalid bind address format: %s", value)
	}
	return net.JoinHostPort(host, port), nil
}

// externalCAFlag is a repeatable --external-ca protocol=cfssl,url=...[,cacert=FILE].
type externalCAFlag struct {
	values []*swarm.ExternalCA
}

func (*externalCAFlag) Type() string { return "external-ca" }

func (f *externalCAFlag) String() string {
	parts := make([]string, 0, len(f.values))
	for _, ca := range f.values {
		parts = append(parts, fmt.Sprintf("%s: %s", ca.Protocol, ca.URL))
	}
	return strings.Join(parts, ", ")
}

func (f *externalCAFlag) Set(value string) error {
	ca, err := parseExternalCA(value)
	if err != nil {
		return err
	}
	f.values = append(f.values, ca)
	return nil
}

func parseExternalCA(spec string) (*swarm.ExternalCA, error) {
	fields, err := csv.NewReader(strings.NewReader(spec)).Read()
	if err != nil {
		return nil, err
	}
	ca := swarm.ExternalCA{Options: map[string]string{}}
	var hasProtocol, hasURL bool
	for _, field := range fields {
		key, value, ok := strings.Cut(field, "=")
		if !ok {
			return nil, fmt.Errorf("invalid field '%s' must be a key=value pair", field)
		}
		switch strings.ToLower(key) {
		case "protocol":
			hasProtocol = true
			if strings.ToLower(value) != string(swarm.ExternalCAProtocolCFSSL) {
				return nil, fmt.Errorf("unrecognized external CA protocol %s", value)
			}
			ca.Protocol = swarm.ExternalCAProtocolCFSSL
		case "url":
			hasURL = true
			ca.URL = value
		case "cacert":
			pemText, err := readPEMFile(value)
			if err != nil {
				return nil, fmt.Errorf("unable to read CA cert for external CA: %w", err)
			}
			ca.CACert = pemText
		default:
			ca.Options[key] = value
		}
	}
	if !hasProtocol {
		return nil, errors.New("the external-ca option needs a protocol= parameter")
	}
	if !hasURL {
		return nil, errors.New("the external-ca option needs a url= parameter")
	}
	return &ca, nil
}

// readPEMFile reads a file that must hold PEM data.
func readPEMFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if block, _ := pem.Decode(b); block == nil {
		return "", fmt.Errorf("%s: file contents must be in PEM format", path)
	}
	return string(b), nil
}

// printUnlockCommand tells the user how to unlock a manager after it restarts.
func printUnlockCommand(out io.Writer, unlockKey string) {
	if unlockKey == "" {
		return
	}
	fmt.Fprintf(out, "To unlock a swarm manager after it restarts, run the `shoal swarm unlock`\n"+
		"command and provide the following key:\n\n    %s\n\n"+
		"Remember to store this key in a password manager, since without it you\n"+
		"will not be able to restart the manager.\n", unlockKey)
}
