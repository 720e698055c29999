package supervisor

import (
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The supervisor's tests drive it through a fake clock and a fake
// launcher: no sleeping, no containers. Waits below are guarded by a
// generous real timeout only so that a broken supervisor fails the test
// instead of hanging it; they measure nothing.
const hang = 10 * time.Second

// fakeClock is a clock that moves only when the test says so.
type fakeClock struct {
	mu      sync.Mutex
	epoch   time.Time
	now     time.Time
	timers  []*fakeTimer
	calls   int           // of After
	changed chan struct{} // closed when a timer is added
}

type fakeTimer struct {
	at time.Time
	d  time.Duration
	c  chan time.Time
}

func newFakeClock() *fakeClock {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return &fakeClock{epoch: t0, now: t0, changed: make(chan struct{})}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Boot() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now.Sub(c.epoch) + time.Second
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	t := &fakeTimer{at: c.now.Add(d), d: d, c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
	} else {
		c.timers = append(c.timers, t)
	}
	close(c.changed)
	c.changed = make(chan struct{})
	return t.c
}

// advance moves the clock and fires the timers that are due.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			t.c <- c.now
		} else {
			kept = append(kept, t)
		}
	}
	c.timers = kept
}

// waitTimer waits until someone waits on a timer of d, and returns when
// it would fire.
func (c *fakeClock) waitTimer(t testing.TB, d time.Duration) {
	t.Helper()
	deadline := time.After(hang)
	for {
		c.mu.Lock()
		changed := c.changed
		for _, tm := range c.timers {
			if tm.d == d {
				c.mu.Unlock()
				return
			}
		}
		var pending []time.Duration
		for _, tm := range c.timers {
			pending = append(pending, tm.d)
		}
		c.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("nobody waits %v; pending timers: %v", d, pending)
		}
	}
}

// afterCalls counts the timers asked for so far.
func (c *fakeClock) afterCalls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// waitAfterCalls waits until n timers in all were asked for.
func (c *fakeClock) waitAfterCalls(t testing.TB, n int) {
	t.Helper()
	deadline := time.After(hang)
	for {
		c.mu.Lock()
		calls, changed := c.calls, c.changed
		c.mu.Unlock()
		if calls >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("%d timers asked for, want %d", calls, n)
		}
	}
}

// fakeLauncher hands out fake processes the test controls.
type fakeLauncher struct {
	mu       sync.Mutex
	pid      int
	procs    map[string][]*fakeProc
	launched map[string]chan *fakeProc // every successful launch, by name
	fail     map[string]error          // the next launch of NAME fails so
	entered  chan string               // names whose Launch began (when gated)
	gate     chan struct{}             // when set, Launch waits for it to close
	onLaunch func(p *fakeProc)
	notify   bool // hand out processes that say when they ended (exitNotifier)
}

func newFakeLauncher() *fakeLauncher {
	return &fakeLauncher{
		pid:      100,
		procs:    map[string][]*fakeProc{},
		launched: map[string]chan *fakeProc{},
		fail:     map[string]error{},
	}
}

func (l *fakeLauncher) Launch(cfg *Config, out io.Writer) (Process, error) {
	l.mu.Lock()
	gate := l.gate
	l.mu.Unlock()
	if gate != nil {
		l.entered <- cfg.Name
		<-gate
	}
	l.mu.Lock()
	if err := l.fail[cfg.Name]; err != nil {
		delete(l.fail, cfg.Name)
		l.mu.Unlock()
		return nil, err
	}
	l.pid++
	p := &fakeProc{name: cfg.Name, pid: l.pid, out: out, exit: make(chan int, 1), exited: make(chan struct{}),
		signals: make(chan os.Signal, 16)}
	l.procs[cfg.Name] = append(l.procs[cfg.Name], p)
	onLaunch, notify := l.onLaunch, l.notify
	l.mu.Unlock()
	if onLaunch != nil {
		onLaunch(p)
	}
	l.queue(cfg.Name) <- p
	if notify {
		return notifyingProc{p}, nil
	}
	return p, nil
}

func (l *fakeLauncher) queue(name string) chan *fakeProc {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.launched[name]
	if q == nil {
		q = make(chan *fakeProc, 1000)
		l.launched[name] = q
	}
	return q
}

