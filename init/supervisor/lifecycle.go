package supervisor

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/minikit/minikit/internal/control"
	"golang.org/x/sys/unix"
)

// A service's loop moves through phases, each a function that returns the
// next: idle (stopped, exited or failed: waiting for a start), waiting for
// its dependencies, launching, running, stopping and backing off before a
// restart. Only the loop changes the service; others send it commands.

// phase is one step of a service's life; it returns the next, or nil
// when supervision ends.
type phase func() phase

// supervise runs the service's loop. Run again after a panic, it
// resumes where the service is: watching its process if one runs (so
// that no second one starts beside it), idle if it was stopped or ended,
// and else starting it.
func (s *service) supervise(autostart bool) {
	next := s.idle
	switch {
	case s.entered:
		next = s.resume()
	case autostart:
		next = s.waitForDependencies
	}
	s.entered = true
	for next != nil {
		next = next()
	}
	s.answerWaiting(errLoopEnded, cmdStart, cmdStop, cmdRestart)
}

// resume is the phase a loop that panicked goes on from.
func (s *service) resume() phase {
	st := s.state()
	if r := s.current; r != nil {
		if st.state == control.StateStopping {
			restart := false
			for _, c := range s.waiting {
				restart = c.kind != cmdStop
			}
			return func() phase { return s.stopping(r, restart) }
		}
		return func() phase { return s.running(r) }
	}
	switch st.state {
	case control.StateStopped, control.StateExited, control.StateFailed:
		return s.idle
	}
	return s.waitForDependencies
}

// idle waits for a start. The state says why the service does not run.
func (s *service) idle() phase {
	s.answerWaiting(nil, cmdStop)
	if st := s.state(); st.err != "" && st.state == control.StateFailed {
		s.answerWaiting(errors.New(st.err), cmdStart, cmdRestart)
	} else {
		s.answerWaiting(nil, cmdStart, cmdRestart)
	}
	for {
		select {
		case c := <-s.cmds:
			if c.kind == cmdStop {
				c.answer(nil)
				continue
			}
			if s.cfg.err != nil {
				c.answer(fmt.Errorf("%s cannot start: %w", s.name, s.cfg.err))
				continue
			}
			// Someone starts it by hand: a crash loop is forgiven.
			s.failures = 0
			s.waiting = append(s.waiting, c)
			return s.waitForDependencies
		case <-s.notes: // from a process that is gone
		case <-s.sup.quit:
			return nil
		}
	}
}

// waitForDependencies waits until every dependency is ready.
func (s *service) waitForDependencies() phase {
	s.mu.Lock()
	if s.times.Waiting == 0 {
		s.times.Waiting = s.sup.clock.Boot()
	}
	s.mu.Unlock()
	for {
		changed := s.sup.watch()
		missing := s.sup.unready(s.cfg.dependsOn)
		if len(missing) == 0 {
			return s.launch
		}
		why := "waiting for " + strings.Join(missing, ", ")
		s.update(func(st *serviceState) { st.state, st.pid, st.err = control.StateStarting, 0, why })
		s.answerWaiting(nil, cmdStart, cmdRestart)
		select {
		case c := <-s.cmds:
			if c.kind == cmdStop {
				s.waiting = append(s.waiting, c)
				s.update(func(st *serviceState) { st.state, st.err = control.StateStopped, "" })
				return s.idle
			}
			c.answer(nil)
		case <-changed:
		case <-s.notes:
		case <-s.sup.quit:
			return nil
		}
	}
}

// launched is one process of the service and how it ended.
type launched struct {
	proc    Process
	started time.Time
	// done is closed once the process has ended; collect then returns
	// how, having taken its last lines. Only the service's loop calls it.
	done    <-chan struct{}
	collect func() exitResult
}

type exitResult struct {
	code int
	err  error
}

