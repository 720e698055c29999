package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strconv"
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
	// Metrics is what the system's metrics are made of.
	Metrics() Metrics
	// Power refuses every later start and asks for "poweroff" or
	// "reboot". The caller has had its answer by then, but is still
	// connected, waiting for the answer's end: caller (nil when it could
	// not be identified) is who asked, whose exit the backend may await
	// before it stops anything, so that the answer reaches whoever the
	// caller passes it on to (svcctl in an ssh session, say).
	Power(action string, caller *Caller)
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
	goSafe func(what string, fn func())
	serve  handler
	keeper *socketKeeper
	kept   sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]bool // open connections, closed by Close
	closed bool
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
	return &Server{Identify: callers.read, backend: b, limits: lim, conns: map[net.Conn]bool{}}, nil
}

// Serve serves the API on a unix socket at path (mode 0600; its
// directory is made), and makes the socket again whenever it is removed.
// Its goroutines run through goSafe (nil: plain goroutines); init passes
// its panic guard. It returns once the socket is there.
func (s *Server) Serve(path string, goSafe func(what string, fn func())) error {
	return s.serveWith(path, goSafe, s.handler())
}

// serveWith serves h as Serve serves the API; tests serve endpoints of
// their own.
func (s *Server) serveWith(path string, goSafe func(what string, fn func()), h handler) error {
	if goSafe == nil {
		goSafe = func(_ string, fn func()) { go fn() }
	}
	s.goSafe = goSafe
	s.serve = h
	l, fi, err := listenControl(path)
	if err != nil {
		return err
	}
	conns := &connLimiter{max: s.limits.MaxConns, spare: s.limits.SpareConns}
	s.keeper = &socketKeeper{path: path, every: s.limits.SocketCheck, stop: make(chan struct{}), goSafe: goSafe,
		serve: func(l net.Listener) {
			if err := s.acceptLoop(conns.wrap(l)); serveErr(err) {
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
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	return nil
}

// acceptLoop serves each connection l accepts in a goroutine of its own,
// until l is closed. A failure to accept (out of file descriptors, say)
// is waited out, as net/http does.
func (s *Server) acceptLoop(l net.Listener) error {
	wait := time.Duration(0)
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			wait = min(max(2*wait, 5*time.Millisecond), time.Second)
			slog.Debug("control API: accept failed; trying again", "err", err, "wait", wait)
			time.Sleep(wait)
			continue
		}
		wait = 0
		if !s.track(c, true) {
			c.Close()
			return net.ErrClosed
		}
		s.goSafe("control connection", func() { s.serveConn(c) })
	}
}

// track adds c to the open connections, or takes it out; it reports
// false once the server is closed.
func (s *Server) track(c net.Conn, open bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if open {
		if s.closed {
			return false
		}
		s.conns[c] = true
	} else {
		delete(s.conns, c)
	}
	return true
}

// serveConn serves the requests of one connection until the caller
// hangs up, a limit ends it, or an answer asks to close it. It never
// panics: a panic here would make the guard run it again on a
// connection half used.
func (s *Server) serveConn(c net.Conn) {
	defer func() {
		if p := recover(); p != nil {
			slog.Error("panic in the control API", "panic", p, "stack", string(debug.Stack()))
		}
		s.track(c, false)
		c.Close()
	}()
	base := context.Background()
	if lc, ok := c.(*limitedConn); ok && lc.refused {
		base = context.WithValue(base, refusedKey{}, true)
	} else {
		base = context.WithValue(base, callerKey{}, s.Identify(unwrapConn(c)))
	}
	br := bufio.NewReaderSize(c, 1024)
	bw := bufio.NewWriterSize(c, 4096)
	deadline := func(d time.Duration) time.Time {
		if d <= 0 {
			return time.Time{}
		}
		return time.Now().Add(d)
	}
	for first := true; ; first = false {
		if !first {
			// Between requests: IdleTimeout (or ReadTimeout) to begin
			// the next one.
			idle := s.limits.IdleTimeout
			if idle == 0 {
				idle = s.limits.ReadTimeout
			}
			_ = c.SetReadDeadline(deadline(idle))
			if _, err := br.Peek(1); err != nil {
				return
			}
		}
		header := s.limits.ReadHeaderTimeout
		if header == 0 {
			header = s.limits.ReadTimeout
		}
		_ = c.SetReadDeadline(deadline(header))
		ctx, cancel := context.WithCancel(base)
		req, err := readRequest(ctx, br)
		if err != nil {
			cancel()
			var bad *errRequest
			if errors.As(err, &bad) {
				_ = c.SetWriteDeadline(deadline(s.limits.WriteTimeout))
				w := &connResponse{conn: c, w: bw, req: &request{}, close: true}
				writeError(w, bad.code, bad.msg)
				_ = w.finish()
			}
			return
		}
		_ = c.SetWriteDeadline(deadline(s.limits.WriteTimeout))
		w := &connResponse{conn: c, w: bw, req: req, close: req.close}
		// While the handler runs, a read tells when the caller hangs up
		// (a follower, a stop that waits), as net/http's does; with a
		// body, only once it was read, the reader being the handler's
		// until then.
		watch := s.watchHangup(c, br, cancel)
		if req.length != 0 {
			s.prepareBody(c, br, w, req, watch.start)
		} else {
			watch.start()
		}
		s.serve(w, req)
		err = w.finish()
		cancel()
		hungUp := watch.stop()
		if err != nil || w.close || hungUp {
			return
		}
	}
}

// prepareBody gives req the body it announced, read from br as the
// endpoint asks for it: each read within ReadTimeout, and the answer's
// WriteTimeout counted again from the body's end, since streaming a large
// body may take longer than either.
func (s *Server) prepareBody(c net.Conn, br *bufio.Reader, w *connResponse, req *request, atEnd func()) {
	b := &body{r: br, chunked: req.length < 0, left: max(req.length, 0), max: maxBodyBytes}
	if d := s.limits.ReadTimeout; d > 0 {
		b.stall = func() error { return c.SetReadDeadline(time.Now().Add(d)) }
	} else {
		_ = c.SetReadDeadline(time.Time{}) // not the headers' any more
	}
	if req.expect {
		b.beforeFirst = func() error {
			if w.sent {
				return errors.New("the answer was sent before the body was read")
			}
			if _, err := w.w.WriteString("HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
				return err
			}
			return w.w.Flush()
		}
	}
	b.atEnd = func() {
		atEnd()
		if d := s.limits.WriteTimeout; d > 0 {
			_ = c.SetWriteDeadline(time.Now().Add(d))
		}
	}
	req.body = b
	req.skipBody = func() error { return b.skip(c.SetReadDeadline, s.limits.ReadTimeout) }
}

// hangupWatch reads from a connection while a handler runs, to cancel the
// request's context when the caller hangs up.
type hangupWatch struct {
	s       *Server
	c       net.Conn
	br      *bufio.Reader
	cancel  func()
	done    chan bool // true: the caller hung up
	started bool
}

func (s *Server) watchHangup(c net.Conn, br *bufio.Reader, cancel func()) *hangupWatch {
	return &hangupWatch{s: s, c: c, br: br, cancel: cancel}
}

// start starts watching, unless a byte of the next request is already
// here: then the caller is there. It is called from the handler's
// goroutine, or before it runs.
func (h *hangupWatch) start() {
	if h.started || h.br.Buffered() > 0 {
		return
	}
	h.started = true
	_ = h.c.SetReadDeadline(time.Time{})
	h.done = make(chan bool, 1)
	h.s.goSafe("control connection watch", func() {
		_, err := h.br.Peek(1)
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			h.cancel()
			h.done <- true
			return
		}
		h.done <- false
	})
}

