package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/minikit/minikit/internal/textdist"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minikit/minikit/internal/control"
	"golang.org/x/sys/unix"
)

// ControlSocket is where init serves its control API (HTTP with JSON).
const ControlSocket = control.Socket

// The control API (internal/control has the types) lets root list, start,
// stop and restart services, read and follow logs, see the boot timeline
// and power the system off. Only root may use it: the socket is 0600 and
// every connection's peer credentials are checked. Every request that
// changes something is logged with the caller's uid and pid.

type peerKey struct{}

// serveControl serves the control API on a unix socket at path.
func (in *initSys) serveControl(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	_ = os.Remove(path)
	// Not umask: it is the process's, and containers being created at the
	// same moment would get directories without search permission. Until
	// the chmod, the socket has the usual umask's 0755: connecting needs
	// write permission, so only root can already.
	l, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	api := &controlAPI{sup: in.sup, outputs: in.outputs, timeline: in.timeline, power: in.requestShutdown}
	srv := &http.Server{
		Handler:           api.handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ConnContext:       withPeerCred,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug),
	}
	in.goSafe("control API", func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("control API stopped", "err", err)
		}
	})
	return nil
}

// withPeerCred puts the connection's peer credentials in its context.
func withPeerCred(ctx context.Context, c net.Conn) context.Context {
	if cred, err := peerCred(c); err == nil {
		return context.WithValue(ctx, peerKey{}, cred)
	}
	return ctx
}

func peerCred(c net.Conn) (*unix.Ucred, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return nil, errors.New("not a unix connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var credErr error
	err = raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err != nil {
		return nil, err
	}
	return cred, credErr
}

// controlAPI is what the handlers need of init.
type controlAPI struct {
	sup      *supervisor
	outputs  *outputs
	timeline *timeline
	power    func(action string) // "poweroff" or "reboot"
}

func (a *controlAPI) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+control.PathServices, a.list)
	mux.HandleFunc("GET "+control.PathService, a.status)
	mux.HandleFunc("POST "+control.PathAction, a.act)
	mux.HandleFunc("GET "+control.PathLogs, a.logs)
	mux.HandleFunc("GET "+control.PathAnalyze, a.analyze)
	mux.HandleFunc("POST "+control.PathPoweroff, a.powerHandler("poweroff"))
	mux.HandleFunc("POST "+control.PathReboot, a.powerHandler("reboot"))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
	})
	return recoverPanics(requireRoot(mux))
}

// services is every service, in the order of their names.
func (a *controlAPI) services() []*service {
	if a.sup == nil {
		return nil
	}
	return a.sup.services
}

func (a *controlAPI) list(w http.ResponseWriter, r *http.Request) {
	list := make([]control.Service, 0, len(a.services()))
	for _, s := range a.services() {
		list = append(list, s.status())
	}
	writeJSON(w, http.StatusOK, list)
}

// lookup finds the service the request names, or answers 404 with the
// names closest to it.
func (a *controlAPI) lookup(w http.ResponseWriter, r *http.Request) *service {
	name := r.PathValue("name")
	if a.sup != nil {
		if s := a.sup.service(name); s != nil {
			return s
		}
	}
	var names []string
	for _, s := range a.services() {
		names = append(names, s.name)
	}
	writeJSON(w, http.StatusNotFound, control.Error{
		Error:       fmt.Sprintf("no service %q", name),
		Suggestions: closeNames(name, names),
	})
	return nil
}

func (a *controlAPI) status(w http.ResponseWriter, r *http.Request) {
	if s := a.lookup(w, r); s != nil {
		writeJSON(w, http.StatusOK, s.status())
	}
}

func (a *controlAPI) act(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	var kind commandKind
	switch action {
	case "start":
		kind = cmdStart
	case "stop":
		kind = cmdStop
	case "restart":
		kind = cmdRestart
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown action %q (start, stop or restart)", action))
		return
	}
	s := a.lookup(w, r)
	if s == nil {
		return
	}
	logAction(r, action, s.name)
	if err := s.do(r.Context(), kind); err != nil {
		if r.Context().Err() != nil {
			return // the caller is gone
		}
		writeJSON(w, http.StatusConflict, control.Error{Error: fmt.Sprintf("%s %s: %v", action, s.name, err)})
		return
	}
	writeJSON(w, http.StatusOK, s.status())
}

