// Package supervisor runs a system's services and keeps each in the
// state its policy asks for: started as soon as its dependencies are
// ready, restarted after a backoff, failed after a crash loop, ready when
// it says so over sd_notify, stopped before the services it depends on.
// It knows nothing of containers: a Launcher makes a service's Process,
// and a Clock tells the time, so that tests drive it with fakes.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/minikit/minikit/internal/control"
)

// Each service has one goroutine, its loop, which alone changes the
// service (lifecycle.go: idle, waiting for dependencies, launching,
// running, stopping, backing off). Commands (start, stop, restart) and
// sd_notify messages reach the loop over channels; readers see a copy of
// its state under a mutex. What to do after an exit is the restarter's
// decision (restart.go), apart from this mechanism; what a bundle says of
// its service is read in config.go.

// Process is one run of a service: all the supervisor needs of a
// container, so that tests can drive it with a fake. A Process that has
// a Usage() (*control.Usage, error) method reports its resource use too,
// and one with an Exited() <-chan struct{} says when it has ended
// (exitNotifier).
type Process interface {
	Pid() int
	Signal(os.Signal) error
	// Wait waits for the process to end and returns its exit status
	// (128+N when signal N killed it).
	Wait() (exit int, err error)
}

// exitNotifier is a process that says when it has ended without anyone
// waiting on it: Exited is closed once it has, and Wait then returns at
// once. Its service's loop waits for that in its select, where any other
// process needs a goroutine of its own parked in Wait, one for each
// running service.
type exitNotifier interface {
	Exited() <-chan struct{}
}

// usageReporter is a process that can tell its resource use.
type usageReporter interface {
	Usage() (*control.Usage, error)
}

// Launcher starts a service's process, its output going to out.
type Launcher interface {
	Launch(cfg *Config, out io.Writer) (Process, error)
}

// Clock is the supervisor's time, so tests can drive backoff, stop
// timeouts and watchdogs without sleeping.
type Clock interface {
	Now() time.Time
	After(time.Duration) <-chan time.Time
	// Boot is the time since the kernel started, for the boot timeline.
	Boot() time.Duration
}

// Logs is where services' output goes.
type Logs interface {
	// ForContainer returns the writer of a service's stdout and stderr,
	// and a func that closes it once the process has exited, having
	// taken its last lines.
	ForContainer(name string) (out io.Writer, closeOut func())
}

// Options are what a Supervisor works with.
type Options struct {
	Launcher Launcher
	Clock    Clock
	Logs     Logs
	// GoSafe runs each of the supervisor's goroutines (init's panic
	// guard); nil runs plain goroutines.
	GoSafe func(what string, fn func())
	// NotifyDir is where the notify sockets are made, in init's mount
	// namespace and out of every container's reach; inside its container
	// each service sees its own socket alone, under control.NotifyDir.
	// "" makes none.
	NotifyDir string
}

// Supervisor holds the services of the system.
type Supervisor struct {
	launcher  Launcher
	clock     Clock
	logs      Logs
	goSafe    func(what string, fn func())
	notifyDir string

	services []*service // in the order of their names
	byName   map[string]*service

	mu      sync.Mutex
	changed chan struct{} // closed, and replaced, when any service changes
	closing bool          // shutting down: no more starts
	quit    chan struct{} // closed to end every loop (tests)
}

// New returns a supervisor without services; Add them, then Run.
func New(o Options) *Supervisor {
	sup := &Supervisor{
		launcher: o.Launcher, clock: o.Clock, logs: o.Logs, goSafe: o.GoSafe, notifyDir: o.NotifyDir,
		byName:  map[string]*service{},
		changed: make(chan struct{}),
		quit:    make(chan struct{}),
	}
	if sup.goSafe == nil {
		sup.goSafe = func(_ string, fn func()) { go fn() }
	}
	return sup
}

// Add registers a service; call it for all before Run.
func (sup *Supervisor) Add(cfg Config) {
	s := &service{
		name:  cfg.Name,
		cfg:   cfg,
		sup:   sup,
		cmds:  make(chan command, 8),
		notes: make(chan notifyMsg, 16),
		dead:  make(chan struct{}),
	}
	s.st = serviceState{state: control.StateStopped, since: sup.clock.Now()}
	s.times.Name = cfg.Name
	sup.services = append(sup.services, s)
	sup.byName[cfg.Name] = s
}

