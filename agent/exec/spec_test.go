package exec

import (
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
)

func TestArgs(t *testing.T) {
	img := ImageConfig{Entrypoint: []string{"/entry"}, Cmd: []string{"image-cmd"}}
	tests := []struct {
		name    string
		spec    swarm.ContainerSpec
		img     ImageConfig
		want    []string
		wantErr bool
	}{
		{"image defaults", swarm.ContainerSpec{}, img, []string{"/entry", "image-cmd"}, false},
		{"args replace cmd", swarm.ContainerSpec{Args: []string{"a", "b"}}, img, []string{"/entry", "a", "b"}, false},
		{"command replaces entrypoint and drops cmd", swarm.ContainerSpec{Command: []string{"/bin/sh"}}, img, []string{"/bin/sh"}, false},
		{"command and args", swarm.ContainerSpec{Command: []string{"/bin/sh", "-c"}, Args: []string{"echo hi"}}, img, []string{"/bin/sh", "-c", "echo hi"}, false},
		{"cmd only image", swarm.ContainerSpec{}, ImageConfig{Cmd: []string{"/bin/app"}}, []string{"/bin/app"}, false},
		{"args without entrypoint", swarm.ContainerSpec{Args: []string{"/bin/echo", "x"}}, ImageConfig{Cmd: []string{"/bin/app"}}, []string{"/bin/echo", "x"}, false},
		{"nothing at all", swarm.ContainerSpec{}, ImageConfig{}, nil, true},
	}
	for _, tc := range tests {
		got, err := Args(&tc.spec, tc.img)
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("%s: Args = %q, %v; want %q (error %v)", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestEnv(t *testing.T) {
	tests := []struct {
		name      string
		img, spec []string
		want      []string
	}{
		{"defaults", nil, nil, []string{"HOSTNAME=h", "PATH=" + DefaultPath}},
		{"image path kept", []string{"PATH=/x", "A=1"}, nil, []string{"HOSTNAME=h", "PATH=/x", "A=1"}},
		{"spec overrides in place", []string{"A=1", "B=2"}, []string{"A=3", "C=4"}, []string{"HOSTNAME=h", "A=3", "B=2", "C=4", "PATH=" + DefaultPath}},
		{"spec removes", []string{"A=1", "B=2"}, []string{"A"}, []string{"HOSTNAME=h", "B=2", "PATH=" + DefaultPath}},
		{"hostname overridable", nil, []string{"HOSTNAME=x"}, []string{"HOSTNAME=x", "PATH=" + DefaultPath}},
		{"empty value kept", nil, []string{"E="}, []string{"HOSTNAME=h", "E=", "PATH=" + DefaultPath}},
	}
	for _, tc := range tests {
		if got := Env(tc.img, tc.spec, "h"); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Env = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestWorkingDirAndStop(t *testing.T) {
	if d, _ := WorkingDir(&swarm.ContainerSpec{}, ImageConfig{WorkingDir: "/app"}); d != "/app" {
		t.Errorf("image workdir: %q", d)
	}
	if d, _ := WorkingDir(&swarm.ContainerSpec{Dir: "/srv"}, ImageConfig{WorkingDir: "/app"}); d != "/srv" {
		t.Errorf("spec workdir: %q", d)
	}
	if d, _ := WorkingDir(&swarm.ContainerSpec{}, ImageConfig{}); d != "/" {
		t.Errorf("default workdir: %q", d)
	}
	if _, err := WorkingDir(&swarm.ContainerSpec{Dir: "rel"}, ImageConfig{}); err == nil {
		t.Error("relative workdir accepted")
	}
	for in, want := range map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "int": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "9": syscall.SIGKILL} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"SIGNOPE", "0", "99", ""} {
		if _, err := ParseSignal(bad); err == nil {
			t.Errorf("ParseSignal(%q) accepted", bad)
		}
	}
	if s, _ := StopSignal(&swarm.ContainerSpec{}, ImageConfig{StopSignal: "SIGQUIT"}); s != syscall.SIGQUIT {
		t.Errorf("image stop signal: %v", s)
	}
	if g := StopGracePeriod(&swarm.ContainerSpec{}); g != DefaultStopGracePeriod {
		t.Errorf("default grace: %v", g)
	}
}

func TestHealthcheckMerge(t *testing.T) {
	img := ImageConfig{Healthcheck: &container.HealthConfig{Test: []string{"CMD", "/check"}, Interval: time.Minute, Retries: 5}}
	hc, err := Healthcheck(&swarm.ContainerSpec{Healthcheck: &container.HealthConfig{Interval: time.Second}}, img)
	if err != nil || !slices.Equal(hc.Test, []string{"CMD", "/check"}) || hc.Interval != time.Second || hc.Retries != 5 || hc.Timeout != DefaultHealthTimeout {
		t.Errorf("merge: %+v, %v", hc, err)
	}
	if hc, _ := Healthcheck(&swarm.ContainerSpec{Healthcheck: &container.HealthConfig{Test: []string{"NONE"}}}, img); hc != nil {
		t.Errorf("NONE did not disable: %+v", hc)
	}
	if hc, _ := Healthcheck(&swarm.ContainerSpec{}, ImageConfig{}); hc != nil {
		t.Errorf("no check gave %+v", hc)
	}
	if _, err := Healthcheck(&swarm.ContainerSpec{Healthcheck: &container.HealthConfig{Test: []string{"true"}}}, img); err == nil {
		t.Error("bad test form accepted")
	}
	if got := HealthArgs(&container.HealthConfig{Test: []string{"CMD-SHELL", "test -f /ok"}}); !slices.Equal(got, []string{"/bin/sh", "-c", "test -f /ok"}) {
		t.Errorf("HealthArgs: %q", got)
	}
}

func TestNextHealth(t *testing.T) {
	start := time.Unix(1000, 0)
	hc := &container.HealthConfig{Retries: 2, StartPeriod: 10 * time.Second, Interval: time.Second, StartInterval: 100 * time.Millisecond}
	probe := func(h container.Health, at time.Duration, code int) container.Health {
		return NextHealth(h, hc, start, container.HealthcheckResult{Start: start.Add(at), ExitCode: code})
	}
	h := NewHealth(hc)
	if h.Status != container.Starting {
		t.Fatalf("new health %q", h.Status)
	}
	// Failures in the start period do not count.
	for i := range 5 {
		h = probe(h, time.Duration(i)*time.Second, 1)
	}
	if h.Status != container.Starting || h.FailingStreak != 0 {
		t.Fatalf("failures in start period counted: %+v", h)
	}
	if len(h.Log) != 5 {
		t.Errorf("log keeps %d results, want 5", len(h.Log))
	}
	if d := NextProbe(h, hc, start, start.Add(time.Second)); d != hc.StartInterval {
		t.Errorf("probe interval in start period %v", d)
	}
	// After it, they do.
	h = probe(h, 11*time.Second, 1)
	if h.Status != container.Starting || h.FailingStreak != 1 {
		t.Fatalf("after start period: %+v", h)
	}
	h = probe(h, 12*time.Second, 0)
	if h.Status != container.Healthy || h.FailingStreak != 0 {
		t.Fatalf("success: %+v", h)
	}
	// Once healthy, the start period no longer shields failures.
	hc.StartPeriod = time.Hour
	h = probe(h, 13*time.Second, 1)
	if h.Status != container.Healthy || h.FailingStreak != 1 {
		t.Fatalf("first failure when healthy: %+v", h)
	}
	h = probe(h, 14*time.Second, 1)
	if h.Status != container.Unhealthy {
		t.Fatalf("retries failures did not make it unhealthy: %+v", h)
	}
	if d := NextProbe(h, hc, start, start.Add(time.Second)); d != hc.Interval {
		t.Errorf("probe interval when unhealthy %v", d)
	}
	h = probe(h, 15*time.Second, 0)
	if h.Status != container.Healthy {
		t.Fatalf("recovery: %+v", h)
	}
}