// stop stops watching and reports whether the caller hung up; a byte of
// a next request that the watch read is kept for the next readRequest.
func (h *hangupWatch) stop() bool {
	if !h.started {
		return false
	}
	_ = h.c.SetReadDeadline(time.Unix(1, 0)) // ends the Peek
	gone := <-h.done
	_ = h.c.SetReadDeadline(time.Time{})
	return gone
}

func (s *Server) handler() handler {
	read := access{}
	services := access{need: &capSysAdmin, action: func(r *request) (string, string) {
		return r.pathValue("action"), r.pathValue("name")
	}}
	power := func(action string) access {
		return access{need: &capSysBoot, action: func(*request) (string, string) { return action, "" }}
	}
	mux := &router{fallback: authorise(read, noEndpoint)}
	mux.handle("GET", PathServices, authorise(read, s.list))
	mux.handle("GET", PathService, authorise(read, s.status))
	mux.handle("POST", PathAction, authorise(services, s.act))
	mux.handle("GET", PathLogs, authorise(read, s.logs))
	mux.handle("GET", PathAnalyze, authorise(read, s.analyze))
	mux.handle("GET", PathMetrics, authorise(read, s.metrics))
	mux.handle("POST", PathPoweroff, authorise(power("poweroff"), s.powerHandler("poweroff")))
	mux.handle("POST", PathReboot, authorise(power("reboot"), s.powerHandler("reboot")))
	s.updateHandlers(mux)
	return recoverPanics(refuseOverCap(cleanPathsOnly(mux.serve)))
}

