// Command sleepy is Shoal's sample app: an HTTP server that waits, then answers with the
// time it received the request and the time it replied. It names its version in the
// X-Sleepy-Version header, so a rolling update can be watched request by request.
//
// It is deliberately badly behaved on shutdown: SIGTERM (or SIGINT) makes it exit at once,
// dropping requests in flight, as many real programs do. The orchestrator, not the app, has
// to keep such requests from being lost.
//
// Configuration:
//
//	-port / PORT          TCP port to listen on (default 8080)
//	SLEEPY_DELAY          how long to wait before answering (default 1s; "250ms", or seconds "0.25")
//	SLEEPY_VERSION        the version to report; otherwise the one built in with
//	                      -ldflags "-X main.version=2"; otherwise "dev"
//
// Routes: GET /healthz answers 200 at once; GET /bytes?n=N streams N bytes; any other
// request gets "received,replied\n" in RFC 3339 with nanoseconds after the delay.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// version is set at build time: go build -ldflags "-X main.version=1".
var version string

func main() {
	port := flag.String("port", envOr("PORT", "8080"), "TCP port to listen on (env PORT)")
	flag.Parse()
	log.SetFlags(0)
	log.SetOutput(os.Stdout)

	delay, err := parseDelay(os.Getenv("SLEEPY_DELAY"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "sleepy:", err)
		os.Exit(2)
	}
	if err := checkPort(*port); err != nil {
		fmt.Fprintln(os.Stderr, "sleepy:", err)
		os.Exit(2)
	}
	host, _ := os.Hostname()
	a := newApp(delay, appVersion(os.Getenv("SLEEPY_VERSION"), version), host)

	exitOnSignal()
	ln, err := net.Listen("tcp", ":"+*port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sleepy:", err)
		os.Exit(1)
	}
	log.Printf("sleepy %s listening on %s (delay %v)", a.version, ln.Addr(), a.delay)
	srv := &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "sleepy:", err)
		os.Exit(1)
	}
}

// exitOnSignal makes SIGTERM and SIGINT end the process at once, without draining. As PID
// 1 of a container the kernel would ignore them otherwise, since no handler is installed.
func exitOnSignal() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-sigs
		log.Printf("sleepy: %v: exiting now, dropping requests in flight", sig)
		os.Exit(0)
	}()
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
