package runc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	shoalexec "github.com/shoal/shoal/agent/exec"
)

// checkExecConfig refuses what no container could run.
func checkExecConfig(cfg shoalexec.ExecConfig) error {
	if len(cfg.Cmd) == 0 || cfg.Cmd[0] == "" {
		return errors.New("no command to exec: give the command and its arguments")
	}
	if cfg.WorkingDir != "" && !path.IsAbs(cfg.WorkingDir) {
		return fmt.Errorf("invalid working directory %q: must be an absolute path in the container", cfg.WorkingDir)
	}
	return nil
}

// containerProcess reads the process a container was started with from its OCI config.
func containerProcess(dir string) (specs.Process, error) {
	b, err := os.ReadFile(filepath.Join(dir, configFile))
	if err != nil {
		return specs.Process{}, err
	}
	var cfg struct{ Process *specs.Process }
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.Process == nil {
		return specs.Process{}, fmt.Errorf("read the container's process from %s: %v", filepath.Join(dir, configFile), err)
	}
	return *cfg.Process, nil
}

// execProcess is the OCI process of an exec, made as docker makes it: the container's own
// process (capabilities, limits, no-new-privileges and the rest, as it was started) with the
// exec's command line, environment (the container's with cfg.Env over it, and TERM=xterm on a
// terminal unless the container sets TERM), working directory and terminal. user, when not
// nil, replaces the container's user; its HOME follows it unless cfg.Env sets one.
// Capabilities follow the user as for a container's own process: one other than root keeps
// only the bounding set.
func execProcess(base specs.Process, cfg shoalexec.ExecConfig, user *execUser) specs.Process {
	p := base
	p.Args = slices.Clone(cfg.Cmd)
	env := slices.Clone(base.Env)
	if cfg.Tty && !hasEnv(env, "TERM") {
		env = append(env, "TERM=xterm")
	}
	if user != nil && !hasEnv(cfg.Env, "HOME") {
		env = shoalexec.ExecEnv(env, []string{"HOME=" + user.Home})
	}
	p.Env = shoalexec.ExecEnv(env, cfg.Env)
	if cfg.WorkingDir != "" {
		p.Cwd = cfg.WorkingDir
	}
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	p.Terminal = cfg.Tty
	p.ConsoleSize = nil
	if cfg.Tty && cfg.ConsoleSize != nil {
		p.ConsoleSize = &specs.Box{Height: uint(cfg.ConsoleSize.Height), Width: uint(cfg.ConsoleSize.Width)}
	}
	if user != nil {
		p.User = specs.User{UID: user.UID, GID: user.GID, AdditionalGids: user.Groups}
		if p.Capabilities != nil {
			caps := *p.Capabilities
			caps.Effective, caps.Permitted = caps.Bounding, caps.Bounding
			if user.UID != 0 {
				caps.Effective, caps.Permitted = nil, nil
			}
			caps.Inheritable, caps.Ambient = nil, nil
			p.Capabilities = &caps
		}
	}
	return p
}
