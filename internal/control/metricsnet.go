package control

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
)

// ServeMetrics serves the metrics alone, read-only and to anyone, on a TCP
// listener at addr, for a Prometheus server: GET /metrics (where
// Prometheus looks by default) and GET PathMetrics. Nothing else of the
// API is reachable there. It returns once the listener is open.
func (s *Server) ServeMetrics(addr string, goSafe func(what string, fn func())) error {
	if goSafe == nil {
		goSafe = func(_ string, fn func()) { go fn() }
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	serve := func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		if err := s.backend.Metrics(&b); err != nil {
			http.Error(w, "metrics: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", MetricsContentType)
		_, _ = w.Write(b.Bytes())
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", serve)
	mux.HandleFunc("GET "+PathMetrics, serve)
	conns := &connLimiter{max: s.limits.MaxConns, spare: 0}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: s.limits.ReadHeaderTimeout,
		ReadTimeout:       s.limits.ReadTimeout,
		WriteTimeout:      s.limits.WriteTimeout,
		IdleTimeout:       s.limits.IdleTimeout,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug),
	}
	goSafe("metrics listener", func() {
		if err := srv.Serve(conns.wrap(l)); serveErr(err) {
			slog.Error("metrics listener stopped", "addr", addr, "err", err)
		}
	})
	return nil
}
