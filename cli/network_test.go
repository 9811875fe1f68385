package cli

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/network"
)

func TestNetworkListGolden(t *testing.T) {
	tests := []struct {
		golden string
		args   []string
	}{
		{"network-ls", []string{"network", "ls"}},
		{"network-ls-quiet", []string{"network", "ls", "-q"}},
		{"network-ls-no-trunc", []string{"network", "list", "--no-trunc"}},
		{"network-ls-format-table", []string{"network", "ls", "--format", `table {{.Name}}\t{{.Internal}}\t{{.IPv4}}\t{{.IPv6}}\t{{.Labels}}\t{{.CreatedAt}}`}},
		{"network-ls-format-template", []string{"network", "ls", "--no-trunc", "--format", `{{.ID}} {{.Name | upper}} tier={{.Label "tier"}}`}},
		{"network-ls-format-json", []string{"network", "ls", "--format", "json"}},
		{"network-ls-format-raw", []string{"network", "ls", "--format", "raw"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			f := newNetworkDaemon(t)
			assertGolden(t, tt.golden, mustRun(t, f.fakeDaemon, tt.args...))
		})
	}
}

// docker's header and spacing, for 12-character IDs and short names.
func TestNetworkListHeaderIsDockers(t *testing.T) {
	f := newNetworkDaemon(t)
	f.networks = f.networks[1:2]
	f.networks[0].Name = "db"
	out := mustRun(t, f.fakeDaemon, "network", "ls")
	const want = "NETWORK ID     NAME      DRIVER    SCOPE\nback10idabcd   db        overlay   swarm\n"
	if out != want {
		t.Errorf("output\n got %q\nwant %q", out, want)
	}
}

func TestNetworkListSendsFilters(t *testing.T) {
	f := newNetworkDaemon(t)
	out := mustRun(t, f.fakeDaemon, "network", "ls", "-q", "-f", "driver=overlay", "--filter", "Name = back", "-f", "name=web")
	if out != idBack2[:12]+"\n"+idBack10[:12]+"\n"+idWebnet[:12]+"\n" {
		t.Errorf("output %q, want back-2, back-10 and webnet, in natural order", out)
	}
	var list fakeRequest
	for _, r := range f.all() {
		if r.Path == "/networks" {
			list = r
		}
	}
	want := map[string]map[string]bool{"driver": {"overlay": true}, "name": {"back": true, "web": true}}
	if got := queryFilters(list); !reflect.DeepEqual(got, want) {
		t.Errorf("filters sent = %v, want %v", got, want)
	}
}

func TestNetworkInspectGolden(t *testing.T) {
	tests := []struct {
		golden string
		args   []string
	}{
		{"network-inspect", []string{"network", "inspect", "webnet"}},
		{"network-inspect-verbose", []string{"network", "inspect", "-v", "webnet"}},
		{"network-inspect-many", []string{"network", "inspect", "ingress", idBack2[:6]}},
		{"network-inspect-format", []string{"network", "inspect", "--verbose", "--format",
			`{{.Name}}{{range .IPAM.Config}} {{.Subnet}} via {{.Gateway}}{{end}}{{range $name, $s := .Services}} {{$name}}={{$s.VIP}}{{end}}`, "webnet", "back-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			f := newNetworkDaemon(t)
			assertGolden(t, tt.golden, mustRun(t, f.fakeDaemon, tt.args...))
		})
	}
}

func TestNetworkInspectAsksForVerboseOnlyWithV(t *testing.T) {
	f := newNetworkDaemon(t)
	mustRun(t, f.fakeDaemon, "network", "inspect", "webnet")
	mustRun(t, f.fakeDaemon, "network", "inspect", "-v", "webnet")
	var verbose []string
	for _, r := range f.all() {
		if r.Path == "/networks/webnet" {
			verbose = append(verbose, r.Query.Get("verbose"))
		}
	}
	if !reflect.DeepEqual(verbose, []string{"", "true"}) {
		t.Errorf("verbose query of the two inspects = %q, want none then true", verbose)
	}
}

