package supervisor

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/control"
	"golang.org/x/sys/unix"
)

func TestAKilledServiceRunsAgain(t *testing.T) {
	ts := newTestSupervisor(t, svc("victim"))
	ts.Run()
	first := ts.launcher.next(t, "victim")
	ts.waitState(t, "victim", control.StateRunning)

	first.end(128 + int(unix.SIGKILL))
	ts.clock.waitTimer(t, defaultRestarter.base)
	if st := ts.service("victim").state(); st.state != control.StateBackoff {
		t.Fatalf("after its death the service is %v, want backoff", st)
	}
	ts.clock.advance(defaultRestarter.base)
	second := ts.launcher.next(t, "victim")
	st := ts.waitState(t, "victim", control.StateRunning)
	if st.pid != second.pid || st.restarts != 1 || st.exit != 137 {
		t.Errorf("after the restart: %v; want pid %d, 1 restart, last exit 137", st, second.pid)
	}
}

// A process that says when it has ended (init's containers do) needs no
// goroutine parked in its Wait, one for each running service; its
// service still sees it die, restarts it, and stops it.
func TestAProcessThatSaysItEndedNeedsNoWaiter(t *testing.T) {
	ts := newTestSupervisor(t, svc("victim"), svc("web"))
	ts.launcher.notify = true
	ts.launcher.onLaunch = func(p *fakeProc) {
		go func() {
			if <-p.signals == unix.SIGTERM {
				p.end(0)
			}
		}()
	}
	var mu sync.Mutex
	var goroutines []string
	ts.goSafe = func(what string, fn func()) {
		mu.Lock()
		goroutines = append(goroutines, what)
		mu.Unlock()
		go fn()
	}
	ts.Run()
	first := ts.launcher.next(t, "victim")
	ts.launcher.next(t, "web")
	ts.waitState(t, "victim", control.StateRunning)
	ts.waitState(t, "web", control.StateRunning)

	first.end(128 + int(unix.SIGKILL))
	ts.clock.waitTimer(t, defaultRestarter.base)
	ts.clock.advance(defaultRestarter.base)
	second := ts.launcher.next(t, "victim")
	if st := ts.waitState(t, "victim", control.StateRunning); st.pid != second.pid || st.restarts != 1 || st.exit != 137 {
		t.Errorf("after its death and restart: %v; want pid %d, 1 restart, last exit 137", st, second.pid)
	}
	if err := ts.service("web").stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := ts.service("web").state(); st.state != control.StateStopped || st.exit != 0 {
		t.Errorf("after stop: %v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, g := range goroutines {
		if strings.HasPrefix(g, "wait for ") {
			t.Errorf("goroutines started: %q; want none waiting for a process", goroutines)
			break
		}
	}
}

func TestACrashLoopBacksOffThenFailsWithoutDisturbingOthers(t *testing.T) {
	ts := newTestSupervisor(t, svc("crasher"), svc("steady"))
	ts.Run()
	// steady starts beside the crasher, in its own goroutine: wait for it
	// to be running, or the check at the end races its first launch.
	ts.launcher.next(t, "steady")
	ts.waitState(t, "steady", control.StateRunning)
	var waits []time.Duration
	for i := 0; ; i++ {
		p := ts.launcher.next(t, "crasher")
		ts.waitState(t, "crasher", control.StateRunning)
		p.end(3)
		if i == defaultRestarter.limit-1 {
			break
		}
		d := defaultRestarter.backoff(i + 1)
		ts.clock.waitTimer(t, d)
		waits = append(waits, d)
		ts.clock.advance(d)
	}
	st := ts.waitState(t, "crasher", control.StateFailed)
	if !strings.Contains(st.err, "crash loop") {
		t.Errorf("the failed service says %q, want a crash loop", st.err)
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
		800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second}
	if !equalDurations(waits, want) {
		t.Errorf("backoff waits %v, want %v (doubling up to the cap)", waits, want)
	}

	// Failed means failed: time passes and nothing starts it again.
	ts.clock.advance(time.Hour)
	if n := ts.launcher.count("crasher"); n != defaultRestarter.limit {
		t.Errorf("the crasher was launched %d times, want %d", n, defaultRestarter.limit)
	}
	steady := ts.service("steady").status()
	if steady.State != control.StateRunning || steady.Restarts != 0 || ts.launcher.count("steady") != 1 {
		t.Errorf("the steady service was disturbed: %+v, launched %d times", steady, ts.launcher.count("steady"))
	}

	// Until someone starts it.
	go ts.service("crasher").start(context.Background())
	ts.launcher.next(t, "crasher")
	ts.waitState(t, "crasher", control.StateRunning)
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBackoffStartsOverAfterAStableRun(t *testing.T) {
	ts := newTestSupervisor(t, svc("flaky"))
	ts.Run()
	for _, d := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond} {
		ts.launcher.next(t, "flaky").end(1)
		ts.clock.waitTimer(t, d)
		ts.clock.advance(d)
	}
	p := ts.launcher.next(t, "flaky")
	ts.waitState(t, "flaky", control.StateRunning)
	ts.clock.advance(defaultRestarter.stable)
	p.end(1)
	ts.clock.waitTimer(t, defaultRestarter.base)
}

func TestRestartPolicies(t *testing.T) {
	tests := []struct {
		name   string
		policy restartPolicy
		exit   int
		want   string
	}{
		{"never leaves a clean exit exited", restartNever, 0, control.StateExited},
		{"never leaves a failure failed", restartNever, 3, control.StateFailed},
		{"on-failure leaves a clean exit exited", restartOnFailure, 0, control.StateExited},
		{"on-failure restarts a failure", restartOnFailure, 2, control.StateBackoff},
		{"always restarts a clean exit", restartAlways, 0, control.StateBackoff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestSupervisor(t, svc("s", policy(tt.policy)))
			ts.Run()
			ts.launcher.next(t, "s")
			ts.waitState(t, "s", control.StateRunning)
			ts.launcher.procs["s"][0].end(tt.exit)
			ts.waitState(t, "s", tt.want)
		})
	}
}

