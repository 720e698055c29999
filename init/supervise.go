package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/minikit/minikit/internal/bundle"
	"golang.org/x/sys/unix"
)

// Restart policies, from the org.minikit.restart annotation.
const (
	restartAlways    = "always"
	restartOnFailure = "on-failure"
	restartNever     = "never"
)

// service is one supervised service container.
type service struct {
	name   string
	bundle string
	policy string
	stopSignal  unix.Signal
	stopTimeout time.Duration

	mu       sync.Mutex
	state    string
	pid      int
	restarts int
	since    time.Time
	cur      *container
	stopping bool
	done     chan struct{} // closed when the supervision loop ends
}

// ServiceStatus is what the control API reports for a service.
type ServiceStatus struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	Pid      int    `json:"pid,omitempty"`
	Restarts int    `json:"restarts"`
	Uptime   string `json:"uptime,omitempty"`
}

func loadService(name, dir string) (*service, error) {
	spec, err := readSpec(dir)
	if err != nil {
		return nil, err
	}
	s := &service{name: name, bundle: dir, policy: restartAlways, stopSignal: unix.SIGTERM, stopTimeout: 10 * time.Second, state: "stopped"}
	if p := annotation(spec, bundle.AnnotationRestart); p != "" {
		s.policy = p
	}
	if v := annotation(spec, bundle.AnnotationStopSignal); v != "" {
		if sig := unix.SignalNum(v); sig != 0 {
			s.stopSignal = sig
		}
	}
	if v := annotation(spec, bundle.AnnotationStopTimeout); v != "" {
		if secs, err := strconv.Atoi(v); err == nil {
			s.stopTimeout = time.Duration(secs) * time.Second
		}
	}
	return s, nil
}

// shouldRestart is the restart decision, apart from the mechanism.
func shouldRestart(policy string, exit int) bool {
	switch policy {
	case restartNever:
		return false
	case restartOnFailure:
		return exit != 0
	default:
		return true
	}
}

// backoff returns how long to wait before restart number n (from 1),
// doubling from 100ms up to a cap of 10s.
func backoff(n int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < n && d < 10*time.Second; i++ {
		d *= 2
	}
	return min(d, 10*time.Second)
}

// stableAfter is how long a service must run before its backoff resets.
const stableAfter = 10 * time.Second

func (s *service) status() ServiceStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ServiceStatus{Name: s.name, State: s.state, Pid: s.pid, Restarts: s.restarts}
	if s.state == "running" {
		st.Uptime = time.Since(s.since).Round(time.Second).String()
	}
	return st
}

func (s *service) setState(state string, pid int) {
	s.mu.Lock()
	s.state, s.pid = state, pid
	if state == "running" {
		s.since = time.Now()
	}
	s.mu.Unlock()
}

// supervise starts the service and keeps it running until stop is called.
func (in *initSys) supervise(s *service) {
	s.mu.Lock()
	s.done = make(chan struct{})
	s.stopping = false
	s.mu.Unlock()
	defer close(s.done)
	failures := 0
	for {
		s.setState("starting", 0)
		out, closeOut := in.outputs.forContainer(s.name)
		c, err := in.runner.start(s.name, s.bundle, out)
		exit := -1
		if err != nil {
			slog.Error("service "+s.name+" failed to start", "service", s.name, "err", err)
			closeOut()
		} else {
			s.mu.Lock()
			s.cur = c
			stopping := s.stopping
			s.mu.Unlock()
			if stopping { // stop raced with the start
				_ = c.signal(s.stopSignal)
			}
			s.setState("running", c.pid)
			slog.Info(fmt.Sprintf("service %s started (pid %d)", s.name, c.pid), "service", s.name, "pid", c.pid)
			started := time.Now()
			exit, err = c.wait()
			closeOut()
			if time.Since(started) > stableAfter {
				failures = 0
			}
			slog.Info(fmt.Sprintf("service %s exited %d after %s", s.name, exit, time.Since(started).Round(time.Millisecond)),
				"service", s.name, "exit", exit)
		}
		s.mu.Lock()
		s.cur = nil
		stopping := s.stopping
		s.mu.Unlock()
		if stopping {
			s.setState("stopped", 0)
			return
		}
		if !shouldRestart(s.policy, exit) {
			s.setState("exited", 0)
			return
		}
		failures++
		wait := backoff(failures)
		s.setState("backoff", 0)
		s.mu.Lock()
		s.restarts++
		s.mu.Unlock()
		if !in.sleepUnlessStopped(s, wait) {
			s.setState("stopped", 0)
			return
		}
	}
}

func (in *initSys) sleepUnlessStopped(s *service, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		stopping := s.stopping
		s.mu.Unlock()
		if stopping {
			return false
		}
		time.Sleep(min(50*time.Millisecond, time.Until(deadline)))
	}
	return true
}

// stop sends the stop signal, waits up to the stop timeout, then kills.
func (s *service) stop(ctx context.Context) {
	s.mu.Lock()
	s.stopping = true
	c, done := s.cur, s.done
	if c != nil {
		s.state = "stopping"
	}
	s.mu.Unlock()
	if done == nil {
		return
	}
	if c != nil {
		_ = c.signal(s.stopSignal)
		select {
		case <-done:
			return
		case <-time.After(s.stopTimeout):
			slog.Warn("service "+s.name+" did not stop in time; killing it", "service", s.name)
			_ = c.signal(unix.SIGKILL)
		case <-ctx.Done():
			_ = c.signal(unix.SIGKILL)
		}
	}
	<-done
}

// startServices loads every service bundle and starts supervising each.
func (in *initSys) startServices(dir string) {
	for _, name := range bundlesIn(dir) {
		s, err := loadService(name, filepath.Join(dir, name))
		if err != nil {
			slog.Error("service "+name+" cannot be loaded", "service", name, "err", err)
			continue
		}
		in.services = append(in.services, s)
	}
	for _, s := range in.services {
		in.goSafe("supervise "+s.name, func() { in.supervise(s) })
	}
}

func (in *initSys) service(name string) *service {
	for _, s := range in.services {
		if s.name == name {
			return s
		}
	}
	return nil
}

