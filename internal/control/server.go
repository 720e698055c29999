package control

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minikit/minikit/internal/textdist"
)

// The server side of the API, which init serves on Socket over a Backend:
// its services, its logs and its boot timeline. Root may list services,
// read and follow logs and see the boot timeline; a caller with the
// capability each needs may start, stop and restart services and power
// the system off (auth.go says who may do what). Every request that
// changes something, and every refusal, is logged with the caller's uid,
// pid and cgroup. limits.go bounds what callers can make init hold, and
// socket.go keeps the socket there.

// The actions on a service, the {action} of PathAction.
const (
	ActionStart   = "start"
	ActionStop    = "stop"
	ActionRestart = "restart"
)

// Backend is what the server serves: init implements it over its
// supervisor, its logs and its boot timeline; tests fake it.
type Backend interface {
	// Services returns every service, in the order of their names.
	Services() []Service
	// Service returns the service called name; false when there is none.
	Service(name string) (Service, bool)
	// Act carries out an action (ActionStart, ActionStop or
	// ActionRestart) on the service called name, and returns once it took
	// effect: a stop once the process is gone, a start once the process
	// started (or failed to start, or waits for its dependencies).
	Act(ctx context.Context, name, action string) error
	// Log returns the log called name: a service's, even before it wrote
	// anything, an onboot container's ("000-NAME") or init's; false when
	// there is none.
	Log(name string) (Log, bool)
	// LogNames lists every log, for the names suggested for an unknown one.
	LogNames() []string
	// Analysis is the boot timeline so far.
	Analysis() Analysis
	// Metrics writes the system's metrics in Prometheus' text format.
	Metrics(w io.Writer) error
	// Power refuses every later start and asks for "poweroff" or
	// "reboot". The caller has had its answer by then.
	Power(action string)
}

// Log is one log as the server reads it: the last lines it holds in
// memory, numbered by Seq, and those that come later.
type Log interface {
	// Tail returns the last n lines held (all of them when n < 0).
	Tail(n int) []LogLine
	// After returns the lines held whose Seq is above seq, and a channel
	// that is closed when more arrive.
	After(seq uint64) ([]LogLine, <-chan struct{})
	// Last is the Seq of the newest line, 0 before any.
	Last() uint64
}

// Server serves the API over a Backend, with the checks of who may do
// what and the limits on what callers can make init hold.
type Server struct {
	// Identify tells who calls on a connection, as accepted from the
	// kernel. NewServer reads the caller's credentials (SO_PEERCRED) and
	// what /proc says of it; a test may replace it before Serve, to play
	// a caller.
	Identify func(net.Conn) *Caller

	backend   Backend
	limits    Limits
	followers atomic.Int32 // `logs -f` streams being served

	// Set by Serve.
	http   *http.Server
	keeper *socketKeeper
	kept   sync.WaitGroup
}

type callerKey struct{}

// refusedKey marks a connection accepted over the cap, to be answered 503.
type refusedKey struct{}

// NewServer returns a server of b's API with the limits lim.
func NewServer(b Backend, lim Limits) (*Server, error) {
	callers, err := newCallerReader("/proc")
	if err != nil {
		return nil, err
	}
	return &Server{Identify: callers.read, backend: b, limits: lim}, nil
}

// Serve serves the API on a unix socket at path (mode 0600; its
// directory is made), and makes the socket again whenever it is removed.
// Its goroutines run through goSafe (nil: plain goroutines); init passes
// its panic guard. It returns once the socket is there.
func (s *Server) Serve(path string, goSafe func(what string, fn func())) error {
	if goSafe == nil {
		goSafe = func(_ string, fn func()) { go fn() }
	}
	l, fi, err := listenControl(path)
	if err != nil {
		return err
	}
	conns := &connLimiter{max: s.limits.MaxConns, spare: s.limits.SpareConns}
	s.http = &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: s.limits.ReadHeaderTimeout,
		ReadTimeout:       s.limits.ReadTimeout,
		WriteTimeout:      s.limits.WriteTimeout,
		IdleTimeout:       s.limits.IdleTimeout,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if lc, ok := c.(*limitedConn); ok && lc.refused {
				return context.WithValue(ctx, refusedKey{}, true)
			}
			return context.WithValue(ctx, callerKey{}, s.Identify(unwrapConn(c)))
		},
		ErrorLog: slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug),
	}
	s.keeper = &socketKeeper{path: path, every: s.limits.SocketCheck, stop: make(chan struct{}), goSafe: goSafe,
		serve: func(l net.Listener) {
			if err := s.http.Serve(conns.wrap(l)); serveErr(err) {
				slog.Error("control API stopped", "err", err)
			}
		}}
	s.kept.Add(1)
	goSafe("control socket", func() {
		s.keeper.keep(l, fi)
		s.kept.Done() // not deferred: after a panic the keeper keeps on
	})
	return nil
}

// Close stops serving and closes every connection. init never calls it:
// it serves until the system goes down. For tests.
func (s *Server) Close() error {
	if s.keeper == nil {
		return nil
	}
	close(s.keeper.stop)
	s.kept.Wait()
	return s.http.Close()
}