func TestADependentStartsOnlyOnceItsDependencyIsReady(t *testing.T) {
	ts := newTestSupervisor(t, svc("db", notifies), svc("app", dependsOn("db")))
	ts.notifyDir = t.TempDir()
	ts.Run()
	ts.launcher.next(t, "db")
	ts.waitState(t, "db", control.StateRunning)
	app := ts.waitState(t, "app", control.StateStarting)
	if !strings.Contains(app.err, "waiting for db") {
		t.Errorf("app says %q while it waits, want it to name db", app.err)
	}
	ts.launcher.none(t)
	// As `svcctl list` shows them: db runs but is not ready, app waits.
	if st := ts.service("db").status(); st.State != control.StateRunning || st.Ready || st.Pid == 0 || !st.Notify {
		t.Errorf("db (notify, no READY=1 yet): %+v", st)
	}
	if st := ts.service("app").status(); st.State != control.StateStarting || !strings.Contains(st.Error, "waiting for db") || st.DependsOn[0] != "db" {
		t.Errorf("app (waiting for db): %+v", st)
	}
	ts.clock.advance(time.Second) // db takes a second to be ready

	// db says it is ready the way a real service does: a datagram to
	// the socket its container is given.
	cfg := ts.service("db").cfg
	if cfg.NotifyPath != filepath.Join(control.NotifyDir, "db") {
		t.Errorf("db's NOTIFY_SOCKET in its container is %q", cfg.NotifyPath)
	}
	sendNotify(t, cfg.NotifyHost, "STATUS=warming up\nREADY=1")
	ts.launcher.next(t, "app")
	ts.waitState(t, "app", control.StateRunning)
	st := ts.service("db").status()
	if st.State != control.StateReady || !st.Ready || st.Status != "warming up" {
		t.Errorf("db after READY=1: %+v", st)
	}
	times, dbTimes := ts.service("app").bootTimes(), ts.service("db").bootTimes()
	if times.Started < dbTimes.Ready || times.Waiting > dbTimes.Ready || dbTimes.Ready != dbTimes.Started+time.Second {
		t.Errorf("db %+v, app %+v: app must wait from the start and start once db is ready, a second after db started", dbTimes, times)
	}
}

