// Package lb is the node's userspace load balancer: one Balancer per frontend (a published port
// of the routing mesh, or a VIP:port) listens on an address and spreads clients over a dynamic
// set of backends, the serving tasks of one service. It owns the data-plane half of the traffic
// promise in DESIGN.md; deciding which tasks serve, and when to stop them, is the caller's.
//
// # Contract with the caller
//
//   - Backends enter only through SetBackends, which replaces the whole set atomically. The caller
//     lists only tasks that are RUNNING and, if they have a health check, healthy (promise 1).
//   - Drain(id) takes a backend out of rotation at once (promise 2) and returns a channel that is
//     closed once nothing is in flight on it any more: no request (HTTP mode) or connection (TCP
//     mode), neither (Auto mode), is open to it, and its pooled connections are closed. The caller
//     waits on it, bounded by the stop grace period (WaitDrained, DrainAndWait), before the task
//     gets its stop signal (promise 3). Removing a backend from the set through SetBackends also
//     stops new work at once and lets in-flight work finish; Drain may be called before or after
//     that removal.
//   - Either way, a backend that left the set or is draining keeps no idle connection: its idle
//     pooled connections are closed at once, and every connection to it is closed as soon as its
//     last request or connection ends (none is opened after). So once its work is done the task
//     sees no connection from the balancer, which is what the agent's idle test counts.
//   - Draining is final for an ID: a drained backend takes no new work even if a later
//     SetBackends lists it again (task IDs are never reused). A backend's address is fixed for
//     its ID.
//
// # Modes
//
// TCP mode proxies each client connection, whole, to one backend chosen when the connection
// arrives (round robin or least connections, both weighted). Bytes are copied with io.Copy between
// *net.TCPConn, which splices on Linux; a FIN from either side is passed on as a FIN (half-close),
// an error or reset on either side resets both.
//
// HTTP mode (for published HTTP ports, promise 4) parses HTTP/1.x requests on each client
// connection with net/http and balances every request on its own, so a keep-alive client is not
// pinned to a backend and does not notice a backend leaving. Each backend has its own pool of
// keep-alive connections (an http.Transport); httputil.ReverseProxy does the forwarding and
// adds X-Forwarded-For/-Host/-Proto, keeping the client's Host header. Upgrades (WebSocket)
// pass through and count as in flight until they close.
//
// Auto mode is for ports that carry no protocol hint, as Docker's published ports do not (the
// routing mesh): it decides per client connection. It reads the connection's first bytes, on the
// connection's own goroutine, until they decide or SniffTimeout passes (DefaultSniffTimeout,
// 100 ms). A connection that starts with an HTTP/1.x method and a space (GET, HEAD, POST, PUT,
// DELETE, OPTIONS, PATCH, TRACE, CONNECT; a request split over segments is read on until it
// decides) is served as in HTTP mode, by the same server; any other is proxied whole as in TCP
// mode: HTTP/2 with prior knowledge ("PRI * HTTP/2.0"), TLS (so HTTPS is balanced per connection:
// the balancer holds no certificate), other methods, any other protocol, and a client that sends
// nothing in time. The bytes read are passed on first; a TCP stream is then spliced as in TCP
// mode. The cost is that a server-first protocol (SMTP, MySQL, SSH, FTP), whose client waits for
// the server to speak, starts SniffTimeout late on every connection; client-first protocols
// (HTTP, TLS, Redis, Postgres) write at once and do not wait. Work, Stats and Drain cover both
// kinds of connection: a backend's in-flight work is its proxied TCP connections plus its HTTP
// requests.
//
// # Retry rules (promise 5)
//
// Connecting: when a dial to the chosen backend fails (refused, unreachable, or no answer within
// DialTimeout), the backend is marked suspect for SuspectFor and the connection or request goes to
// another backend, up to MaxAttempts dials in all, each to a backend not yet tried for it. Suspect
// backends are chosen only when no other serving backend is left. A TCP client whose every attempt
// failed (or that arrived with no backend) is reset; an HTTP client gets 503 when there was no
// backend to try and 502 when the tries failed.
//
// Once a TCP connection is proxied it is never moved: its bytes are the application's.
//
// An HTTP request that failed on a backend before any response header came back (a dial error, a
// connection that broke or was closed under it) is sent again to another backend not yet tried
// for it, up to MaxAttempts attempts in all, if and only if all of these hold:
//
//  1. the client is still waiting (its request context is not done);
//  2. its body can be replayed: every byte of it the failed attempt read from the client is still
//     held (bodies are kept up to MaxReplayBody bytes; a body not yet read needs nothing); and
//  3. either the request is idempotent — method GET, HEAD, OPTIONS, TRACE, PUT or DELETE (RFC 9110
//     section 9.2.2), or it carries an Idempotency-Key or X-Idempotency-Key header — or not one byte
//     of it reached the backend: no connection could be made, or the connection it was given
//     failed before any byte of the request was written to it (no write accepted by the kernel,
//     and none under way).
//
// So a non-idempotent request (POST, PATCH, ...) is never retried once any byte of it may have
// reached a backend, because the backend may have acted on it. No request is retried after a
// response header arrived: a backend's own 5xx goes to the client as it is, and a backend that
// dies while sending a body cuts that response. (net/http's Transport may, under the same rule,
// re-send a request once on a fresh connection to the same backend when a pooled connection was
// found closed; that stays inside one attempt.) Draining is what keeps planned stops from ever
// reaching this point: a draining backend gets no new request and its idle connections are closed
// before its task is stopped.
//
// # Observability
//
// Stats reports, per backend, the work in flight, open connections, attempts and failed attempts,
// and whether it is in the set, draining or suspect; tests read it and a debug endpoint can.
//
// Time: suspect windows, the sniff timeout and the drain wait read the injected Clock. Dial
// timeouts are socket deadlines, which only real time can drive.
package lb
