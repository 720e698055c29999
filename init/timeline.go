package main

import (
	"sync"
	"time"
)

// Phase is one timed step of boot, in time since the kernel started, as
// `svcctl analyze` shows it.
type Phase struct {
	Name  string        `json:"name"`
	Start time.Duration `json:"start"`
	End   time.Duration `json:"end"`
}

// Duration is how long the phase took.
func (p Phase) Duration() time.Duration { return p.End - p.Start }

// timeline records boot phases as they happen.
type timeline struct {
	mu     sync.Mutex
	phases []Phase
	clock  func() time.Duration
}

func newTimeline() *timeline { return &timeline{clock: sinceBoot} }

// begin starts a phase; the returned func ends it.
func (t *timeline) begin(name string) (end func()) {
	start := t.clock()
	return func() { t.add(Phase{Name: name, Start: start, End: t.clock()}) }
}

func (t *timeline) add(p Phase) {
	t.mu.Lock()
	t.phases = append(t.phases, p)
	t.mu.Unlock()
}

// Phases returns a copy of what was recorded so far.
func (t *timeline) Phases() []Phase {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Phase(nil), t.phases...)
}