// logs sends the last lines of a log, one JSON object a line, and with
// follow=true every later line until the caller hangs up.
func (a *controlAPI) logs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	sink := a.outputs.lookup(name)
	if sink == nil && a.sup != nil && a.sup.service(name) != nil {
		sink = a.outputs.sink(name) // a service that has not written yet
	}
	if sink == nil {
		writeJSON(w, http.StatusNotFound, control.Error{
			Error:       fmt.Sprintf("no log %q", name),
			Suggestions: closeNames(name, a.outputs.names()),
		})
		return
	}
	n := -1
	if v := r.URL.Query().Get("lines"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("lines=%q is not a number", v))
			return
		}
	}
	follow := false
	if v := r.URL.Query().Get("follow"); v != "" {
		var err error
		if follow, err = strconv.ParseBool(v); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("follow=%q is not true or false", v))
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	seq := sink.ring.last()
	if n != 0 {
		for _, l := range sink.ring.tail(n) {
			if enc.Encode(l) != nil {
				return
			}
			seq = l.Seq
		}
	}
	if !follow {
		return
	}
	flusher, _ := w.(http.Flusher)
	for {
		if flusher != nil {
			flusher.Flush()
		}
		lines, more := sink.ring.after(seq)
		for _, l := range lines {
			if enc.Encode(l) != nil {
				return
			}
			seq = l.Seq
		}
		if len(lines) > 0 {
			continue // flush, then look again before waiting
		}
		select {
		case <-more:
		case <-r.Context().Done():
			return
		}
	}
}

func (a *controlAPI) analyze(w http.ResponseWriter, r *http.Request) {
	an := control.Analysis{Now: sinceBoot(), Phases: []control.Phase{}, Services: []control.ServiceTimes{}}
	if a.timeline != nil {
		for _, p := range a.timeline.Phases() {
			an.Phases = append(an.Phases, control.Phase{Name: p.Name, Start: p.Start, End: p.End})
		}
	}
	for _, s := range a.services() {
		an.Services = append(an.Services, s.bootTimes())
	}
	writeJSON(w, http.StatusOK, an)
}

func (a *controlAPI) powerHandler(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		logAction(r, action, "")
		writeJSON(w, http.StatusAccepted, map[string]string{"status": action + " requested"})
		// Answer before shutting down: the caller may be a service
		// that is about to be stopped.
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		if a.sup != nil {
			a.sup.refuseStarts()
		}
		a.power(action)
	}
}

// requireRoot refuses any caller whose peer credentials are not root's.
func requireRoot(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred, _ := r.Context().Value(peerKey{}).(*unix.Ucred)
		if cred == nil || cred.Uid != 0 {
			writeError(w, http.StatusForbidden, "only root may use the control socket")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics answers 500 for a handler that panicked. net/http would
// recover too, but close the connection without a word.
func recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				slog.Error("panic in the control API", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				writeError(w, http.StatusInternalServerError, fmt.Sprintf("internal error: %v", p))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// logAction records who asked for a change.
func logAction(r *http.Request, action, target string) {
	cred, _ := r.Context().Value(peerKey{}).(*unix.Ucred)
	attrs := []any{"action", action}
	if target != "" {
		attrs = append(attrs, "service", target)
	}
	if cred != nil {
		attrs = append(attrs, "uid", cred.Uid, "pid", cred.Pid)
	}
	slog.Info(strings.TrimSpace("control: "+action+" "+target), attrs...)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, control.Error{Error: msg})
}

// closeNames returns the names within a small edit distance of name,
// closest first, for "did you mean".
func closeNames(name string, names []string) []string {
	type scored struct {
		name string
		d    int
	}
	var found []scored
	for _, n := range names {
		d := textdist.Levenshtein(strings.ToLower(name), strings.ToLower(n))
		if d <= max(2, len(name)/3) || (name != "" && strings.Contains(n, name)) {
			found = append(found, scored{n, d})
		}
	}
	slices.SortStableFunc(found, func(a, b scored) int { return a.d - b.d })
	var out []string
	for _, f := range found[:min(len(found), 3)] {
		out = append(out, f.name)
	}
	return out
}
