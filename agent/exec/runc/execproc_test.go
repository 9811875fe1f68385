package runc

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	shoalexec "github.com/shoal/shoal/agent/exec"
)

func TestExecProcess(t *testing.T) {
	caps := []string{"CAP_CHOWN", "CAP_KILL"}
	base := specs.Process{
		Args: []string{"/bin/sh", "-c", "sleep 600"},
		Env:  []string{"PATH=/bin", "HOME=/root", "A=1"},
		Cwd:  "/srv",
		User: specs.User{UID: 0, GID: 0},
		Capabilities: &specs.LinuxCapabilities{
			Bounding: caps, Effective: caps, Permitted: caps,
		},
		NoNewPrivileges: true,
	}
	app := &execUser{UID: 1000, GID: 1000, Groups: []uint32{2000}, Home: "/home/app"}

	tests := []struct {
		name  string
		cfg   shoalexec.ExecConfig
		user  *execUser
		check func(t *testing.T, p specs.Process)
	}{
		{"defaults are the container's", shoalexec.ExecConfig{Cmd: []string{"ls"}}, nil, func(t *testing.T, p specs.Process) {
			if !slices.Equal(p.Args, []string{"ls"}) || p.Cwd != "/srv" || p.User.UID != 0 || !slices.Equal(p.Env, base.Env) || p.Terminal || !p.NoNewPrivileges {
				t.Errorf("process %+v", p)
			}
			if !slices.Equal(p.Capabilities.Effective, caps) {
				t.Errorf("capabilities %+v, want the container's", p.Capabilities)
			}
		}},
		{"env and dir over the container's", shoalexec.ExecConfig{Cmd: []string{"ls"}, Env: []string{"A=2", "B=3", "PATH"}, WorkingDir: "/tmp"}, nil, func(t *testing.T, p specs.Process) {
			if want := []string{"HOME=/root", "A=2", "B=3"}; !slices.Equal(p.Env, want) || p.Cwd != "/tmp" {
				t.Errorf("env %q cwd %q; want %q and /tmp", p.Env, p.Cwd, want)
			}
		}},
		{"terminal", shoalexec.ExecConfig{Cmd: []string{"sh"}, Tty: true, ConsoleSize: &shoalexec.TermSize{Height: 24, Width: 80}}, nil, func(t *testing.T, p specs.Process) {
			if !p.Terminal || p.ConsoleSize == nil || *p.ConsoleSize != (specs.Box{Height: 24, Width: 80}) || !slices.Contains(p.Env, "TERM=xterm") {
				t.Errorf("terminal %v size %+v env %q", p.Terminal, p.ConsoleSize, p.Env)
			}
		}},
		{"terminal keeps the container's TERM", shoalexec.ExecConfig{Cmd: []string{"sh"}, Tty: true, Env: []string{"TERM=vt100"}}, nil, func(t *testing.T, p specs.Process) {
			if slices.Contains(p.Env, "TERM=xterm") || !slices.Contains(p.Env, "TERM=vt100") {
				t.Errorf("env %q", p.Env)
			}
		}},
		{"another user", shoalexec.ExecConfig{Cmd: []string{"id"}}, app, func(t *testing.T, p specs.Process) {
			if p.User.UID != 1000 || p.User.GID != 1000 || !slices.Equal(p.User.AdditionalGids, []uint32{2000}) || !slices.Contains(p.Env, "HOME=/home/app") {
				t.Errorf("user %+v env %q", p.User, p.Env)
			}
			if len(p.Capabilities.Effective) != 0 || !slices.Equal(p.Capabilities.Bounding, caps) {
				t.Errorf("a user other than root keeps only the bounding set: %+v", p.Capabilities)
			}
		}},
		{"another user, HOME given", shoalexec.ExecConfig{Cmd: []string{"id"}, Env: []string{"HOME=/x"}}, app, func(t *testing.T, p specs.Process) {
			if !slices.Contains(p.Env, "HOME=/x") || slices.Contains(p.Env, "HOME=/home/app") {
				t.Errorf("env %q", p.Env)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := execProcess(base, tt.cfg, tt.user)
			tt.check(t, p)
			if !slices.Equal(base.Capabilities.Effective, caps) || base.Env[2] != "A=1" {
				t.Error("execProcess changed the container's process")
			}
		})
	}
}

func TestCheckExecConfig(t *testing.T) {
	for _, cfg := range []shoalexec.ExecConfig{{}, {Cmd: []string{""}}, {Cmd: []string{"ls"}, WorkingDir: "rel"}} {
		if err := checkExecConfig(cfg); err == nil {
			t.Errorf("checkExecConfig(%+v) accepted it", cfg)
		}
	}
	if err := checkExecConfig(shoalexec.ExecConfig{Cmd: []string{"ls"}, WorkingDir: "/x"}); err != nil {
		t.Error(err)
	}
}
