package main

import (
	"sync"
	"time"

	"github.com/minikit/minikit/init/boottime"
	"github.com/minikit/minikit/internal/control"
)

// timeline records boot phases as they happen, in time since the kernel
// started, as `svcctl analyze` shows them.
type timeline struct {
	mu     sync.Mutex
	phases []control.Phase
	clock  func() time.Duration
}

func newTimeline() *timeline { return &timeline{clock: boottime.Now} }

// begin starts a phase; the returned func ends it.
func (t *timeline) begin(name string) (end func()) {
	start := t.clock()
	return func() { t.add(control.Phase{Name: name, Start: start, End: t.clock()}) }
}

func (t *timeline) add(p control.Phase) {
	t.mu.Lock()
	t.phases = append(t.phases, p)
	t.mu.Unlock()
}

// Phases returns a copy of what was recorded so far.
func (t *timeline) Phases() []control.Phase {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]control.Phase(nil), t.phases...)
}
