package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// clientInfo is the Client part of `info`.
type clientInfo struct {
	Debug bool
	clientVersion
	Warnings []string
}

// shoalInfo is what `info --format` templates see, shaped as docker's: the daemon's
// system.Info at the top level, plus the client's part and the errors met.
type shoalInfo struct {
	*system.Info `json:",omitempty"`
	ServerErrors []string `json:",omitempty"`

	ClientInfo   *clientInfo `json:",omitempty"`
	ClientErrors []string    `json:",omitempty"`
}

func newInfoCommand(g *Globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Display system-wide information",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInfo(cmd.Context(), g, format)
		},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", inspectFormatHelp)
	return cmd
}

func runInfo(ctx context.Context, g *Globals, format string) error {
	info := shoalInfo{
		ClientInfo: &clientInfo{clientVersion: thisBuild},
		Info:       &system.Info{},
	}
	var connErr error
	if infoNeedsServer(format, info) {
		connErr = addServerInfo(ctx, g, format, &info)
	}
	if format == "" {
		return errors.Join(printInfo(g, info), connErr)
	}
	return errors.Join(connErr, formatInfo(g.Out, info, format))
}

// addServerInfo asks the daemon for its part. A daemon that cannot be reached is returned
// as an error; any other failure is recorded in info.ServerErrors.
func addServerInfo(ctx context.Context, g *Globals, format string, info *shoalInfo) error {
	c, err := g.Client()
	if err != nil {
		return err
	}
	res, err := c.Info(ctx, client.InfoOptions{})
	if err != nil {
		if format == "" {
			info.Info = nil
		}
		if client.IsErrConnectionFailed(err) {
			return err
		}
		info.ServerErrors = append(info.ServerErrors, err.Error())
		if format != "" {
			// The template may not show ServerErrors.
			fmt.Fprintln(g.Err, err)
		}
		return nil
	}
	info.Info = &res.Info
	return nil
}

// placeholderPattern finds a field reference (".Name") in a template.
var placeholderPattern = regexp.MustCompile(`\.[a-zA-Z]`)

// infoNeedsServer reports whether a format uses anything from the daemon, so that a
// template over client fields only works without one.
func infoNeedsServer(format string, info shoalInfo) bool {
	switch format {
	case "", jsonFormat, formatKeyJSON:
		return true
	}
	if !placeholderPattern.MatchString(format) {
		return true
	}
	tmpl, err := parseTemplate(format)
	if err != nil {
		return true // the error is reported when the template is used
	}
	clientOnly := struct {
		ClientInfo   *clientInfo `json:",omitempty"`
		ClientErrors []string    `json:",omitempty"`
	}{info.ClientInfo, info.ClientErrors}
	return tmpl.Execute(io.Discard, clientOnly) != nil
}

func formatInfo(out io.Writer, info shoalInfo, format string) error {
	if format == formatKeyJSON {
		format = jsonFormat
	}
	tmpl, err := parseTemplate(format)
	if err != nil {
		return statusError{code: 64, msg: err.Error()}
	}
	err = tmpl.Execute(out, info)
	fmt.Fprintln(out)
	if err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	return nil
}

func printInfo(g *Globals, info shoalInfo) error {
	out := g.Out
	fmt.Fprintln(out, "Client:")
	if ci := info.ClientInfo; ci != nil {
		printNonEmpty(out, " Version:   ", ci.Version)
		fmt.Fprintln(out, " Debug Mode:", ci.Debug)
		if len(ci.Warnings) > 0 {
			fmt.Fprintln(g.Err, strings.Join(ci.Warnings, "\n"))
		}
	}
	for _, err := range info.ClientErrors {
		fmt.Fprintln(g.Err, "ERROR:", err)
	}

	fmt.Fprintln(out)
	fmt.Fprintln(out, "Server:")
	if info.Info != nil {
		printServerInfo(out, info.Info)
		for _, w := range info.Warnings {
			fmt.Fprintln(g.Err, w)
		}
	}
	for _, err := range info.ServerErrors {
		fmt.Fprintln(g.Err, "ERROR:", err)
	}
	if len(info.ServerErrors) > 0 || len(info.ClientErrors) > 0 {
		return errors.New("errors pretty printing info")
	}
	return nil
}