func noEndpoint(w responseWriter, r *request) {
	writeError(w, 404, fmt.Sprintf("no endpoint %s %s", r.method, r.path))
}

// cleanPathsOnly answers 404 to a path with dot segments, doubled or
// trailing slashes: a name such as ../../etc/passwd is no service's,
// container's or log's, and it is no redirect either.
func cleanPathsOnly(next handler) handler {
	return func(w responseWriter, r *request) {
		if !cleanPath(r.path) {
			noEndpoint(w, r)
			return
		}
		next(w, r)
	}
}

// refuseOverCap answers 503 on a connection accepted over the cap, and
// closes it.
func refuseOverCap(next handler) handler {
	return func(w responseWriter, r *request) {
		if refused, _ := r.ctx.Value(refusedKey{}).(bool); refused {
			w.setHeader("Connection", "close")
			writeError(w, 503, "init's control API has too many connections open; try again once some have closed")
			return
		}
		next(w, r)
	}
}

func (s *Server) list(w responseWriter, r *request) {
	list := s.backend.Services()
	if list == nil {
		list = []Service{}
	}
	writeJSON(w, 200, list)
}

// lookup returns the service the request names, or answers 404 with the
// names closest to it.
func (s *Server) lookup(w responseWriter, r *request) (Service, bool) {
	name := r.pathValue("name")
	if st, ok := s.backend.Service(name); ok {
		return st, true
	}
	var names []string
	for _, st := range s.backend.Services() {
		names = append(names, st.Name)
	}
	writeJSON(w, 404, Error{
		Error:       fmt.Sprintf("no service %q", name),
		Suggestions: textdist.Closest(name, names, 3),
	})
	return Service{}, false
}

func (s *Server) status(w responseWriter, r *request) {
	if st, ok := s.lookup(w, r); ok {
		writeJSON(w, 200, st)
	}
}

func (s *Server) act(w responseWriter, r *request) {
	action := r.pathValue("action")
	switch action {
	case ActionStart, ActionStop, ActionRestart:
	default:
		writeError(w, 400, fmt.Sprintf("unknown action %q (start, stop or restart)", action))
		return
	}
	if _, ok := s.lookup(w, r); !ok {
		return
	}
	name := r.pathValue("name")
	err := s.backend.Act(r.ctx, name, action)
	// Stopping waits for the service's stopTimeout, which may be longer
	// than WriteTimeout: the time to answer counts from now.
	_ = s.writeDeadline(w)
	if err != nil {
		if r.ctx.Err() != nil {
			return // the caller is gone
		}
		writeJSON(w, 409, Error{Error: fmt.Sprintf("%s %s: %v", action, name, err)})
		return
	}
	st, _ := s.backend.Service(name)
	writeJSON(w, 200, st)
}

