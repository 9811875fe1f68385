package cli

import (
	"strings"
	"testing"
)

// Bad values are refused before anything is sent to the daemon.
func TestFlagValidationWritesNothing(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"node update availability", []string{"node", "update", "--availability", "sleepy", "worker-1"},
			`invalid availability "sleepy": must be active, pause or drain`},
		{"node update role", []string{"node", "update", "--role", "boss", "worker-1"},
			`invalid role "boss": must be worker or manager`},
		{"node update empty label key", []string{"node", "update", "--label-add", "=v", "worker-1"},
			`invalid --label-add "=v": want key=value with a non-empty key`},
		{"swarm init availability", []string{"swarm", "init", "--availability", "x"},
			`invalid availability "x": must be active, pause or drain`},
		{"swarm join availability", []string{"swarm", "join", "--token", "t", "--availability", "x", "10.0.0.1:2377"},
			`invalid availability "x": must be active, pause or drain`},
		{"swarm join without token", []string{"swarm", "join", "10.0.0.1:2377"}, "--token is required"},
		{"swarm init negative cert expiry", []string{"swarm", "init", "--cert-expiry", "-1h"},
			"invalid --cert-expiry -1h0m0s: must not be negative"},
		{"swarm init negative heartbeat", []string{"swarm", "init", "--dispatcher-heartbeat", "-5s"},
			"invalid --dispatcher-heartbeat -5s: must not be negative"},
		{"swarm update negative cert expiry", []string{"swarm", "update", "--cert-expiry", "-24h"},
			"invalid --cert-expiry -24h0m0s: must not be negative"},
		{"swarm update negative heartbeat", []string{"swarm", "update", "--dispatcher-heartbeat", "-1ms"},
			"invalid --dispatcher-heartbeat -1ms: must not be negative"},
		{"swarm ca negative cert expiry", []string{"swarm", "ca", "--rotate", "-d", "--cert-expiry", "-1s"},
			"invalid --cert-expiry -1s: must not be negative"},
		{"duration without unit", []string{"swarm", "update", "--cert-expiry", "90"},
			`invalid argument "90" for "--cert-expiry" flag: time: missing unit in duration "90"`},
		{"data path port out of range", []string{"swarm", "init", "--data-path-port", "80"},
			"invalid --data-path-port 80: must be 0 (the default, 4789) or between 1024 and 49151"},
		{"bad listen address", []string{"swarm", "init", "--listen-addr", "udp://1.2.3.4"},
			`invalid argument "udp://1.2.3.4" for "--listen-addr" flag: invalid proto, expected tcp: udp://1.2.3.4`},
		{"join-token role", []string{"swarm", "join-token", "boss"}, `unknown role "boss": must be worker or manager`},
		{"join-token rotate role", []string{"swarm", "join-token", "--rotate", "boss"}, `unknown role "boss": must be worker or manager`},
		{"bad filter", []string{"node", "ls", "-f", "role"}, "bad format of filter (expected name=value)"},
		{"unknown flag", []string{"node", "ls", "--bogus"}, "unknown flag: --bogus\nSee 'shoal node ls --help'."},
		{"unknown shorthand", []string{"swarm", "leave", "-x"}, "unknown shorthand flag: 'x' in -x"},
		{"too many arguments", []string{"node", "update", "--availability", "drain", "a", "b"},
			"\"shoal node update\" requires exactly 1 argument.\nSee 'shoal node update --help'.\n\nUsage:  shoal node update [OPTIONS] NODE\n\nUpdate a node"},
		{"missing argument", []string{"node", "promote"}, `"shoal node promote" requires at least 1 argument.`},
		{"unexpected argument", []string{"swarm", "leave", "now"}, `"shoal swarm leave" accepts no arguments.`},
		{"unknown subcommand", []string{"swarm", "frobnicate"}, `unknown command "frobnicate" for "shoal swarm"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newClusterDaemon(t)
			_, _, err := runShoal(t, d, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v\nwant it to contain %q", err, tt.wantErr)
			}
			if w := d.writes(); len(w) != 0 {
				t.Errorf("requests that write: %v, want none", w)
			}
		})
	}
}