// Run checks the dependencies, opens the notify sockets and starts every
// service's loop; services not broken start at once, in parallel, each
// waiting only for its own dependencies.
func (sup *Supervisor) Run() {
	slices.SortFunc(sup.services, func(a, b *service) int { return strings.Compare(a.name, b.name) })
	deps := map[string][]string{}
	for _, s := range sup.services {
		deps[s.name] = s.cfg.dependsOn
	}
	for name, err := range dependencyErrors(deps) {
		s := sup.byName[name]
		s.cfg.err = errors.Join(s.cfg.err, err)
	}
	for _, s := range sup.services {
		if s.cfg.notify && s.cfg.err == nil && sup.notifyDir != "" {
			if err := s.openNotify(sup.notifyDir); err != nil {
				s.cfg.err = err
			}
		}
		if err := s.cfg.err; err != nil {
			slog.Error("service "+s.name+" cannot start: "+err.Error(), "service", s.name)
			s.update(func(st *serviceState) { st.state, st.err = control.StateFailed, err.Error() })
		}
	}
	for _, s := range sup.services {
		autostart := s.cfg.err == nil
		sup.goSafe("supervise "+s.name, func() {
			s.supervise(autostart)
			close(s.dead) // not deferred: after a panic the loop resumes
		})
	}
}

// service returns the service called name, or nil.
func (sup *Supervisor) service(name string) *service { return sup.byName[name] }

// Statuses is the state of every service, in the order of their names.
func (sup *Supervisor) Statuses() []control.Service {
	list := make([]control.Service, 0, len(sup.services))
	for _, s := range sup.services {
		list = append(list, s.status())
	}
	return list
}

// Status is the state of the service called name; false when there is
// none.
func (sup *Supervisor) Status(name string) (control.Service, bool) {
	s := sup.byName[name]
	if s == nil {
		return control.Service{}, false
	}
	return s.status(), true
}

// BootTimes is when each service first waited, started and was ready, in
// the order of their names.
func (sup *Supervisor) BootTimes() []control.ServiceTimes {
	times := make([]control.ServiceTimes, 0, len(sup.services))
	for _, s := range sup.services {
		times = append(times, s.bootTimes())
	}
	return times
}

// Act carries out an action (control.ActionStart, ActionStop or
// ActionRestart) on the service called name, and returns once it took
// effect: a stop once the process is gone, a start once the process
// started (or failed to start, or waits for its dependencies).
func (sup *Supervisor) Act(ctx context.Context, name, action string) error {
	s := sup.byName[name]
	if s == nil {
		return fmt.Errorf("no service %q", name)
	}
	for _, kind := range []commandKind{cmdStart, cmdStop, cmdRestart} {
		if kind.String() == action {
			return s.do(ctx, kind)
		}
	}
	return fmt.Errorf("unknown action %q (start, stop or restart)", action)
}

// watch returns a channel that is closed at the next change of any
// service.
func (sup *Supervisor) watch() <-chan struct{} {
	sup.mu.Lock()
	defer sup.mu.Unlock()
	return sup.changed
}

func (sup *Supervisor) broadcast() {
	sup.mu.Lock()
	close(sup.changed)
	sup.changed = make(chan struct{})
	sup.mu.Unlock()
}

// unready lists the dependencies in names that are not ready, with their
// state.
func (sup *Supervisor) unready(names []string) []string {
	var out []string
	for _, n := range names {
		d := sup.byName[n]
		if d == nil {
			out = append(out, n+" (unknown)")
			continue
		}
		if st := d.state(); !d.satisfies(st) {
			out = append(out, n+" ("+st.state+")")
		}
	}
	return out
}

// StopAll stops every service, each before the services it depends on,
// and refuses starts from then on. It returns when all have stopped or
// ctx ends.
func (sup *Supervisor) StopAll(ctx context.Context) {
	sup.RefuseStarts()
	deps := map[string][]string{}
	for _, s := range sup.services {
		deps[s.name] = s.cfg.dependsOn
	}
	for _, group := range stopOrder(deps) {
		var wg sync.WaitGroup
		for _, name := range group {
			s := sup.byName[name]
			wg.Add(1)
			sup.goSafe("stop "+name, func() {
				_ = s.stop(ctx)
				wg.Done() // not deferred: after a panic the stop is tried again
			})
		}
		wg.Wait()
	}
}

// RefuseStarts makes every later start or restart fail: the system is
// shutting down.
func (sup *Supervisor) RefuseStarts() {
	sup.mu.Lock()
	sup.closing = true
	sup.mu.Unlock()
}

func (sup *Supervisor) isClosing() bool {
	sup.mu.Lock()
	defer sup.mu.Unlock()
	return sup.closing
}

// close ends every loop without stopping anything. For tests.
func (sup *Supervisor) close() {
	close(sup.quit)
	for _, s := range sup.services {
		<-s.dead
		if s.sock != nil {
			_ = s.sock.close()
		}
	}
}

// service is one supervised service.
type service struct {
	name string
	cfg  Config
	sup  *Supervisor

	cmds  chan command
	notes chan notifyMsg
	sock  *notifySocket
	dead  chan struct{} // closed when the loop ends

	mu    sync.Mutex // guards st, proc and times, which only the loop writes
	st    serviceState
	proc  Process
	times control.ServiceTimes

	// Owned by the loop.
	failures int       // failed runs in a row
	waiting  []command // commands answered when the loop gets to them
	current  *launched // the process running, if one is
	entered  bool      // the loop ran before: it panicked
}

