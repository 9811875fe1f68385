package exec

import (
	"slices"
	"testing"
)

func TestExecEnv(t *testing.T) {
	container := []string{"HOSTNAME=h", "PATH=/bin", "A=1"}
	tests := []struct {
		extra, want []string
	}{
		{nil, container},
		{[]string{"A=2"}, []string{"HOSTNAME=h", "PATH=/bin", "A=2"}},
		{[]string{"B=3", "A=2"}, []string{"HOSTNAME=h", "PATH=/bin", "A=2", "B=3"}},
		{[]string{"PATH"}, []string{"HOSTNAME=h", "A=1"}},
		{[]string{"NOPE"}, container},
		{[]string{"=x"}, container},
	}
	for _, tt := range tests {
		if got := ExecEnv(container, tt.extra); !slices.Equal(got, tt.want) {
			t.Errorf("ExecEnv(%q) = %q, want %q", tt.extra, got, tt.want)
		}
	}
	if container[2] != "A=1" {
		t.Error("ExecEnv changed the container's environment")
	}
}

func TestExecStartExitCode(t *testing.T) {
	for reason, want := range map[string]int{
		`exec: "nosuch": executable file not found in $PATH`: 127,
		"exec: /no/such: no such file or directory":          127,
		"exec: /etc: permission denied":                      126,
		"unable to find user x: no matching entries":         126,
	} {
		if got := ExecStartExitCode(reason); got != want {
			t.Errorf("ExecStartExitCode(%q) = %d, want %d", reason, got, want)
		}
	}
	err := error(&ExecStartError{Reason: "r"})
	if err.Error() != "r" {
		t.Errorf("error text %q", err)
	}
	nr := error(&NotRunningError{ID: "c1"})
	if nr.Error() != "container c1 is not running" {
		t.Errorf("error text %q", nr)
	}
}