// printServerInfo prints the daemon's part in docker's layout and order, leaving out
// what the daemon did not fill in.
func printServerInfo(out io.Writer, info *system.Info) {
	fmt.Fprintln(out, " Containers:", info.Containers)
	fmt.Fprintln(out, "  Running:", info.ContainersRunning)
	fmt.Fprintln(out, "  Paused:", info.ContainersPaused)
	fmt.Fprintln(out, "  Stopped:", info.ContainersStopped)
	fmt.Fprintln(out, " Images:", info.Images)
	printNonEmpty(out, " Server Version:", info.ServerVersion)
	printNonEmpty(out, " Storage Driver:", info.Driver)
	for _, pair := range info.DriverStatus {
		fmt.Fprintf(out, "  %s: %s\n", pair[0], pair[1])
	}
	for _, pair := range info.SystemStatus {
		fmt.Fprintf(out, " %s: %s\n", pair[0], pair[1])
	}
	printNonEmpty(out, " Logging Driver:", info.LoggingDriver)
	printNonEmpty(out, " Cgroup Driver:", info.CgroupDriver)
	printNonEmpty(out, " Cgroup Version:", info.CgroupVersion)

	if p := info.Plugins; len(p.Volume)+len(p.Network)+len(p.Authorization)+len(p.Log) > 0 {
		fmt.Fprintln(out, " Plugins:")
		printNonEmpty(out, "  Volume:", strings.Join(p.Volume, " "))
		printNonEmpty(out, "  Network:", strings.Join(p.Network, " "))
		printNonEmpty(out, "  Authorization:", strings.Join(p.Authorization, " "))
		printNonEmpty(out, "  Log:", strings.Join(p.Log, " "))
	}
	if len(info.CDISpecDirs) > 0 {
		fmt.Fprintln(out, " CDI spec directories:")
		for _, dir := range info.CDISpecDirs {
			fmt.Fprintf(out, "  %s\n", dir)
		}
	}
	if len(info.DiscoveredDevices) > 0 {
		fmt.Fprintln(out, " Discovered Devices:")
		for _, d := range info.DiscoveredDevices {
			fmt.Fprintf(out, "  %s: %s\n", d.Source, d.ID)
		}
	}

	state := info.Swarm.LocalNodeState
	if state == "" {
		state = swarm.LocalNodeStateInactive
	}
	fmt.Fprintln(out, " Swarm:", state)
	printSwarmInfo(out, info.Swarm)

	if len(info.Runtimes) > 0 {
		names := make([]string, 0, len(info.Runtimes))
		for name := range info.Runtimes {
			names = append(names, name)
		}
		sort.Strings(names)
		fmt.Fprintln(out, " Runtimes:", strings.Join(names, " "))
		printNonEmpty(out, " Default Runtime:", info.DefaultRuntime)
	}
	printNonEmpty(out, " Init Binary:", info.InitBinary)
	printNonEmpty(out, " containerd version:", info.ContainerdCommit.ID)
	printNonEmpty(out, " runc version:", info.RuncCommit.ID)
	printNonEmpty(out, " init version:", info.InitCommit.ID)
	printSecurityOptions(out, info.SecurityOptions)

	printNonEmpty(out, " Kernel Version:", info.KernelVersion)
	printNonEmpty(out, " Operating System:", info.OperatingSystem)
	printNonEmpty(out, " OSType:", info.OSType)
	printNonEmpty(out, " Architecture:", info.Architecture)
	fmt.Fprintln(out, " CPUs:", info.NCPU)
	fmt.Fprintln(out, " Total Memory:", bytesSize(info.MemTotal))
	printNonEmpty(out, " Name:", info.Name)
	printNonEmpty(out, " ID:", info.ID)
	printNonEmpty(out, " Docker Root Dir:", info.DockerRootDir)
	fmt.Fprintln(out, " Debug Mode:", info.Debug)
	if info.Debug {
		fmt.Fprintln(out, "  File Descriptors:", info.NFd)
		fmt.Fprintln(out, "  Goroutines:", info.NGoroutines)
		fmt.Fprintln(out, "  System Time:", info.SystemTime)
		fmt.Fprintln(out, "  EventsListeners:", info.NEventsListener)
	}
	printNonEmpty(out, " HTTP Proxy:", info.HTTPProxy)
	printNonEmpty(out, " HTTPS Proxy:", info.HTTPSProxy)
	printNonEmpty(out, " No Proxy:", info.NoProxy)
	if len(info.Labels) > 0 {
		fmt.Fprintln(out, " Labels:")
		for _, l := range info.Labels {
			fmt.Fprintln(out, "  "+l)
		}
	}
	if info.ExperimentalBuild {
		fmt.Fprintln(out, " Experimental:", info.ExperimentalBuild)
	}
	if info.LiveRestoreEnabled {
		fmt.Fprintln(out, " Live Restore Enabled:", info.LiveRestoreEnabled)
	}
	printNonEmpty(out, " Product License:", info.ProductLicense)
	if len(info.DefaultAddressPools) > 0 {
		fmt.Fprintln(out, " Default Address Pools:")
		for _, pool := range info.DefaultAddressPools {
			fmt.Fprintf(out, "   Base: %s, Size: %d\n", pool.Base, pool.Size)
		}
	}
	if fw := info.FirewallBackend; fw != nil {
		fmt.Fprintln(out, " Firewall Backend:", fw.Driver)
		for _, v := range fw.Info {
			fmt.Fprintf(out, "  %s: %s\n", v[0], v[1])
		}
	}
	fmt.Fprintln(out)
}

