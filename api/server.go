package api

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/shoal/shoal/internal/apierr"
)

// Options configure NewHandler.
type Options struct {
	// Logger receives a debug record per request and an error record per recovered panic.
	// Nil discards them.
	Logger *slog.Logger
	// MinVersion and MaxVersion bound the API versions accepted in a /vX.Y path prefix.
	// Empty means DefaultMinAPIVersion and DefaultMaxAPIVersion. MaxVersion is also the
	// version a request without a prefix is served at, and the one advertised in Api-Version.
	MinVersion, MaxVersion string
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MinVersion == "" {
		o.MinVersion = DefaultMinAPIVersion
	}
	if o.MaxVersion == "" {
		o.MaxVersion = DefaultMaxAPIVersion
	}
	return o
}

// Validate reports whether the version bounds are usable, for callers that take them from
// configuration. NewHandler panics on options that fail it.
func (o Options) Validate() error {
	o = o.withDefaults()
	if err := validateVersionBound("MinVersion", o.MinVersion); err != nil {
		return err
	}
	if err := validateVersionBound("MaxVersion", o.MaxVersion); err != nil {
		return err
	}
	if compareAPIVersions(o.MinVersion, o.MaxVersion) > 0 {
		return fmt.Errorf("invalid API version bounds: MinVersion %s is above MaxVersion %s", o.MinVersion, o.MaxVersion)
	}
	return nil
}

// server routes Docker Engine API requests to a Backend. It holds no mutable state, so one
// server serves any number of requests at once.
type server struct {
	backend      Backend
	services     ServiceBackend // nil when backend does not implement it
	images       ImageBackend   // nil when backend does not implement it
	opts         Options
	serverHeader string // "Shoal/<Version>", fixed when the handler is made
	mux          *http.ServeMux
}

// handlerFunc is an endpoint: it writes a successful response itself and returns any error
// for ServeHTTP to answer in Docker's error form.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route binds a method and a net/http pattern (without the /vX.Y prefix) to an endpoint.
type route struct {
	method  string
	pattern string
	handle  handlerFunc
}

// unimplemented keeps routes registered but answers each with 501 and msg, so a client of
// a backend without the feature learns that rather than getting a 404 or 405.
func unimplemented(routes []route, msg string) []route {
	out := make([]route, len(routes))
	for i, rt := range routes {
		rt.handle = func(http.ResponseWriter, *http.Request) error { return apierr.NotImplementedf("%s", msg) }
		out[i] = rt
	}
	return out
}

// NewHandler returns the HTTP handler for the Docker Engine API subset Shoal serves, with
// every endpoint reachable both at /path and at /vX.Y/path. The service, task, image,
// network and container endpoints answer 501 unless b also implements ServiceBackend,
// ImageBackend, NetworkBackend or ContainerBackend. It panics if opts fails Validate.
func NewHandler(b Backend, opts Options) http.Handler {
	if err := opts.Validate(); err != nil {
		panic("api.NewHandler: " + err.Error())
	}
	s := &server{backend: b, opts: opts.withDefaults(), serverHeader: "Shoal/" + Version, mux: http.NewServeMux()}
	s.services, _ = b.(ServiceBackend)
	s.images, _ = b.(ImageBackend)
	s.register(slices.Concat(s.systemRoutes(), s.swarmRoutes(), s.nodeRoutes(),
		s.serviceRoutes(), s.taskRoutes(), s.imageRoutes(), s.networkRoutes(), s.containerRoutes()))
	return s
}

// register adds the routes to the mux, plus a root catch-all that answers a request no
// route takes with Docker's JSON errors: 405 with an Allow header when the path is served
// with other methods, 404 otherwise. net/http's own 404 and 405 are plain text, which
// clients cannot parse. The catch-all asks the mux rather than registering a method-less
// pattern per path, which would conflict with wildcard routes such as DELETE /images/{name...}.
func (s *server) register(routes []route) {
	var methods []string // every method some route serves, for the catch-all to try
	for _, rt := range routes {
		s.mux.Handle(rt.method+" "+rt.pattern, s.endpoint(rt.handle))
		if !slices.Contains(methods, rt.method) {
			methods = append(methods, rt.method)
			if rt.method == http.MethodGet {
				methods = append(methods, http.MethodHead)
			}
		}
	}
	s.mux.Handle("/", s.endpoint(func(w http.ResponseWriter, r *http.Request) error {
		allowed := s.allowedMethods(r, methods)
		if len(allowed) == 0 {
			return apierr.NotFoundf("page not found")
		}
		list := strings.Join(allowed, ", ")
		w.Header().Set("Allow", list)
		return &statusError{
			status: http.StatusMethodNotAllowed,
			msg:    fmt.Sprintf("method %s not allowed on %s: use %s", r.Method, r.URL.Path, list),
		}
	}))
}