// A network that cannot be found does not stop the others from printing; the command
// fails with the daemon's message.
func TestNetworkInspectMissing(t *testing.T) {
	f := newNetworkDaemon(t)
	out, _, err := runShoal(t, f.fakeDaemon, "network", "inspect", "--format", "{{.Name}} {{.Driver}}", "ghost", "back-2")
	if out != "back-2 overlay\n" {
		t.Errorf("output %q, want back-2's line", out)
	}
	if err == nil || !strings.Contains(err.Error(), "network ghost not found") {
		t.Errorf("err = %v, want the daemon's not-found message", err)
	}
}

// sentCreateRequest decodes the body of the last network create request.
func sentCreateRequest(t *testing.T, f *fakeNetworkAPI) network.CreateRequest {
	t.Helper()
	var req network.CreateRequest
	if err := json.Unmarshal(f.lastWrite("POST /networks/create").Body, &req); err != nil {
		t.Fatal(err)
	}
	return req
}

func TestNetworkCreateSendsEveryFlag(t *testing.T) {
	f := newNetworkDaemon(t)
	out := mustRun(t, f.fakeDaemon, "network", "create", "-d", "overlay", "--subnet", "10.0.9.0/24,fd00:9::/64",
		"--subnet", "10.0.10.0/24", "--gateway", "10.0.10.1", "--gateway", "10.0.9.254", "--attachable", "--internal",
		"--label", "tier=back", "--label", "team", "-o", "encrypted", "--opt", "com.docker.network.driver.mtu=1400",
		"-o", "encrypted=true", "--scope", "swarm", "--ingress", "backnet")
	if out != "newnet0000000000000000001\n" {
		t.Errorf("output %q, want the new network's ID", out)
	}
	want := network.CreateRequest{
		Name: "backnet", Driver: "overlay", Scope: "swarm", Internal: true, Attachable: true, Ingress: true,
		IPAM: &network.IPAM{Driver: "default", Options: map[string]string{}, Config: []network.IPAMConfig{
			{Subnet: netip.MustParsePrefix("10.0.9.0/24"), Gateway: netip.MustParseAddr("10.0.9.254")},
			{Subnet: netip.MustParsePrefix("fd00:9::/64")},
			{Subnet: netip.MustParsePrefix("10.0.10.0/24"), Gateway: netip.MustParseAddr("10.0.10.1")},
		}},
		Options: map[string]string{"encrypted": "true", "com.docker.network.driver.mtu": "1400"},
		Labels:  map[string]string{"tier": "back", "team": ""},
	}
	if got := sentCreateRequest(t, f); !reflect.DeepEqual(got, want) {
		t.Errorf("request sent:\n%+v\nwant:\n%+v", got, want)
	}
}

// With no flags, the request is docker's for -d overlay: the default IPAM driver with no
// configuration, and empty options and labels rather than none.
func TestNetworkCreateDefaults(t *testing.T) {
	f := newNetworkDaemon(t)
	mustRun(t, f.fakeDaemon, "network", "create", "frontnet")
	const want = `{"Name":"frontnet","Driver":"overlay","Scope":"","IPAM":{"Driver":"default","Options":{},"Config":[]},` +
		`"Internal":false,"Attachable":false,"Ingress":false,"ConfigOnly":false,"ConfigFrom":null,"Options":{},"Labels":{}}`
	if got := strings.TrimSpace(string(f.lastWrite("POST /networks/create").Body)); got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}

func TestNetworkCreateReportsDaemonError(t *testing.T) {
	f := newNetworkDaemon(t)
	out, _, err := runShoal(t, f.fakeDaemon, "network", "create", "webnet")
	if out != "" || err == nil || err.Error() != "Error response from daemon: network with name webnet already exists" {
		t.Errorf("out %q err %v, want the daemon's conflict", out, err)
	}
}