// printSwarmInfo prints the swarm part of info, as docker does: cluster settings only on
// a manager that can answer for the cluster.
func printSwarmInfo(out io.Writer, s swarm.Info) {
	if s.LocalNodeState == "" || s.LocalNodeState == swarm.LocalNodeStateInactive || s.LocalNodeState == swarm.LocalNodeStateLocked {
		return
	}
	fmt.Fprintln(out, "  NodeID:", s.NodeID)
	if s.Error != "" {
		fmt.Fprintln(out, "  Error:", s.Error)
	}
	fmt.Fprintln(out, "  Is Manager:", s.ControlAvailable)
	if cl := s.Cluster; cl != nil && s.ControlAvailable && s.Error == "" && s.LocalNodeState != swarm.LocalNodeStateError {
		printClusterInfo(out, s, cl)
	}
	fmt.Fprintln(out, "  Node Address:", s.NodeAddr)
	if len(s.RemoteManagers) > 0 {
		addrs := make([]string, 0, len(s.RemoteManagers))
		for _, m := range s.RemoteManagers {
			addrs = append(addrs, m.Addr)
		}
		sort.Strings(addrs)
		fmt.Fprintln(out, "  Manager Addresses:")
		for _, a := range addrs {
			fmt.Fprintf(out, "   %s\n", a)
		}
	}
}

func printClusterInfo(out io.Writer, s swarm.Info, cl *swarm.ClusterInfo) {
	fmt.Fprintln(out, "  ClusterID:", cl.ID)
	fmt.Fprintln(out, "  Managers:", s.Managers)
	fmt.Fprintln(out, "  Nodes:", s.Nodes)
	if cl.DefaultAddrPool != nil {
		var pools strings.Builder
		for _, p := range cl.DefaultAddrPool {
			pools.WriteString(p.String() + "  ")
		}
		fmt.Fprintln(out, "  Default Address Pool:", pools.String())
		fmt.Fprintln(out, "  SubnetSize:", cl.SubnetSize)
	}
	if cl.DataPathPort > 0 {
		fmt.Fprintln(out, "  Data Path Port:", cl.DataPathPort)
	}
	spec := cl.Spec
	fmt.Fprintln(out, "  Orchestration:")
	var historyLimit int64
	if spec.Orchestration.TaskHistoryRetentionLimit != nil {
		historyLimit = *spec.Orchestration.TaskHistoryRetentionLimit
	}
	fmt.Fprintln(out, "   Task History Retention Limit:", historyLimit)
	fmt.Fprintln(out, "  Raft:")
	fmt.Fprintln(out, "   Snapshot Interval:", spec.Raft.SnapshotInterval)
	if spec.Raft.KeepOldSnapshots != nil {
		fmt.Fprintf(out, "   Number of Old Snapshots to Retain: %d\n", *spec.Raft.KeepOldSnapshots)
	}
	fmt.Fprintln(out, "   Heartbeat Tick:", spec.Raft.HeartbeatTick)
	fmt.Fprintln(out, "   Election Tick:", spec.Raft.ElectionTick)
	fmt.Fprintln(out, "  Dispatcher:")
	fmt.Fprintln(out, "   Heartbeat Period:", humanDuration(spec.Dispatcher.HeartbeatPeriod))
	fmt.Fprintln(out, "  CA Configuration:")
	fmt.Fprintln(out, "   Expiry Duration:", humanDuration(spec.CAConfig.NodeCertExpiry))
	fmt.Fprintln(out, "   Force Rotate:", spec.CAConfig.ForceRotate)
	if caCert := strings.TrimSpace(spec.CAConfig.SigningCACert); caCert != "" {
		fmt.Fprintf(out, "   Signing CA Certificate: \n%s\n\n", caCert)
	}
	if len(spec.CAConfig.ExternalCAs) > 0 {
		fmt.Fprintln(out, "   External CAs:")
		for _, ca := range spec.CAConfig.ExternalCAs {
			fmt.Fprintf(out, "     %s: %s\n", ca.Protocol, ca.URL)
		}
	}
	fmt.Fprintln(out, "  Autolock Managers:", spec.EncryptionConfig.AutoLockManagers)
	fmt.Fprintln(out, "  Root Rotation In Progress:", cl.RootRotationInProgress)
}

// printSecurityOptions prints the daemon's security options ("name=seccomp,profile=default",
// or a bare legacy name such as "apparmor").
func printSecurityOptions(out io.Writer, opts []string) {
	if len(opts) == 0 {
		return
	}
	fmt.Fprintln(out, " Security Options:")
	for _, opt := range opts {
		if !strings.Contains(opt, "=") {
			fmt.Fprintln(out, "  "+opt)
			continue
		}
		var name, profile string
		for _, field := range strings.Split(opt, ",") {
			k, v, _ := strings.Cut(field, "=")
			switch k {
			case "name":
				name = v
			case "profile":
				profile = v
			}
		}
		fmt.Fprintln(out, "  "+name)
		if profile != "" {
			fmt.Fprintln(out, "   Profile:", profile)
		}
	}
}

func printNonEmpty(out io.Writer, label, value string) {
	if value != "" {
		fmt.Fprintln(out, label, value)
	}
}
