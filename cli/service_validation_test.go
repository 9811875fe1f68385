package cli

import (
	"strings"
	"testing"
)

// Bad values for the service, image and node ps commands are refused with a message
// naming the flag and what it takes, before anything is written.
func TestServiceValidationWritesNothing(t *testing.T) {
	create := func(args ...string) []string {
		return append(append([]string{"service", "create", "-d", "--no-resolve-image"}, args...), "sleepy:1")
	}
	update := func(args ...string) []string {
		return append(append([]string{"service", "update", "-d"}, args...), "web")
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"negative replicas", create("--replicas", "-1"),
			`invalid argument "-1" for "--replicas" flag: must be a whole number (0 or more)`},
		{"replicas not a number", create("--replicas", "three"),
			`invalid argument "three" for "--replicas" flag: must be a whole number (0 or more)`},
		{"update order", create("--update-order", "fast"),
			`invalid argument "fast" for "--update-order" flag: must be start-first or stop-first`},
		{"rollback order", create("--rollback-order", "sideways"),
			`invalid argument "sideways" for "--rollback-order" flag: must be start-first or stop-first`},
		{"update failure action", create("--update-failure-action", "explode"),
			`invalid argument "explode" for "--update-failure-action" flag: must be pause, continue or rollback`},
		{"rollback failure action", create("--rollback-failure-action", "rollback"),
			`invalid argument "rollback" for "--rollback-failure-action" flag: must be pause or continue`},
		{"restart condition", create("--restart-condition", "sometimes"),
			`invalid argument "sometimes" for "--restart-condition" flag: must be none, on-failure or any`},
		{"mode", create("--mode", "replicated-job"),
			`invalid argument "replicated-job" for "--mode" flag: must be replicated or global`},
		{"endpoint mode", create("--endpoint-mode", "rr"),
			`invalid argument "rr" for "--endpoint-mode" flag: must be vip or dnsrr`},
		{"constraint without operator", create("--constraint", "node.role=manager"),
			`invalid argument "node.role=manager" for "--constraint" flag: constraint expected one operator from ==, !=`},
		{"constraint with a bad key", create("--constraint", "node role==manager"),
			`invalid argument "node role==manager" for "--constraint" flag: key 'node role' is invalid`},
		{"constraint with a bad value", create("--constraint", "node.role==man@ger"),
			`invalid argument "node.role==man@ger" for "--constraint" flag: value 'man@ger' is invalid`},
		{"negative update delay", create("--update-delay", "-5s"),
			`invalid argument "-5s" for "--update-delay" flag: duration cannot be negative`},
		{"negative update monitor", create("--update-monitor", "-1ms"),
			`invalid argument "-1ms" for "--update-monitor" flag: duration cannot be negative`},
		{"negative restart delay", create("--restart-delay", "-1s"),
			`invalid argument "-1s" for "--restart-delay" flag: duration cannot be negative`},
		{"negative stop grace period", create("--stop-grace-period", "-10s"),
			`invalid argument "-10s" for "--stop-grace-period" flag: duration cannot be negative`},
		{"negative health interval", create("--health-interval", "-30s"),
			`invalid argument "-30s" for "--health-interval" flag: duration cannot be negative`},
		{"duration without unit", create("--restart-window", "5"),
			`invalid argument "5" for "--restart-window" flag: time: missing unit in duration "5"`},
		{"failure ratio above 1", create("--update-max-failure-ratio", "1.5"),
			`invalid argument "1.5" for "--update-max-failure-ratio" flag: must be a number between 0 and 1`},
		{"negative CPU limit", create("--limit-cpu", "-1"),
			`invalid argument "-1" for "--limit-cpu" flag: must not be negative`},
		{"CPU limit not a number", create("--limit-cpu", "lots"),
			`invalid argument "lots" for "--limit-cpu" flag: failed to parse lots as a rational number`},
		{"memory limit", create("--limit-memory", "12q"),
			`invalid argument "12q" for "--limit-memory" flag: invalid suffix: 'q'`},
		{"negative pids limit", create("--limit-pids", "-5"),
			`invalid argument "-5" for "--limit-pids" flag: must be a whole number (0 or more)`},
		{"negative health retries", create("--health-retries", "-1"),
			`invalid argument "-1" for "--health-retries" flag: must be a whole number (0 or more)`},
		{"negative replicas per node", create("--replicas-max-per-node", "-2"),
			`invalid argument "-2" for "--replicas-max-per-node" flag: must be a whole number (0 or more)`},
		{"placement preference strategy", create("--placement-pref", "binpack=node.labels.zone"),
			`invalid argument "binpack=node.labels.zone" for "--placement-pref" flag: unsupported placement preference binpack (only spread is supported)`},
		{"env without a name", create("-e", "=x"),
			`invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x`},
		{"label without a name", create("-l", "=x"),
			`invalid argument "=x" for "-l, --label" flag: invalid label '=x': empty name`},
		{"port zero", create("-p", "8080:0"),
			`invalid argument "8080:0" for "-p, --publish" flag: invalid target port (0): must be a number from 1 to 65535`},
		{"port too large", create("-p", "70000:80"),
			`invalid argument "70000:80" for "-p, --publish" flag: invalid published port (70000): must be a number from 1 to 65535`},
		{"port with host IP", create("-p", "127.0.0.1:80:80"),
			`invalid argument "127.0.0.1:80:80" for "-p, --publish" flag: hostip is not supported`},
		{"port protocol", create("-p", "80/icmp"),
			`invalid argument "80/icmp" for "-p, --publish" flag: invalid protocol value 'icmp': must be tcp, udp or sctp`},
		{"port without target", create("-p", "published=8080"),
			`invalid argument "published=8080" for "-p, --publish" flag: missing mandatory field 'target'`},
		{"port publish mode", create("-p", "mode=sideways,target=80"),
			`invalid argument "mode=sideways,target=80" for "-p, --publish" flag: invalid publish mode value (sideways): must be either 'ingress' or 'host'`},
		{"port ranges of different lengths", create("-p", "8080-8082:80-81"),
			`invalid argument "8080-8082:80-81" for "-p, --publish" flag: invalid ranges in "8080-8082:80-81": published and target ranges must be the same length`},
		{"replicas in global mode", create("--mode", "global", "--replicas", "2"),
			"--replicas can only be used with replicated mode"},
		{"per-node limit in global mode", create("--mode", "global", "--replicas-max-per-node", "1"),
			"--replicas-max-per-node can only be used with replicated mode"},
		{"no healthcheck with health flags", create("--no-healthcheck", "--health-cmd", "true"),
			"--no-healthcheck conflicts with --health-* options"},
		{"dnsrr with ingress ports", create("--endpoint-mode", "dnsrr", "-p", "80:80"),
			"port 80 is published in ingress mode, which --endpoint-mode dnsrr cannot use: publish it with mode=host"},
		{"missing env file", create("--env-file", "/nonexistent/env"),
			"open /nonexistent/env: no such file or directory"},
		{"create without image", []string{"service", "create"}, `"shoal service create" requires at least 1 argument.`},
		{"entrypoint quoting", create("--entrypoint", `/bin/sh -c "echo`),
			`invalid argument "/bin/sh -c \"echo" for "--entrypoint" flag: EOF found when expecting closing quote`},

		{"update order on update", update("--update-order", "fast"),
			`invalid argument "fast" for "--update-order" flag: must be start-first or stop-first`},
		{"update constraint", update("--constraint-add", "node.hostname"),
			`invalid argument "node.hostname" for "--constraint-add" flag: constraint expected one operator from ==, !=`},
		{"update negative replicas", update("--replicas", "-1"),
			`invalid argument "-1" for "--replicas" flag: must be a whole number (0 or more)`},
		{"rollback with other flags", update("--rollback", "--image", "sleepy:2"),
			"other flags may not be combined with --rollback"},
		{"update replicas of a global service", []string{"service", "update", "-d", "--replicas", "2", "api"},
			"--replicas can only be used with replicated mode"},
		{"update network twice", update("--network-add", "front", "--network-add", "front"),
			"service is already attached to network front"},
		{"update to dnsrr with ingress ports", update("--endpoint-mode", "dnsrr"),
			"port 8080 is published in ingress mode, which --endpoint-mode dnsrr cannot use: publish it with mode=host"},
		{"update unknown service", []string{"service", "update", "-d", "--force", "ghost"}, "service ghost not found"},
		{"update no healthcheck with health flags", update("--no-healthcheck", "--health-retries", "3"),
			"--no-healthcheck conflicts with --health-* options"},

		{"scale negative", []string{"service", "scale", "web=-1"},
			"web: invalid replicas value -1: must be a whole number (0 or more)"},
		{"scale checks every count first", []string{"service", "scale", "db=2", "web=many"},
			"web: invalid replicas value many: must be a whole number (0 or more)"},
		{"scale without count", []string{"service", "scale", "web"}, "invalid scale specifier 'web'."},
		{"scale global", []string{"service", "scale", "api=3"},
			"api: scale can only be used with replicated or replicated-job mode"},
		{"logs tail", []string{"service", "logs", "--tail", "ten", "web"},
			`invalid argument "ten" for "-n, --tail" flag: must be "all" or a whole number (0 or more)`},
		{"ps filter", []string{"service", "ps", "-f", "desired-state", "web"}, "bad format of filter (expected name=value)"},
		{"rollback takes one service", []string{"service", "rollback", "a", "b"}, `"shoal service rollback" requires exactly 1 argument.`},
		{"image import needs a source", []string{"image", "import"}, `"shoal image import" requires at least 1 argument.`},
		{"image rm needs an image", []string{"image", "rm"}, `"shoal image rm" requires at least 1 argument.`},
		{"image load takes no arguments", []string{"image", "load", "x.tar"}, `"shoal image load" accepts no arguments.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newServicesDaemon(t)
			_, _, err := runShoal(t, f.fakeDaemon, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v\nwant it to contain %q", err, tt.wantErr)
			}
			if w := f.writes(); len(w) != 0 {
				t.Errorf("requests that write: %v, want none", w)
			}
		})
	}
}

// Every service and image command has help that says what it does and how to call it,
// and mentions neither docker nor a placeholder.
func TestServiceAndImageCommandsHaveHelp(t *testing.T) {
	root := NewRootCommand(&Globals{})
	var paths [][]string
	for _, group := range []string{"service", "image"} {
		cmd, _, err := root.Find([]string{group})
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, []string{group})
		for _, sub := range cmd.Commands() {
			paths = append(paths, []string{group, sub.Name()})
		}
	}
	// service and its 9 commands, image and its 4.
	if len(paths) != 15 {
		t.Fatalf("found %d commands, want 15: %v", len(paths), paths)
	}
	for _, p := range paths {
		t.Run(strings.Join(p, "_"), func(t *testing.T) {
			d := newFakeDaemon(t)
			out, _, err := runShoal(t, d, append(p, "--help")...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "Usage:\n  shoal "+strings.Join(p, " ")) {
				t.Errorf("help lacks the usage line:\n%s", out)
			}
			if strings.Contains(out, "not implemented") || strings.Contains(out, "docker "+p[0]) {
				t.Errorf("help mentions a placeholder or docker:\n%s", out)
			}
			if len(d.all()) != 0 {
				t.Errorf("--help talked to the daemon: %v", d.all())
			}
		})
	}
}

func TestServiceCreateHelpShowsDefaults(t *testing.T) {
	d := newFakeDaemon(t)
	out := mustRun(t, d, "service", "create", "--help")
	for _, want := range []string{
		"--replicas uint ", "Number of tasks",
		"--mode string ", `Service mode ("replicated", "global") (default "replicated")`,
		"--update-parallelism uint ", "(0 to update all at once) (default 1)",
		"--update-order string ", `Update order ("start-first", "stop-first") (default "stop-first")`,
		"--update-failure-action string ", `(default "pause")`,
		"--update-monitor duration ", "(ns|us|ms|s|m|h) (default 5s)",
		"--restart-condition string ", `(default "any")`,
		"--restart-delay duration ", "(default 5s)",
		"--stop-grace-period duration ", "(default 10s)",
		"--endpoint-mode string ", `Endpoint mode (vip or dnsrr) (default "vip")`,
		"--limit-cpu decimal ", "--limit-memory bytes ", "-p, --publish port ", "--constraint list ",
		"--placement-pref pref ", "--network network ", "--entrypoint command ",
		"-d, --detach ", "-q, --quiet ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("service create --help lacks %q:\n%s", want, out)
		}
	}
}