// allowedMethods lists the candidate methods a route serves r's path with, by asking the
// mux where r would go with each of them.
func (s *server) allowedMethods(r *http.Request, candidates []string) []string {
	var allowed []string
	for _, m := range candidates {
		probe := *r
		probe.Method = m
		if _, pattern := s.mux.Handler(&probe); pattern != "" && pattern != "/" {
			allowed = append(allowed, m)
		}
	}
	return allowed
}

// endpoint adapts a handlerFunc: a returned error becomes Docker's error response.
func (s *server) endpoint(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		if rec, ok := w.(*responseRecorder); ok && rec.wroteHeader {
			// The endpoint already started a response (a stream); the error cannot be sent
			// as a status, only logged (streaming endpoints also send it in their stream).
			s.opts.Logger.Warn("api error after response started", "method", r.Method, "path", r.URL.Path, "err", err)
			return
		}
		if status := httpStatus(err); status >= 500 {
			s.opts.Logger.Warn("api request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
		}
		writeError(w, err)
	})
}

// ServeHTTP sets the headers every response carries, checks the API version prefix,
// strips it, and hands the request to the mux; it also logs the request and turns a
// panicking endpoint into a 500 so one bug does not take the daemon's API down.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &responseRecorder{ResponseWriter: w}
	h := rec.Header()
	h.Set("Api-Version", s.opts.MaxVersion)
	h.Set("Server", s.serverHeader)
	h.Set("Ostype", "linux")
	h.Set("Docker-Experimental", "false")

	defer func() {
		if v := recover(); v != nil {
			s.recoverPanic(rec, r, v)
		}
		s.opts.Logger.Debug("api request",
			"method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery,
			"status", rec.statusCode(), "duration", time.Since(start), "remote", r.RemoteAddr)
	}()

	version, rest, versioned := splitVersionPrefix(r.URL.Path)
	if !versioned {
		version = s.opts.MaxVersion
	} else if err := checkAPIVersion(version, s.opts.MinVersion, s.opts.MaxVersion); err != nil {
		writeError(rec, err)
		return
	}
	if !isCleanPath(rest) {
		// net/http would redirect to the cleaned path without the version prefix we
		// stripped; no Docker client sends such paths, so say there is no such page.
		writeError(rec, apierr.NotFoundf("page not found"))
		return
	}

	inner := r.WithContext(withAPIVersion(r.Context(), version))
	if versioned {
		u := *r.URL
		u.Path = rest
		u.RawPath = ""
		if raw, ok := strings.CutPrefix(r.URL.RawPath, "/v"+version); ok {
			u.RawPath = raw
		}
		inner.URL = &u
	}
	s.mux.ServeHTTP(rec, inner)
}

func isCleanPath(p string) bool {
	return p != "" && p[0] == '/' && (p == "/" || path.Clean(p) == p)
}

// recoverPanic logs a panic with its stack and answers 500 if nothing was sent yet. If the
// response had started, the connection is aborted so the client does not take a truncated
// response for a complete one.
func (s *server) recoverPanic(rec *responseRecorder, r *http.Request, v any) {
	if v == http.ErrAbortHandler {
		panic(v)
	}
	s.opts.Logger.Error("api handler panicked",
		"method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
	if rec.wroteHeader {
		panic(http.ErrAbortHandler)
	}
	writeError(rec, fmt.Errorf("internal server error: the %s %s handler panicked: %v (the daemon log has the stack)", r.Method, r.URL.Path, v))
}

// responseRecorder remembers the status an endpoint sent, for the request log and so a
// panic or late error does not write a second header. It passes Flush and Hijack through,
// which streaming and hijacking endpoints (logs, events, exec) need.
type responseRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (rr *responseRecorder) WriteHeader(code int) {
	if !rr.wroteHeader && code >= 200 {
		rr.status, rr.wroteHeader = code, true
	}
	rr.ResponseWriter.WriteHeader(code)
}

func (rr *responseRecorder) Write(b []byte) (int, error) {
	if !rr.wroteHeader {
		rr.status, rr.wroteHeader = http.StatusOK, true
	}
	return rr.ResponseWriter.Write(b)
}

func (rr *responseRecorder) statusCode() int {
	if !rr.wroteHeader {
		return http.StatusOK
	}
	return rr.status
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (rr *responseRecorder) Unwrap() http.ResponseWriter { return rr.ResponseWriter }

func (rr *responseRecorder) Flush() {
	if !rr.wroteHeader {
		rr.status, rr.wroteHeader = http.StatusOK, true
	}
	_ = http.NewResponseController(rr.ResponseWriter).Flush()
}

func (rr *responseRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, buf, err := http.NewResponseController(rr.ResponseWriter).Hijack()
	if err == nil {
		rr.status, rr.wroteHeader = http.StatusSwitchingProtocols, true
	}
	return conn, buf, err
}