// launch starts the process.
func (s *service) launch() phase {
	s.update(func(st *serviceState) { st.state, st.err = control.StateStarting, "" })
	out, closeOut := s.sup.logs.ForContainer(s.name)
	p, err := s.sup.launcher.Launch(&s.cfg, out)
	if err != nil {
		closeOut()
		slog.Error("service "+s.name+" failed to start: "+err.Error(), "service", s.name, "err", err)
		s.update(func(st *serviceState) { st.err = err.Error() })
		s.answerWaiting(err, cmdStart, cmdRestart)
		return s.afterRun(-1, 0)
	}
	r := s.watch(p, closeOut)
	s.current = r
	pid := p.Pid()
	s.mu.Lock()
	s.proc = p
	if s.times.Started == 0 {
		s.times.Started = s.sup.clock.Boot()
	}
	s.mu.Unlock()
	s.update(func(st *serviceState) {
		st.state, st.pid, st.started, st.status = control.StateRunning, pid, r.started, ""
	})
	slog.Info(fmt.Sprintf("service %s started (pid %d)", s.name, pid), "service", s.name, "pid", pid)
	if !s.cfg.notify {
		s.markReady()
	}
	s.answerWaiting(nil, cmdStart, cmdRestart)
	return func() phase { return s.running(r) }
}

// watch makes the launched run of p, whose end the service's loop
// selects on: p's own signal when it gives one, else a goroutine's wait.
// Either way its last lines are logged before its end is.
func (s *service) watch(p Process, closeOut func()) *launched {
	r := &launched{proc: p, started: s.sup.clock.Now()}
	if n, ok := p.(exitNotifier); ok {
		var ex *exitResult
		r.done = n.Exited()
		r.collect = func() exitResult {
			if ex == nil { // after a panic in Wait, the loop tries again
				code, err := p.Wait()
				closeOut()
				ex = &exitResult{code, err}
			}
			return *ex
		}
		return r
	}
	done := make(chan struct{})
	var ex exitResult
	r.done = done
	r.collect = func() exitResult { return ex }
	s.sup.goSafe("wait for "+s.name, func() {
		code, err := p.Wait()
		closeOut()
		ex = exitResult{code, err}
		close(done)
	})
	return r
}

func (s *service) markReady() {
	s.mu.Lock()
	if s.times.Ready == 0 {
		s.times.Ready = s.sup.clock.Boot()
	}
	s.mu.Unlock()
}

// ended records the end of a run and logs it.
func (s *service) ended(r *launched, ex exitResult) time.Duration {
	ran := s.sup.clock.Now().Sub(r.started)
	s.current = nil
	s.mu.Lock()
	s.proc = nil
	s.mu.Unlock()
	s.update(func(st *serviceState) {
		st.pid, st.started, st.exit, st.exited = 0, time.Time{}, ex.code, true
	})
	attrs := []any{"service", s.name, "exit", ex.code, "duration", ran.Round(time.Millisecond)}
	if ex.err != nil {
		attrs = append(attrs, "err", ex.err)
	}
	slog.Info(fmt.Sprintf("service %s exited %d after %s", s.name, ex.code, ran.Round(time.Millisecond)), attrs...)
	return ran
}

// running watches the process until it ends or is asked to stop, and
// handles what it says over sd_notify.
func (s *service) running(r *launched) phase {
	var watchdog <-chan time.Time
	var watchdogTimeout time.Duration
	for {
		select {
		case <-r.done:
			ex := r.collect()
			return s.afterRun(ex.code, s.ended(r, ex))
		case m := <-s.notes:
			if m.status != nil {
				s.update(func(st *serviceState) { st.status = *m.status })
			}
			if m.ready && s.cfg.notify && s.state().state == control.StateRunning {
				s.markReady()
				s.update(func(st *serviceState) { st.state = control.StateReady })
				slog.Info("service "+s.name+" ready", "service", s.name, "pid", r.proc.Pid())
			}
			if m.watchdogTimeout > 0 {
				watchdogTimeout = m.watchdogTimeout
				watchdog = s.sup.clock.After(watchdogTimeout)
			} else if m.watchdog && watchdogTimeout > 0 {
				watchdog = s.sup.clock.After(watchdogTimeout)
			}
			if m.watchdogTrigger {
				watchdog = closedTimeChan
			}
		case <-watchdog:
			watchdog = nil
			slog.Warn("service "+s.name+" missed its watchdog; killing it", "service", s.name, "pid", r.proc.Pid(),
				"timeout", watchdogTimeout)
			s.update(func(st *serviceState) { st.err = "killed by its watchdog" })
			_ = r.proc.Signal(unix.SIGKILL)
		case c := <-s.cmds:
			switch c.kind {
			case cmdStart:
				c.answer(nil)
			case cmdStop:
				s.waiting = append(s.waiting, c)
				return s.stopping(r, false)
			case cmdRestart:
				s.waiting = append(s.waiting, c)
				return s.stopping(r, true)
			}
		case <-s.sup.quit:
			return nil
		}
	}
}

