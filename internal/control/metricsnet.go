package control

import (
	"bytes"
	"io"
	"log/slog"
	"net"
)

// ServeMetrics serves the text write makes (Prometheus' text format), read
// only and to anyone, on l (a TCP listener, for a Prometheus server): GET
// /metrics, where Prometheus looks by default, and GET PathMetrics.
// Nothing else is reachable there, and no caller is identified: TCP
// carries no credentials. It has the control API's limits on requests
// and connections, so a slow or hostile client holds no more than one.
func ServeMetrics(l net.Listener, write func(io.Writer) error, limits Limits, goSafe func(what string, fn func())) {
	if goSafe == nil {
		goSafe = func(_ string, fn func()) { go fn() }
	}
	m := &Server{Identify: func(net.Conn) *Caller { return nil }, limits: limits, goSafe: goSafe, conns: map[net.Conn]bool{}}
	// The whole text or an error, never half of it: the text is small
	// (a few KiB a service) and a scraper takes a cut answer for a good
	// one.
	serve := func(w responseWriter, r *request) {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			writeError(w, 500, "metrics: "+err.Error())
			return
		}
		w.setHeader("Content-Type", MetricsContentType)
		w.writeHeader(200)
		_, _ = w.Write(b.Bytes())
	}
	mux := &router{fallback: func(w responseWriter, r *request) {
		writeError(w, 404, "only GET /metrics is served here")
	}}
	mux.handle("GET", "/metrics", serve)
	mux.handle("GET", PathMetrics, serve)
	m.serve = recoverPanics(refuseOverCap(cleanPathsOnly(mux.serve)))
	conns := &connLimiter{max: limits.MaxConns, spare: limits.SpareConns}
	goSafe("metrics listener", func() {
		if err := m.acceptLoop(conns.wrap(l)); serveErr(err) {
			slog.Error("metrics listener stopped", "addr", l.Addr().String(), "err", err)
		}
	})
}
