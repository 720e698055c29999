package control

import (
	"log/slog"
	"net"
)

// ServeMetrics serves the metrics alone, read-only and to anyone, on l (a
// TCP listener, for a Prometheus server): GET /metrics, where Prometheus
// looks by default, and GET PathMetrics. Nothing else of the API is
// reachable there, and no caller is identified: TCP carries no
// credentials. It has the control API's limits and its own connections.
func (s *Server) ServeMetrics(l net.Listener, goSafe func(what string, fn func())) {
	if goSafe == nil {
		goSafe = func(_ string, fn func()) { go fn() }
	}
	m := &Server{Identify: func(net.Conn) *Caller { return nil }, backend: s.backend, limits: s.limits,
		goSafe: goSafe, conns: map[net.Conn]bool{}}
	mux := &router{fallback: func(w responseWriter, r *request) {
		writeError(w, 404, "only GET /metrics is served here")
	}}
	mux.handle("GET", "/metrics", m.metrics)
	mux.handle("GET", PathMetrics, m.metrics)
	m.serve = recoverPanics(refuseOverCap(cleanPathsOnly(mux.serve)))
	conns := &connLimiter{max: s.limits.MaxConns, spare: s.limits.SpareConns}
	goSafe("metrics listener", func() {
		if err := m.acceptLoop(conns.wrap(l)); serveErr(err) {
			slog.Error("metrics listener stopped", "addr", l.Addr().String(), "err", err)
		}
	})
}