// serviceState is a service's state as others may read it.
type serviceState struct {
	state    string
	pid      int
	restarts int
	since    time.Time // when state was entered
	started  time.Time // when the running process started
	status   string    // STATUS= from sd_notify
	exit     int
	exited   bool // exit is set
	err      string
}

// state returns a copy of the service's state.
func (s *service) state() serviceState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// satisfies reports whether a dependent of s may start while s is in st:
// s runs (and said READY=1, if it notifies), or it ran to a successful
// end, as a one-shot setup service does.
func (s *service) satisfies(st serviceState) bool {
	switch st.state {
	case control.StateReady:
		return true
	case control.StateRunning:
		return !s.cfg.notify
	case control.StateExited:
		return st.exited && st.exit == 0
	}
	return false
}

// update changes the state under the lock and tells everyone who waits
// for a change, if there was one. Only the loop calls it (and run, before
// the loops start).
func (s *service) update(change func(*serviceState)) {
	s.mu.Lock()
	before := s.st
	change(&s.st)
	if s.st.state != before.state {
		s.st.since = s.sup.clock.Now()
	}
	after := s.st
	s.mu.Unlock()
	if after != before {
		s.sup.broadcast()
	}
}

// bootTimes is when the service first waited, started and was ready.
func (s *service) bootTimes() control.ServiceTimes {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.times
}

// status is the service's state for the control API.
func (s *service) status() control.Service {
	s.mu.Lock()
	st, proc := s.st, s.proc
	s.mu.Unlock()
	out := control.Service{
		Name:      s.name,
		State:     st.state,
		Ready:     s.satisfies(st) && st.state != control.StateExited,
		Pid:       st.pid,
		Restarts:  st.restarts,
		Since:     st.since,
		Status:    st.status,
		Error:     st.err,
		Restart:   s.cfg.restart.policy.String(),
		DependsOn: s.cfg.dependsOn,
		Notify:    s.cfg.notify,
	}
	if st.exited {
		exit := st.exit
		out.LastExit = &exit
	}
	if !st.started.IsZero() {
		out.Started = st.started
		out.UptimeSeconds = s.sup.clock.Now().Sub(st.started).Seconds()
	}
	if u, ok := proc.(usageReporter); ok {
		if usage, err := u.Usage(); err == nil {
			out.Usage = usage
		}
	}
	return out
}

// Commands a service's loop takes.
type commandKind int

const (
	cmdStart commandKind = iota
	cmdStop
	cmdRestart
)

func (k commandKind) String() string {
	return [...]string{control.ActionStart, control.ActionStop, control.ActionRestart}[k]
}

type command struct {
	kind  commandKind
	reply chan error // buffered; answered once
}

func (c command) answer(err error) { c.reply <- err }

// errLoopEnded answers commands sent to a service whose loop is gone.
var errLoopEnded = errors.New("the service's supervisor is gone")

// do sends a command to the loop and waits until it took effect: a stop
// until the process is gone, a start until the process was started (or
// failed to start, or waits for dependencies).
func (s *service) do(ctx context.Context, kind commandKind) error {
	if kind != cmdStop && s.sup.isClosing() {
		return errors.New("the system is shutting down")
	}
	c := command{kind: kind, reply: make(chan error, 1)}
	select {
	case s.cmds <- c:
	case <-s.dead:
		return errLoopEnded
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-c.reply:
		return err
	case <-s.dead:
		return errLoopEnded
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *service) start(ctx context.Context) error   { return s.do(ctx, cmdStart) }
func (s *service) restart(ctx context.Context) error { return s.do(ctx, cmdRestart) }

// stop sends the stop signal, kills the process after the stop timeout,
// and returns once it is gone (or ctx ends).
func (s *service) stop(ctx context.Context) error { return s.do(ctx, cmdStop) }

// answerWaiting answers the commands of the given kinds that wait.
func (s *service) answerWaiting(err error, kinds ...commandKind) {
	kept := s.waiting[:0]
	for _, c := range s.waiting {
		answered := false
		for _, k := range kinds {
			if c.kind == k {
				c.answer(err)
				answered = true
				break
			}
		}
		if !answered {
			kept = append(kept, c)
		}
	}
	s.waiting = kept
}

// openNotify creates the service's sd_notify socket and passes what it
// hears to the loop.
func (s *service) openNotify(dir string) error {
	sock, err := listenNotify(filepath.Join(dir, s.name))
	if err != nil {
		return err
	}
	s.sock = sock
	s.cfg.NotifyHost = sock.path
	s.cfg.NotifyPath = filepath.Join(control.NotifyDir, s.name)
	s.sup.goSafe("notify "+s.name, func() {
		sock.serve(func(m notifyMsg) {
			select {
			case s.notes <- m:
			case <-s.dead:
			}
		})
	})
	return nil
}