func sendNotify(t *testing.T, path, msg string) {
	t.Helper()
	c, err := net.Dial("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
}

func TestServicesWithoutDependenciesStartInParallel(t *testing.T) {
	ts := newTestSupervisor(t, svc("a"), svc("b"), svc("c", dependsOn("a")))
	ts.launcher.gate = make(chan struct{})
	ts.launcher.entered = make(chan string, 3)
	ts.Run()
	// Both launches begin while neither has finished.
	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case n := <-ts.launcher.entered:
			got[n] = true
		case <-time.After(hang):
			t.Fatalf("only %v began launching: starts are serial", got)
		}
	}
	if got["c"] {
		t.Error("c began launching before its dependency a ran")
	}
	close(ts.launcher.gate)
	ts.waitState(t, "c", control.StateRunning)
}

func TestStopSendsTheStopSignalThenKills(t *testing.T) {
	ts := newTestSupervisor(t, svc("stubborn", func(c *Config) { c.stopSignal = unix.SIGINT }))
	ts.Run()
	p := ts.launcher.next(t, "stubborn")
	ts.waitState(t, "stubborn", control.StateRunning)

	stopped := make(chan error)
	go func() { stopped <- ts.service("stubborn").stop(context.Background()) }()
	if sig := p.signaled(t); sig != unix.SIGINT {
		t.Fatalf("stop sent %v, want the service's stop signal SIGINT", sig)
	}
	ts.clock.waitTimer(t, 10*time.Second)
	select {
	case <-stopped:
		t.Fatal("stop returned while the service still ran")
	default:
	}
	ts.clock.advance(10 * time.Second)
	if sig := p.signaled(t); sig != unix.SIGKILL {
		t.Fatalf("after the stop timeout: %v, want SIGKILL", sig)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if st := ts.service("stubborn").state(); st.state != control.StateStopped {
		t.Fatalf("after stop: %v", st)
	}
	ts.clock.advance(time.Hour)
	ts.launcher.none(t)
}

func TestRestartStopsAndStartsAgain(t *testing.T) {
	ts := newTestSupervisor(t, svc("web"))
	ts.launcher.onLaunch = func(p *fakeProc) {
		go func() {
			if <-p.signals == unix.SIGTERM {
				p.end(0)
			}
		}()
	}
	ts.Run()
	first := ts.launcher.next(t, "web")
	ts.waitState(t, "web", control.StateRunning)
	if err := ts.service("web").restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	second := ts.launcher.next(t, "web")
	st := ts.service("web").status()
	if st.State != control.StateRunning || st.Pid != second.pid || second.pid == first.pid {
		t.Errorf("after restart: %+v (first pid %d)", st, first.pid)
	}
	if st.Restarts != 0 {
		t.Errorf("a restart by hand counts as %d restarts; the count is of the supervisor's", st.Restarts)
	}
}

func TestAStopDuringBackoffKeepsTheServiceStopped(t *testing.T) {
	ts := newTestSupervisor(t, svc("s"))
	ts.Run()
	ts.launcher.next(t, "s").end(1)
	ts.waitState(t, "s", control.StateBackoff)
	if err := ts.service("s").stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts.clock.advance(time.Minute)
	ts.waitState(t, "s", control.StateStopped)
	ts.launcher.none(t)
}

func TestAHungServiceIsKilledByItsWatchdog(t *testing.T) {
	ts := newTestSupervisor(t, svc("hung", notifies))
	ts.Run()
	p := ts.launcher.next(t, "hung")
	ts.waitState(t, "hung", control.StateRunning)
	s := ts.service("hung")
	s.notes <- notifyMsg{ready: true, watchdogTimeout: time.Second}
	ts.waitState(t, "hung", control.StateReady)
	ts.clock.waitTimer(t, time.Second)

	// Pings keep it alive…
	for range 3 {
		ts.clock.advance(600 * time.Millisecond)
		n := ts.clock.afterCalls()
		s.notes <- notifyMsg{watchdog: true}
		ts.clock.waitAfterCalls(t, n+1) // the ping re-armed the watchdog
	}
	select {
	case sig := <-p.signals:
		t.Fatalf("a service that pings its watchdog got %v", sig)
	default:
	}
	// …and silence kills it; its policy restarts it.
	ts.clock.advance(time.Second)
	if sig := p.signaled(t); sig != unix.SIGKILL {
		t.Fatalf("a silent service got %v, want SIGKILL", sig)
	}
	ts.clock.waitTimer(t, defaultRestarter.base)
	ts.clock.advance(defaultRestarter.base)
	ts.launcher.next(t, "hung")
}

func TestBrokenDependenciesFailTheServiceWithAReason(t *testing.T) {
	ts := newTestSupervisor(t,
		svc("a", dependsOn("b")), svc("b", dependsOn("a")),
		svc("lonely", dependsOn("ghost")), svc("fine"))
	ts.Run()
	ts.launcher.next(t, "fine")
	for name, want := range map[string]string{"a": "cycle", "b": "cycle", "lonely": `"ghost"`} {
		st := ts.service(name).status()
		if st.State != control.StateFailed || !strings.Contains(st.Error, want) {
			t.Errorf("%s: %s %q, want failed saying %s", name, st.State, st.Error, want)
		}
	}
	err := ts.service("a").start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("starting a service in a cycle: %v", err)
	}
	ts.launcher.none(t)
}