// closedTimeChan fires at once: WATCHDOG=trigger.
var closedTimeChan = func() <-chan time.Time {
	c := make(chan time.Time)
	close(c)
	return c
}()

// stopping sends the stop signal and, after the stop timeout, SIGKILL,
// until the process is gone; then the service is stopped, or started
// again for a restart.
func (s *service) stopping(r *launched, restart bool) phase {
	s.update(func(st *serviceState) { st.state = control.StateStopping })
	slog.Info("stopping service "+s.name, "service", s.name, "pid", r.proc.Pid(), "signal", unix.SignalName(s.cfg.stopSignal))
	_ = r.proc.Signal(s.cfg.stopSignal)
	deadline := s.sup.clock.After(s.cfg.stopTimeout)
	for {
		select {
		case <-r.done:
			s.ended(r, r.collect())
			if restart {
				s.answerWaiting(nil, cmdStop)
				s.failures = 0
				return s.waitForDependencies
			}
			s.update(func(st *serviceState) { st.state, st.err = control.StateStopped, "" })
			return s.idle // which answers the stops
		case <-deadline:
			deadline = nil
			slog.Warn(fmt.Sprintf("service %s did not stop within %s; killing it", s.name, s.cfg.stopTimeout),
				"service", s.name, "pid", r.proc.Pid())
			_ = r.proc.Signal(unix.SIGKILL)
		case c := <-s.cmds:
			s.waiting = append(s.waiting, c)
			// The last word wins: a stop cancels a pending restart, a
			// start or restart undoes a stop once the process is gone.
			restart = c.kind != cmdStop
		case <-s.notes:
		case <-s.sup.quit:
			return nil
		}
	}
}

// afterRun applies the restart policy to a run that ended by itself (exit
// -1: it failed to start).
func (s *service) afterRun(exit int, ran time.Duration) phase {
	v := s.cfg.restart.next(s.failures, exit, ran)
	s.failures = v.failures
	switch v.state {
	case control.StateBackoff:
		return s.backoff(v.wait)
	case control.StateFailed:
		// State first: whoever reads the log line must find it failed.
		s.update(func(st *serviceState) { st.state, st.err = control.StateFailed, v.reason })
		slog.Error("service "+s.name+" failed: "+v.reason, "service", s.name, "exit", exit)
	default:
		s.update(func(st *serviceState) { st.state = control.StateExited })
	}
	return s.idle
}

// backoff waits before a restart; a start or stop cuts it short.
func (s *service) backoff(wait time.Duration) phase {
	s.update(func(st *serviceState) { st.state = control.StateBackoff })
	slog.Info(fmt.Sprintf("service %s restarts in %s", s.name, wait), "service", s.name, "duration", wait)
	timer := s.sup.clock.After(wait)
	for {
		select {
		case <-timer:
			s.update(func(st *serviceState) { st.restarts++ })
			return s.waitForDependencies
		case c := <-s.cmds:
			s.waiting = append(s.waiting, c)
			if c.kind == cmdStop {
				s.update(func(st *serviceState) { st.state, st.err = control.StateStopped, "" })
				return s.idle
			}
			s.failures = 0
			return s.waitForDependencies
		case <-s.notes:
		case <-s.sup.quit:
			return nil
		}
	}
}
