package lab

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

// The root tests run this test binary as a stand-in node daemon: `lab.test fake-daemon
// --data-root DIR -H unix://SOCK --hostname NODE`. It answers the few API calls a lab makes
// (_ping, swarm init, inspect and join), logs each swarm call as one JSON line on stdout
// (the node's log), and on :2377 greets every TCP connection with its hostname, so a test
// can tell which namespace answered. `lab.test probe ADDR:PORT` checks that a TCP
// connection gets through, for machines without ping.

const (
	fakeDaemonArg = "fake-daemon"
	probeArg      = "probe"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == probeArg {
		// Probe mode: exit 0 if a TCP connection to the address succeeds within a second.
		c, err := net.DialTimeout("tcp", os.Args[2], time.Second)
		if err != nil {
			os.Exit(1)
		}
		c.Close()
		os.Exit(0)
	}
	if len(os.Args) > 1 && os.Args[1] == fakeDaemonArg {
		if err := runFakeDaemon(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "fake daemon:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeCall is one swarm call the stand-in daemon received, as logged.
type fakeCall struct {
	Call string // init or join
	Init *swarm.InitRequest
	Join *swarm.JoinRequest
}

const fakeCallPrefix = "fake-call "

var apiVersionPrefix = regexp.MustCompile(`^/v[0-9.]+`)

func runFakeDaemon(args []string) error {
	fs := flag.NewFlagSet(fakeDaemonArg, flag.ContinueOnError)
	fs.String("data-root", "", "")
	host := fs.String("H", "", "")
	hostname := fs.String("hostname", "", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sock := strings.TrimPrefix(*host, "unix://")
	os.Remove(sock)
	api, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	cluster, err := net.Listen("tcp", ":2377")
	if err != nil {
		return err
	}
	go func() {
		for {
			c, err := cluster.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, *hostname+"\n")
			c.Close()
		}
	}()
	logCall := func(c fakeCall) {
		b, _ := json.Marshal(c)
		fmt.Println(fakeCallPrefix + string(b))
	}
	return http.Serve(api, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := apiVersionPrefix.ReplaceAllString(r.URL.Path, "")
		w.Header().Set("Api-Version", "1.52")
		switch {
		case path == "/_ping":
			io.WriteString(w, "OK")
		case path == "/swarm/init" && r.Method == http.MethodPost:
			var req swarm.InitRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			logCall(fakeCall{Call: "init", Init: &req})
			json.NewEncoder(w).Encode("node-" + *hostname)
		case path == "/swarm" && r.Method == http.MethodGet:
			var s swarm.Swarm
			s.JoinTokens = swarm.JoinTokens{Worker: "SWMTKN-1-fake-worker", Manager: "SWMTKN-1-fake-manager"}
			json.NewEncoder(w).Encode(s)
		case path == "/swarm/join" && r.Method == http.MethodPost:
			var req swarm.JoinRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			logCall(fakeCall{Call: "join", Join: &req})
		default:
			http.Error(w, `{"message":"not in the fake daemon"}`, http.StatusNotFound)
		}
	}))
}

// fakeCalls reads the swarm calls a stand-in daemon logged.
func fakeCalls(log string) ([]fakeCall, error) {
	b, err := os.ReadFile(log)
	if err != nil {
		return nil, err
	}
	var calls []fakeCall
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, fakeCallPrefix)
		if !ok {
			continue
		}
		var c fakeCall
		if err := json.Unmarshal([]byte(rest), &c); err != nil {
			return nil, err
		}
		calls = append(calls, c)
	}
	return calls, nil
}