func TestAFailedLaunchCountsAsAFailure(t *testing.T) {
	ts := newTestSupervisor(t, svc("s", policy(restartOnFailure)))
	ts.launcher.fail["s"] = errors.New("no such image")
	ts.Run()
	ts.clock.waitTimer(t, defaultRestarter.base)
	st := ts.service("s").status()
	if st.State != control.StateBackoff || !strings.Contains(st.Error, "no such image") {
		t.Errorf("after a failed launch: %+v", st)
	}
	ts.clock.advance(defaultRestarter.base)
	ts.launcher.next(t, "s")
}

func TestStopAllStopsDependentsFirst(t *testing.T) {
	ts := newTestSupervisor(t, svc("db"), svc("app", dependsOn("db")))
	ts.Run()
	ts.launcher.next(t, "db")
	ts.waitState(t, "db", control.StateRunning)
	app := ts.launcher.next(t, "app")
	db := ts.launcher.procs["db"][0]
	done := make(chan struct{})
	go func() {
		ts.StopAll(context.Background())
		close(done)
	}()
	app.signaled(t)
	select {
	case sig := <-db.signals:
		t.Fatalf("db got %v while app still ran", sig)
	default:
	}
	app.end(0)
	db.signaled(t)
	db.end(0)
	<-done
	if err := ts.service("db").start(context.Background()); err == nil {
		t.Error("a service started after stopAll")
	}
}

// rerunAfterPanic runs fn in a goroutine, and again after each panic, as
// init's guard does (without its backoff and limit).
func rerunAfterPanic(_ string, fn func()) {
	go func() {
		for panicked := true; panicked; {
			panicked = func() (panicked bool) {
				defer func() { panicked = recover() != nil }()
				fn()
				return false
			}()
		}
	}()
}

// A panic in a service's supervision does not leave the service
// unsupervised: the loop runs again and the service is started.
func TestAServiceLoopThatPanicsIsResumed(t *testing.T) {
	ts := newTestSupervisor(t, svc("web"))
	ts.goSafe = rerunAfterPanic
	panicked := false
	ts.launcher.onLaunch = func(*fakeProc) {
		if !panicked {
			panicked = true
			panic("injected")
		}
	}
	ts.Run()
	p := ts.launcher.next(t, "web") // the launch after the one that panicked
	st := ts.waitState(t, "web", "running")
	if st.pid != p.pid || ts.launcher.count("web") != 2 {
		t.Errorf("web runs as pid %d after %d launches, want pid %d after 2", st.pid, ts.launcher.count("web"), p.pid)
	}
	p.end(1)
	ts.waitState(t, "web", "backoff") // and is supervised: its exit is seen
}
