package daemon

import (
	"context"
	"os"
	"runtime"
	"strings"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"golang.org/x/sys/unix"

	"github.com/shoal/shoal/clusterapi"
	"github.com/shoal/shoal/internal/version"
)

// APIVersion is the Docker Engine API version Shoal speaks; MinAPIVersion the oldest it accepts.
const (
	APIVersion    = "1.56"
	MinAPIVersion = "1.24"
)

// describe is what this node tells the swarm about itself.
func (d *Daemon) describe() swarm.NodeDescription {
	return swarm.NodeDescription{
		Hostname:  d.cfg.Hostname,
		Platform:  swarm.Platform{OS: runtime.GOOS, Architecture: dockerArch()},
		Resources: swarm.Resources{NanoCPUs: int64(runtime.NumCPU()) * 1e9, MemoryBytes: memTotal()},
		Engine:    swarm.EngineDescription{EngineVersion: d.cfg.Version, Labels: d.engineLabels()},
	}
}

// engineLabels publishes where this node serves the node API.
func (d *Daemon) engineLabels() map[string]string {
	addr, _ := d.nodeAddr.Load().(string)
	if addr == "" {
		return nil
	}
	return map[string]string{clusterapi.NodeAPIAddrLabel: addr}
}

// dockerArch names the architecture as `uname -m` does, like Docker.
func dockerArch() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		return unix.ByteSliceToString(u.Machine[:])
	}
	return runtime.GOARCH
}

func kernelVersion() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		return unix.ByteSliceToString(u.Release[:])
	}
	return ""
}

func memTotal() int64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err == nil {
		return int64(si.Totalram) * int64(si.Unit)
	}
	return 0
}

func operatingSystem() string {
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

// Info is `GET /info`: the machine and the node's view of its swarm.
func (d *Daemon) Info(ctx context.Context) (system.Info, error) {
	info := system.Info{
		ID:                 d.cfg.Hostname,
		Name:               d.cfg.Hostname,
		ServerVersion:      d.cfg.Version,
		OperatingSystem:    operatingSystem(),
		OSType:             runtime.GOOS,
		Architecture:       dockerArch(),
		KernelVersion:      kernelVersion(),
		NCPU:               runtime.NumCPU(),
		MemTotal:           memTotal(),
		DockerRootDir:      d.cfg.DataRoot,
		Debug:              d.cfg.Debug,
		Driver:             "overlayfs",
		LoggingDriver:      "json-file",
		CgroupDriver:       "cgroupfs",
		CgroupVersion:      "2",
		DefaultRuntime:     "runc",
		IndexServerAddress: "",
	}
	info.Swarm = d.swarmInfo()
	return info, nil
}

func (d *Daemon) swarmInfo() swarm.Info {
	d.mu.Lock()
	defer d.mu.Unlock()
	si := swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive}
	if d.state == nil {
		return si
	}
	st := d.state
	si.NodeID = st.NodeID
	si.NodeAddr = hostOf(st.AdvertiseAddr)
	si.LocalNodeState = swarm.LocalNodeStateActive
	si.RemoteManagers = append([]swarm.Peer(nil), st.Managers...)
	if d.swarmErr != "" {
		si.LocalNodeState = swarm.LocalNodeStateError
		si.Error = d.swarmErr
	}
	if d.mgr == nil {
		return si
	}
	si.ControlAvailable = true
	nodes := d.mgr.Store().Nodes()
	si.Nodes = len(nodes)
	for _, n := range nodes {
		if n.Spec.Role == swarm.NodeRoleManager {
			si.Managers++
		}
	}
	si.RemoteManagers = sortedPeers(nodes)
	if c, err := d.mgr.Store().Cluster(); err == nil {
		ci := c.ClusterInfo
		si.Cluster = &ci
	}
	return si
}

// Version is `GET /version`.
func (d *Daemon) Version(ctx context.Context) (system.VersionResponse, error) {
	commit, built := version.Build()
	return system.VersionResponse{
		GitCommit:     commit,
		BuildTime:     built,
		Platform:      struct{ Name string }{Name: "Shoal"},
		Version:       d.cfg.Version,
		APIVersion:    APIVersion,
		MinAPIVersion: MinAPIVersion,
		GoVersion:     runtime.Version(),
		Os:            runtime.GOOS,
		Arch:          runtime.GOARCH,
		KernelVersion: kernelVersion(),
		Components: []system.ComponentVersion{
			{Name: "Engine", Version: d.cfg.Version, Details: map[string]string{
				"ApiVersion": APIVersion, "MinAPIVersion": MinAPIVersion, "Os": runtime.GOOS, "Arch": runtime.GOARCH,
				"GoVersion": runtime.Version(), "GitCommit": commit, "BuildTime": built, "KernelVersion": kernelVersion(), "Experimental": "false",
			}},
		},
	}, nil
}