// Bad network command lines are refused before anything is written, with a message that
// says what was wrong; connect, disconnect and prune do not reach the daemon at all.
func TestNetworkValidationWritesNothing(t *testing.T) {
	create := func(args ...string) []string {
		return append(append([]string{"network", "create"}, args...), "backnet")
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"bridge driver", create("-d", "bridge"), "only the overlay driver is supported in a swarm (got bridge)"},
		{"macvlan driver", create("--driver", "macvlan"), "only the overlay driver is supported in a swarm (got macvlan)"},
		{"local scope", create("--scope", "local"), `invalid --scope "local": overlay networks are swarm-scoped; use swarm or leave it out`},
		{"ip range", create("--subnet", "10.0.9.0/24", "--ip-range", "10.0.9.0/25"), "--ip-range is not implemented yet"},
		{"subnet out of range", create("--subnet", "10.0.9.300/24"), "invalid subnet 10.0.9.300/24: invalid CIDR address: 10.0.9.300/24"},
		{"subnet without mask", create("--subnet", "10.0.9.0"), "invalid subnet 10.0.9.0: invalid CIDR address: 10.0.9.0"},
		{"subnet with host bits", create("--subnet", "10.0.9.5/24"), "invalid subnet 10.0.9.5/24: it has host bits set; use 10.0.9.0/24"},
		{"overlapping subnets", create("--subnet", "10.0.0.0/16", "--subnet", "10.0.9.0/24"),
			"multiple overlapping subnet configuration is not supported"},
		{"gateway without subnet", create("--gateway", "10.0.9.1"), "every ip-range or gateway must have a corresponding subnet"},
		{"gateway not an address", create("--subnet", "10.0.9.0/24", "--gateway", "10.0.9.x"),
			"invalid gateway 10.0.9.x: must be an IPv4 or IPv6 address"},
		{"gateway in CIDR form", create("--subnet", "10.0.9.0/24", "--gateway", "10.0.9.1/24"),
			"invalid gateway 10.0.9.1/24: must be an IPv4 or IPv6 address"},
		{"gateway outside the subnet", create("--subnet", "10.0.9.0/24", "--gateway", "10.0.10.1"),
			"no matching subnet for gateway 10.0.10.1"},
		{"two gateways for a subnet", create("--subnet", "10.0.9.0/24", "--subnet", "10.0.10.0/24", "--gateway", "10.0.9.1,10.0.9.2"),
			"cannot configure multiple gateways (10.0.9.2, 10.0.9.1) for the same subnet (10.0.9.0/24)"},
		{"label without a name", create("--label", "=back"), "invalid label '=back': empty name"},
		{"option without a key", create("-o", "=1400"), `invalid argument "=1400" for "-o, --opt" flag: want key=value with a non-empty key`},
		{"no name", []string{"network", "create", "-d", "overlay"},
			"\"shoal network create\" requires exactly 1 argument.\nSee 'shoal network create --help'.\n\nUsage:  shoal network create [OPTIONS] NETWORK\n\nCreate a network"},
		{"two names", []string{"network", "create", "a", "b"}, `"shoal network create" requires exactly 1 argument.`},
		{"unknown flag", create("--ipam-driver", "dhcp"), "unknown flag: --ipam-driver\nSee 'shoal network create --help'."},
		{"rm without a network", []string{"network", "rm"}, `"shoal network rm" requires at least 1 argument.`},
		{"inspect without a network", []string{"network", "inspect", "-v"}, `"shoal network inspect" requires at least 1 argument.`},
		{"ls with an argument", []string{"network", "ls", "webnet"}, `"shoal network ls" accepts no arguments.`},
		{"ls bad filter", []string{"network", "ls", "-f", "driver"}, "bad format of filter (expected name=value)"},
		{"connect", []string{"network", "connect", "--alias", "db", "webnet", "c1"},
			"network connect is not implemented yet: attach a service with service create --network or service update --network-add"},
		{"connect with one argument", []string{"network", "connect", "webnet"}, `"shoal network connect" requires exactly 2 arguments.`},
		{"disconnect", []string{"network", "disconnect", "-f", "webnet", "c1"},
			"network disconnect is not implemented yet: detach a service with service update --network-rm"},
		{"prune", []string{"network", "prune", "-f", "--filter", "until=24h"},
			"network prune is not implemented yet: remove networks one at a time with network rm"},
		{"unknown subcommand", []string{"network", "frobnicate"}, `unknown command "frobnicate" for "shoal network"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newNetworkDaemon(t)
			_, _, err := runShoal(t, f.fakeDaemon, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v\nwant it to contain %q", err, tt.wantErr)
			}
			if w := f.writes(); len(w) != 0 {
				t.Errorf("requests that write: %v, want none", w)
			}
			if len(f.all()) != 0 {
				t.Errorf("requests: %v, want none: every refusal here is the client's", f.all())
			}
		})
	}
}

func TestNetworkRemove(t *testing.T) {
	f := newNetworkDaemon(t)
	out, _, err := runShoal(t, f.fakeDaemon, "network", "rm", "back-2", "webnet", "ghost", idBack10[:5])
	if out != "back-2\n"+idBack10[:5]+"\n" {
		t.Errorf("output %q, want the two removed networks as named", out)
	}
	const want = "Error response from daemon: network webnet is in use by service web: remove the service or its network (service update --network-rm) first\n" +
		"Error response from daemon: network ghost not found"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	var left []string
	for _, n := range f.networks {
		left = append(left, n.Name)
	}
	if !reflect.DeepEqual(left, []string{"webnet", "ingress"}) {
		t.Errorf("networks left = %q, want webnet and ingress", left)
	}

	// With --force a missing network is skipped; others still fail.
	out, errOut, err := runShoal(t, f.fakeDaemon, "network", "remove", "-f", "ghost")
	if err != nil || out != "" || errOut != "" {
		t.Errorf("rm -f ghost: out %q stderr %q err %v, want nothing", out, errOut, err)
	}
	if _, _, err := runShoal(t, f.fakeDaemon, "network", "rm", "-f", "webnet"); err == nil || !strings.Contains(err.Error(), "in use by service web") {
		t.Errorf("rm -f webnet: err = %v, want the in-use refusal", err)
	}
}

// As docker, removing the routing mesh's network asks first; anything but y keeps it.
func TestNetworkRemoveIngressAsks(t *testing.T) {
	for _, tt := range []struct {
		input   string
		removed bool
	}{{"", false}, {"n\n", false}, {"yes\n", false}, {"y\n", true}, {"Y\n", true}} {
		t.Run(tt.input, func(t *testing.T) {
			f := newNetworkDaemon(t)
			out, _, err := runShoalWithInput(t, f.fakeDaemon, tt.input, "network", "rm", "ingress")
			if err != nil {
				t.Fatal(err)
			}
			prompt := ingressRemovalWarning + " [y/N] "
			wantOut := prompt
			if tt.removed {
				wantOut += "ingress\n"
			}
			if out != wantOut {
				t.Errorf("output %q, want %q", out, wantOut)
			}
			if deleted := len(f.writes()) == 1; deleted != tt.removed {
				t.Errorf("writes %v, want removed=%v", f.writes(), tt.removed)
			}
		})
	}
}

// Every network command has help that says what it does and how to call it, mentions
// neither docker nor a placeholder, and does not talk to the daemon.
func TestNetworkCommandsHaveHelp(t *testing.T) {
	root := NewRootCommand(&Globals{})
	cmd, _, err := root.Find([]string{"network"})
	if err != nil {
		t.Fatal(err)
	}
	paths := [][]string{{"network"}}
	for _, sub := range cmd.Commands() {
		paths = append(paths, []string{"network", sub.Name()})
	}
	if len(paths) != 8 {
		t.Fatalf("found %d commands, want network and its 7: %v", len(paths), paths)
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
			if strings.Contains(out, "not implemented") || strings.Contains(out, "docker network") {
				t.Errorf("help mentions a placeholder or docker:\n%s", out)
			}
			if len(d.all()) != 0 {
				t.Errorf("--help talked to the daemon: %v", d.all())
			}
		})
	}
}

func TestNetworkCreateHelpShowsDefaults(t *testing.T) {
	d := newFakeDaemon(t)
	out := mustRun(t, d, "network", "create", "--help")
	for _, want := range []string{
		"-d, --driver string ", `Driver to manage the Network (default "overlay")`,
		"-o, --opt map ", "Set driver specific options (default map[])",
		"--label list ", "--subnet strings ", "--gateway strings ", "--ip-range strings ",
		"--attachable ", "--internal ", "--ingress ", "--scope string ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("network create --help lacks %q:\n%s", want, out)
		}
	}
}
