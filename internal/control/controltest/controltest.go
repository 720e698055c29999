// Package controltest serves the real control API over a backend whose
// services, logs and boot timeline a test sets up, for the tests of the
// server and of its clients: svcctl is tested against the server itself,
// so that the two cannot drift apart.
package controltest

import (
	"cmp"
	"context"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/control"
)

// Serve serves the API over b, with the limits lim, on a socket in a
// temporary directory until the test ends, and returns a client of it.
// caller, when not nil, is the caller of every connection; nil identifies
// callers as init does, from the kernel and /proc.
func Serve(t testing.TB, b control.Backend, lim control.Limits, caller *control.Caller) *control.Client {
	t.Helper()
	s, err := control.NewServer(b, lim)
	if err != nil {
		t.Fatal(err)
	}
	if caller != nil {
		s.Identify = func(net.Conn) *control.Caller {
			c := *caller
			return &c
		}
	}
	path := filepath.Join(t.TempDir(), "control.sock")
	if err := s.Serve(path, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return control.NewClient(path)
}

// Root is a caller that may do anything: uid 0 with every capability.
func Root() *control.Caller {
	return &control.Caller{UID: 0, PID: 1, CapEff: ^uint64(0), Cgroup: "/controltest"}
}

// Backend is a control.Backend of canned services, logs and timeline,
// which records the changes it is asked for.
type Backend struct {
	// Acted receives "ACTION NAME" for each action carried out, Powered
	// "poweroff" or "reboot"; what does not fit is not recorded.
	Acted, Powered chan string
	// OnAct, when set, is called before an action is carried out; the
	// error it returns fails the action.
	OnAct func(ctx context.Context, name, action string) error

	mu         sync.Mutex
	services   map[string]control.Service
	logs       map[string]*Log
	analysis   control.Analysis
	metricsSet control.Metrics
}

// NewBackend returns a backend of the services given.
func NewBackend(services ...control.Service) *Backend {
	b := &Backend{
		Acted:    make(chan string, 100),
		Powered:  make(chan string, 10),
		services: map[string]control.Service{},
		logs:     map[string]*Log{},
	}
	for _, s := range services {
		b.services[s.Name] = s
	}
	return b
}

// SetAnalysis sets the boot timeline.
func (b *Backend) SetAnalysis(a control.Analysis) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.analysis = a
}

// AddLog returns the log called name, made empty if there is none yet.
func (b *Backend) AddLog(name string) *Log {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.logs[name]
	if l == nil {
		l = &Log{}
		b.logs[name] = l
	}
	return l
}

// Services returns the services in the order of their names.
func (b *Backend) Services() []control.Service {
	b.mu.Lock()
	defer b.mu.Unlock()
	var list []control.Service
	for _, name := range slices.Sorted(maps.Keys(b.services)) {
		list = append(list, b.services[name])
	}
	return list
}

// Service returns the service called name.
func (b *Backend) Service(name string) (control.Service, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.services[name]
	return s, ok
}

// Act records the action and gives the service the state it asks for:
// running after a start or restart, stopped after a stop.
func (b *Backend) Act(ctx context.Context, name, action string) error {
	if b.OnAct != nil {
		if err := b.OnAct(ctx, name, action); err != nil {
			return err
		}
	}
	b.mu.Lock()
	s := b.services[name]
	switch action {
	case control.ActionStart, control.ActionRestart:
		s.State = control.StateRunning
	case control.ActionStop:
		s.State, s.Pid = control.StateStopped, 0
	}
	b.services[name] = s
	b.mu.Unlock()
	record(b.Acted, action+" "+name)
	return nil
}

// Log returns the log called name, or the empty log of a service that
// has none yet.
func (b *Backend) Log(name string) (control.Log, bool) {
	if _, isService := b.Service(name); isService {
		return b.AddLog(name), true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.logs[name]
	return l, ok
}

// LogNames lists the logs made so far.
func (b *Backend) LogNames() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Sorted(maps.Keys(b.logs))
}

// Analysis returns the timeline SetAnalysis set.
func (b *Backend) Analysis() control.Analysis {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.analysis
}

// Metrics returns what SetMetrics set, with the services as they are.
func (b *Backend) Metrics() control.Metrics {
	b.mu.Lock()
	m := b.metricsSet
	b.mu.Unlock()
	m.Services = b.Services()
	return m
}

// SetMetrics sets what Metrics returns beside the services.
func (b *Backend) SetMetrics(m control.Metrics) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.metricsSet = m
}

// Power records the action.
func (b *Backend) Power(action string, _ *control.Caller) { record(b.Powered, action) }

func record(c chan string, what string) {
	select {
	case c <- what:
	default:
	}
}

// maxLogLines bounds a Log, as init bounds its rings, for the tests that
// write until a follower falls behind.
const maxLogLines = 1024

// Log is a log in memory.
type Log struct {
	mu    sync.Mutex
	lines []control.LogLine
	wake  chan struct{} // closed at the next line; nil when nobody waits
}

// Add appends lines of text, numbered on from the last.
func (l *Log) Add(text ...string) {
	lines := make([]control.LogLine, len(text))
	for i, t := range text {
		lines[i] = control.LogLine{Time: time.Now(), Line: t}
	}
	l.Append(lines...)
}

// Append appends lines as they are given; a line without a Seq is
// numbered on from the last.
func (l *Log) Append(lines ...control.LogLine) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range lines {
		if line.Seq == 0 {
			line.Seq = l.last() + 1
		}
		l.lines = append(l.lines, line)
	}
	if extra := len(l.lines) - maxLogLines; extra > 0 {
		l.lines = slices.Delete(l.lines, 0, extra)
	}
	if l.wake != nil {
		close(l.wake)
		l.wake = nil
	}
}

// Tail returns the last n lines (all of them when n < 0).
func (l *Log) Tail(n int) []control.LogLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n < 0 || n > len(l.lines) {
		n = len(l.lines)
	}
	return slices.Clone(l.lines[len(l.lines)-n:])
}

// After returns the lines above seq and a channel closed at the next.
func (l *Log) After(seq uint64) ([]control.LogLine, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, _ := slices.BinarySearchFunc(l.lines, seq+1, func(line control.LogLine, seq uint64) int {
		return cmp.Compare(line.Seq, seq)
	})
	if l.wake == nil {
		l.wake = make(chan struct{})
	}
	return slices.Clone(l.lines[i:]), l.wake
}

// Last is the Seq of the newest line, 0 before any.
func (l *Log) Last() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last()
}

// last is the Seq of the newest line; l.mu is held.
func (l *Log) last() uint64 {
	if len(l.lines) == 0 {
		return 0
	}
	return l.lines[len(l.lines)-1].Seq
}