// count is how many times name was launched.
func (l *fakeLauncher) count(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.procs[name])
}

// next waits for the next launch of name.
func (l *fakeLauncher) next(t testing.TB, name string) *fakeProc {
	t.Helper()
	select {
	case p := <-l.queue(name):
		return p
	case <-time.After(hang):
		t.Fatalf("%s was never launched", name)
	}
	return nil
}

// none checks that nothing was launched that the test did not take.
func (l *fakeLauncher) none(t testing.TB) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, q := range l.launched {
		if len(q) > 0 {
			t.Fatalf("%s was launched unexpectedly", name)
		}
	}
}

// fakeProc is a process that ends when the test says so, or on SIGKILL.
type fakeProc struct {
	name    string
	pid     int
	out     io.Writer
	exit    chan int
	exited  chan struct{} // closed by the first end
	ended   sync.Once
	signals chan os.Signal
}

// notifyingProc is a fakeProc that says when it ended, as init's
// containers do.
type notifyingProc struct{ *fakeProc }

func (p notifyingProc) Exited() <-chan struct{} { return p.exited }

func (p *fakeProc) Pid() int { return p.pid }

func (p *fakeProc) Signal(sig os.Signal) error {
	select {
	case p.signals <- sig:
	default:
	}
	if sig == unix.SIGKILL {
		p.end(128 + int(unix.SIGKILL))
	}
	return nil
}

func (p *fakeProc) Wait() (int, error) { return <-p.exit, nil }

// end makes the process exit with code (once).
func (p *fakeProc) end(code int) {
	select {
	case p.exit <- code:
	default:
	}
	p.ended.Do(func() { close(p.exited) })
}

// signaled waits for the next signal the process gets.
func (p *fakeProc) signaled(t testing.TB) os.Signal {
	t.Helper()
	select {
	case s := <-p.signals:
		return s
	case <-time.After(hang):
		t.Fatalf("%s got no signal", p.name)
	}
	return nil
}

// discardLogs is where the output of fake processes goes.
type discardLogs struct{}

func (discardLogs) ForContainer(string) (io.Writer, func()) { return io.Discard, func() {} }

// testSupervisor is a supervisor over fakes, with its services' configs
// made by cfg.
type testSupervisor struct {
	*Supervisor
	clock    *fakeClock
	launcher *fakeLauncher
}

// newTestSupervisor makes a supervisor of the given services; call Run
// once they are set up. Their output is discarded.
func newTestSupervisor(t testing.TB, cfgs ...Config) *testSupervisor {
	t.Helper()
	ts := &testSupervisor{clock: newFakeClock(), launcher: newFakeLauncher()}
	ts.Supervisor = New(Options{Launcher: ts.launcher, Clock: ts.clock, Logs: discardLogs{}})
	for _, c := range cfgs {
		ts.Add(c)
	}
	t.Cleanup(func() {
		ts.launcher.mu.Lock()
		for _, ps := range ts.launcher.procs {
			for _, p := range ps {
				p.end(0)
			}
		}
		ts.launcher.mu.Unlock()
		ts.close()
	})
	return ts
}

// svc is a service config with the default policy.
func svc(name string, change ...func(*Config)) Config {
	c := Config{Name: name, restart: defaultRestarter, stopSignal: unix.SIGTERM, stopTimeout: 10 * time.Second}
	for _, f := range change {
		f(&c)
	}
	return c
}

func policy(p restartPolicy) func(*Config) {
	return func(c *Config) { c.restart.policy = p }
}

func dependsOn(names ...string) func(*Config) {
	return func(c *Config) { c.dependsOn = names }
}

func notifies(c *Config) { c.notify = true }

// waitState waits until the service is in state.
func (ts *testSupervisor) waitState(t testing.TB, name, state string) serviceState {
	t.Helper()
	s := ts.service(name)
	deadline := time.After(hang)
	for {
		changed := ts.watch()
		st := s.state()
		if st.state == state {
			return st
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("%s is %s (%s), never %s", name, st.state, st.err, state)
		}
	}
}

func (st serviceState) String() string {
	return fmt.Sprintf("%s pid=%d restarts=%d exit=%d err=%q", st.state, st.pid, st.restarts, st.exit, st.err)
}