// logs sends the last lines of a log, one JSON object a line, and with
// follow=true every later line until the caller hangs up.
func (s *Server) logs(w responseWriter, r *request) {
	name := r.pathValue("name")
	log, ok := s.backend.Log(name)
	if !ok {
		writeJSON(w, 404, Error{
			Error:       fmt.Sprintf("no log %q", name),
			Suggestions: textdist.Closest(name, s.backend.LogNames(), 3),
		})
		return
	}
	n := -1
	if v := r.query("lines"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			writeError(w, 400, fmt.Sprintf("lines=%q is not a number", v))
			return
		}
	}
	follow := false
	if v := r.query("follow"); v != "" {
		var err error
		if follow, err = strconv.ParseBool(v); err != nil {
			writeError(w, 400, fmt.Sprintf("follow=%q is not true or false", v))
			return
		}
	}
	if !follow {
		w.setHeader("Content-Type", "application/x-ndjson")
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
		writeError(w, 503, fmt.Sprintf("init serves at most %d followers of logs at once; stop one first", s.limits.MaxFollowers))
		return
	}
	defer s.followers.Add(-1)
	s.follow(w, r, log, n)
}

// writeDeadline gives the answer WriteTimeout from now to be written.
func (s *Server) writeDeadline(w responseWriter) error {
	if s.limits.WriteTimeout <= 0 {
		return nil
	}
	return w.setWriteDeadline(time.Now().Add(s.limits.WriteTimeout))
}

// follow sends the last n lines of log, then every later line until the
// caller hangs up. The server's deadlines bound a whole answer, which a
// healthy follower outlives: each write gets a deadline of its own
// instead, so that a follower that stops reading is dropped, with the
// lines it would not take, once that deadline passes.
func (s *Server) follow(w responseWriter, r *request, log Log, n int) {
	send := func(lines []LogLine) bool {
		if s.writeDeadline(w) != nil {
			return false
		}
		enc := json.NewEncoder(w)
		for _, l := range lines {
			if enc.Encode(l) != nil {
				return false
			}
		}
		return w.flush() == nil
	}
	w.setHeader("Content-Type", "application/x-ndjson")
	w.writeHeader(200)
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
		case <-r.ctx.Done():
			return
		}
	}
}

func (s *Server) analyze(w responseWriter, r *request) {
	an := s.backend.Analysis()
	// Lists, never null, even before the first phase ends.
	if an.Phases == nil {
		an.Phases = []Phase{}
	}
	if an.Services == nil {
		an.Services = []ServiceTimes{}
	}
	writeJSON(w, 200, an)
}

func (s *Server) metrics(w responseWriter, r *request) {
	writeJSON(w, 200, s.backend.Metrics())
}

func (s *Server) powerHandler(action string) handler {
	return func(w responseWriter, r *request) {
		writeJSON(w, 202, map[string]string{"status": action + " requested"})
		// Answer before shutting down: the caller may be a service
		// that is about to be stopped.
		_ = w.flush()
		p, _ := r.ctx.Value(callerKey{}).(*Caller)
		s.backend.Power(action, p)
	}
}

// recoverPanics answers 500 for a handler that panicked, rather than
// closing the connection without a word.
func recoverPanics(next handler) handler {
	return func(w responseWriter, r *request) {
		defer func() {
			if p := recover(); p != nil {
				slog.Error("panic in the control API", "path", r.path, "panic", p, "stack", string(debug.Stack()))
				w.setHeader("Connection", "close")
				writeError(w, 500, fmt.Sprintf("internal error: %v", p))
			}
		}()
		next(w, r)
	}
}

func writeJSON(w responseWriter, code int, v any) {
	w.setHeader("Content-Type", "application/json")
	w.writeHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w responseWriter, code int, msg string) {
	writeJSON(w, code, Error{Error: msg})
}