func (s *Server) handler() http.Handler {
	read := access{}
	services := access{need: &capSysAdmin, action: func(r *http.Request) (string, string) {
		return r.PathValue("action"), r.PathValue("name")
	}}
	power := func(action string) access {
		return access{need: &capSysBoot, action: func(*http.Request) (string, string) { return action, "" }}
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+PathServices, authorise(read, http.HandlerFunc(s.list)))
	mux.Handle("GET "+PathService, authorise(read, http.HandlerFunc(s.status)))
	mux.Handle("POST "+PathAction, authorise(services, http.HandlerFunc(s.act)))
	mux.Handle("GET "+PathLogs, authorise(read, http.HandlerFunc(s.logs)))
	mux.Handle("GET "+PathAnalyze, authorise(read, http.HandlerFunc(s.analyze)))
	mux.Handle("GET "+PathMetrics, authorise(read, http.HandlerFunc(s.metrics)))
	mux.Handle("POST "+PathPoweroff, authorise(power("poweroff"), s.powerHandler("poweroff")))
	mux.Handle("POST "+PathReboot, authorise(power("reboot"), s.powerHandler("reboot")))
	s.updateHandlers(mux)
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

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	list := s.backend.Services()
	if list == nil {
		list = []Service{}
	}
	writeJSON(w, http.StatusOK, list)
}

// lookup returns the service the request names, or answers 404 with the
// names closest to it.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) (Service, bool) {
	name := r.PathValue("name")
	if st, ok := s.backend.Service(name); ok {
		return st, true
	}
	var names []string
	for _, st := range s.backend.Services() {
		names = append(names, st.Name)
	}
	writeJSON(w, http.StatusNotFound, Error{
		Error:       fmt.Sprintf("no service %q", name),
		Suggestions: textdist.Closest(name, names, 3),
	})
	return Service{}, false
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	if st, ok := s.lookup(w, r); ok {
		writeJSON(w, http.StatusOK, st)
	}
}

func (s *Server) act(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	switch action {
	case ActionStart, ActionStop, ActionRestart:
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown action %q (start, stop or restart)", action))
		return
	}
	if _, ok := s.lookup(w, r); !ok {
		return
	}
	name := r.PathValue("name")
	err := s.backend.Act(r.Context(), name, action)
	// Stopping waits for the service's stopTimeout, which may be longer
	// than WriteTimeout: the time to answer counts from now.
	s.writeDeadline(http.NewResponseController(w))
	if err != nil {
		if r.Context().Err() != nil {
			return // the caller is gone
		}
		writeJSON(w, http.StatusConflict, Error{Error: fmt.Sprintf("%s %s: %v", action, name, err)})
		return
	}
	st, _ := s.backend.Service(name)
	writeJSON(w, http.StatusOK, st)
}

// logs sends the last lines of a log, one JSON object a line, and with
// follow=true every later line until the caller hangs up.
func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	log, ok := s.backend.Log(name)
	if !ok {
		writeJSON(w, http.StatusNotFound, Error{
			Error:       fmt.Sprintf("no log %q", name),
			Suggestions: textdist.Closest(name, s.backend.LogNames(), 3),
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
		for _, l := range log.Tail(n) {
			if enc.Encode(l) != nil {
				return
			}
		}
		return
	}
	if int(s.followers.Add(1)) > s.limits.MaxFollowers {
		s.followers.Add(-1)
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("init serves at most %d followers of logs at once; stop one first", s.limits.MaxFollowers))
		return
	}
	defer s.followers.Add(-1)
	s.follow(w, r, log, n)
}

// writeDeadline gives the answer WriteTimeout from now to be written.
func (s *Server) writeDeadline(rc *http.ResponseController) error {
	if s.limits.WriteTimeout <= 0 {
		return nil
	}
	return rc.SetWriteDeadline(time.Now().Add(s.limits.WriteTimeout))
}

// follow sends the last n lines of log, then every later line until the
// caller hangs up. The server's deadlines bound a whole answer, which a
// healthy follower outlives: each write gets a deadline of its own
// instead, so that a follower that stops reading is dropped, with the
// lines it would not take, once that deadline passes.
func (s *Server) follow(w http.ResponseWriter, r *http.Request, log Log, n int) {
	rc := http.NewResponseController(w)
	send := func(lines []LogLine) bool {
		if s.writeDeadline(rc) != nil {
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
	seq := log.Last()
	var first []LogLine
	if n != 0 {
		first = log.Tail(n)
		if len(first) > 0 {
			seq = first[len(first)-1].Seq
		}
	}
	if !send(first) {
		return
	}
	for {
		lines, more := log.After(seq)
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

func (s *Server) analyze(w http.ResponseWriter, r *http.Request) {
	an := s.backend.Analysis()
	// Lists, never null, even before the first phase ends.
	if an.Phases == nil {
		an.Phases = []Phase{}
	}
	if an.Services == nil {
		an.Services = []ServiceTimes{}
	}
	writeJSON(w, http.StatusOK, an)
}

// metrics answers with the whole text or an error, never half of it: the
// text is small (a few KiB a service) and a scraper takes a cut answer
// for a good one.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	if err := s.backend.Metrics(&b); err != nil {
		writeError(w, http.StatusInternalServerError, "metrics: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", MetricsContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

func (s *Server) powerHandler(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusAccepted, map[string]string{"status": action + " requested"})
		// Answer before shutting down: the caller may be a service
		// that is about to be stopped.
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		s.backend.Power(action)
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
	writeJSON(w, code, Error{Error: msg})
}
