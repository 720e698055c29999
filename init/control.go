package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minikit/minikit/init/boottime"
	"github.com/minikit/minikit/internal/control"
	"github.com/minikit/minikit/internal/textdist"
	"golang.org/x/sys/unix"
)

// ControlSocket is where init serves its control API (HTTP with JSON).
const ControlSocket = control.Socket

// The control API (internal/control has the types) lets root list
// services, read and follow logs and see the boot timeline, and lets a
// caller with the capability each needs start, stop and restart services
// and power the system off (control_auth.go says who may do what). Every
// request that changes something, and every refusal, is logged with the
// caller's uid, pid and cgroup.

type peerKey struct{}

// refusedKey marks a connection accepted over the cap, to be answered 503.
type refusedKey struct{}

// serveControl serves the control API on a unix socket at path, and
// makes the socket again if it is removed.
func (in *initSys) serveControl(path string) error {
	l, fi, err := listenControl(path)
	if err != nil {
		return err
	}
	api := &controlAPI{sup: in.sup, outputs: in.outputs, timeline: in.timeline, power: in.requestShutdown}
	srv, wrap, err := api.server(defaultControlLimits, "/proc")
	if err != nil {
		l.Close()
		return err
	}
	k := &socketKeeper{path: path, every: defaultControlLimits.SocketCheck, stop: make(chan struct{}),
		serve: func(l net.Listener) {
			if err := srv.Serve(wrap(l)); serveErr(err) {
				slog.Error("control API stopped", "err", err)
			}
		}}
	in.goSafe("control socket", func() { k.keep(l, fi) })
	return nil
}

// server returns the API's server with its limits, and what wraps each
// listener it serves so that they share the cap on connections. proc is
// where callers are looked up (/proc).
func (a *controlAPI) server(lim controlLimits, proc string) (*http.Server, func(net.Listener) net.Listener, error) {
	peers, err := newPeerReader(proc)
	if err != nil {
		return nil, nil, err
	}
	a.limits = lim
	conns := &connLimiter{max: lim.MaxConns, spare: lim.SpareConns}
	srv := &http.Server{
		Handler:           a.handler(),
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if lc, ok := c.(*limitedConn); ok && lc.refused {
				return context.WithValue(ctx, refusedKey{}, true)
			}
			return context.WithValue(ctx, peerKey{}, peers.read(c))
		},
		ErrorLog: slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug),
	}
	return srv, conns.wrap, nil
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

	limits    controlLimits
	followers atomic.Int32 // `logs -f` streams being served
}

func (a *controlAPI) handler() http.Handler {
	read := access{}
	services := access{need: &capSysAdmin, action: func(r *http.Request) (string, string) {
		return r.PathValue("action"), r.PathValue("name")
	}}
	power := func(action string) access {
		return access{need: &capSysBoot, action: func(*http.Request) (string, string) { return action, "" }}
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+control.PathServices, authorise(read, http.HandlerFunc(a.list)))
	mux.Handle("GET "+control.PathService, authorise(read, http.HandlerFunc(a.status)))
	mux.Handle("POST "+control.PathAction, authorise(services, http.HandlerFunc(a.act)))
	mux.Handle("GET "+control.PathLogs, authorise(read, http.HandlerFunc(a.logs)))
	mux.Handle("GET "+control.PathAnalyze, authorise(read, http.HandlerFunc(a.analyze)))
	mux.Handle("POST "+control.PathPoweroff, authorise(power("poweroff"), a.powerHandler("poweroff")))
	mux.Handle("POST "+control.PathReboot, authorise(power("reboot"), a.powerHandler("reboot")))
	mux.Handle("/", authorise(read, http.HandlerFunc(noEndpoint)))
	return recoverPanics(refuseOverCap(cleanPathsOnly(mux)))
}

func noEndpoint(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
}

// cleanPathsOnly answers 404 to a path with dot segments, doubled or
// trailing slashes: ServeMux would redirect it to its clean form, and a
// name such as ../../etc/passwd is no service's, container's or log's.
func cleanPathsOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/") || path.Clean(r.URL.Path) != r.URL.Path {
			noEndpoint(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refuseOverCap answers 503 on a connection accepted over the cap, and
// closes it.
func refuseOverCap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refused, _ := r.Context().Value(refusedKey{}).(bool); refused {
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusServiceUnavailable, "init's control API has too many connections open; try again once some have closed")
			return
		}
		next.ServeHTTP(w, r)
	})
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
		Suggestions: textdist.Closest(name, names, 3),
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
	err := s.do(r.Context(), kind)
	// Stopping waits for the service's stopTimeout, which may be longer
	// than WriteTimeout: the time to answer counts from now.
	a.writeDeadline(http.NewResponseController(w))
	if err != nil {
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
			Suggestions: textdist.Closest(name, a.outputs.names(), 3),
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
	if !follow {
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		for _, l := range sink.ring.tail(n) {
			if enc.Encode(l) != nil {
				return
			}
		}
		return
	}
	if int(a.followers.Add(1)) > a.limits.MaxFollowers {
		a.followers.Add(-1)
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("init serves at most %d followers of logs at once; stop one first", a.limits.MaxFollowers))
		return
	}
	defer a.followers.Add(-1)
	a.follow(w, r, sink, n)
}

// writeDeadline gives the answer WriteTimeout from now to be written.
func (a *controlAPI) writeDeadline(rc *http.ResponseController) error {
	if a.limits.WriteTimeout <= 0 {
		return nil
	}
	return rc.SetWriteDeadline(time.Now().Add(a.limits.WriteTimeout))
}

// follow sends the last n lines of sink, then every later line until the
// caller hangs up. The server's deadlines bound a whole answer, which a
// healthy follower outlives: each write gets a deadline of its own
// instead, so that a follower that stops reading is dropped, with the
// lines it would not take, once that deadline passes.
func (a *controlAPI) follow(w http.ResponseWriter, r *http.Request, sink *logSink, n int) {
	rc := http.NewResponseController(w)
	send := func(lines []control.LogLine) bool {
		if a.writeDeadline(rc) != nil {
			return false
		}
		enc := json.NewEncoder(w)
		for _, l := range lines {
			if enc.Encode(l) != nil {
				return false
			}
		}
		return rc.Flush() == nil
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	seq := sink.ring.last()
	var first []control.LogLine
	if n != 0 {
		first = sink.ring.tail(n)
		if len(first) > 0 {
			seq = first[len(first)-1].Seq
		}
	}
	if !send(first) {
		return
	}
	for {
		lines, more := sink.ring.after(seq)
		if len(lines) > 0 {
			if !send(lines) {
				return
			}
			seq = lines[len(lines)-1].Seq
			continue // look again before waiting
		}
		select {
		case <-more:
		case <-r.Context().Done():
			return
		}
	}
}

func (a *controlAPI) analyze(w http.ResponseWriter, r *http.Request) {
	an := control.Analysis{Now: boottime.Now(), Phases: []control.Phase{}, Services: []control.ServiceTimes{}}
	if a.timeline != nil {
		an.Phases = append(an.Phases, a.timeline.Phases()...)
	}
	for _, s := range a.services() {
		an.Services = append(an.Services, s.bootTimes())
	}
	writeJSON(w, http.StatusOK, an)
}

func (a *controlAPI) powerHandler(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
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

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, control.Error{Error: msg})
}
