package logs

import (
	"sync"
	"time"

	"github.com/minikit/minikit/internal/control"
)

// The ring of each log keeps its last lines in memory for `svcctl logs`,
// bounded both in bytes of text and in lines (so that a flood of empty
// lines cannot grow it either). With these bounds a ring holds at most
// about 64 KiB + 1024·40 B ≈ 104 KiB, whatever the service writes; it
// starts small and grows as lines come, so that a log that says little
// (most services, every onboot container) costs little.
const (
	ringBytes = 64 << 10
	RingLines = 1024 // the most lines a log keeps in memory
	ringStart = 16   // lines of room a new ring has
)

// ringEntry is one line in a ring; kept small, since there are many.
type ringEntry struct {
	seq  uint64
	wall int64 // unix nanoseconds
	boot time.Duration
	line string
}

// logRing keeps the last lines of one log and wakes followers when lines
// arrive. Readers never block writers for longer than a copy.
type logRing struct {
	mu       sync.Mutex
	entries  []ringEntry // a circular buffer, grown up to maxLines
	first    int         // index of the oldest entry
	n        int         // entries held
	bytes    int         // text held
	maxBytes int
	maxLines int
	seq      uint64        // seq of the newest line, 0 before any
	wake     chan struct{} // closed at the next append; nil when nobody waits
}

func newLogRing(maxBytes, maxLines int) *logRing {
	return &logRing{entries: make([]ringEntry, min(ringStart, maxLines)), maxBytes: maxBytes, maxLines: maxLines}
}

// grow doubles the room of a full ring, up to maxLines, keeping the
// lines in order; r.mu is held.
func (r *logRing) grow() bool {
	if len(r.entries) >= r.maxLines {
		return false
	}
	bigger := make([]ringEntry, min(2*len(r.entries), r.maxLines))
	for i := range r.n {
		bigger[i] = r.entries[(r.first+i)%len(r.entries)]
	}
	r.entries, r.first = bigger, 0
	return true
}

// add appends lines read at one moment, dropping the oldest lines beyond
// the bounds. A single line longer than the byte bound is kept alone.
func (r *logRing) add(wall time.Time, boot time.Duration, lines ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range lines {
		if r.n == len(r.entries) && r.bytes+len(l) <= r.maxBytes {
			r.grow()
		}
		for r.n > 0 && (r.n == len(r.entries) || r.bytes+len(l) > r.maxBytes) {
			r.bytes -= len(r.entries[r.first].line)
			r.entries[r.first] = ringEntry{}
			r.first = (r.first + 1) % len(r.entries)
			r.n--
		}
		r.seq++
		r.entries[(r.first+r.n)%len(r.entries)] = ringEntry{seq: r.seq, wall: wall.UnixNano(), boot: boot, line: l}
		r.n++
		r.bytes += len(l)
	}
	if r.wake != nil {
		close(r.wake)
		r.wake = nil
	}
}

// tail returns the last n lines held (all of them when n < 0).
func (r *logRing) tail(n int) []control.LogLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n < 0 || n > r.n {
		n = r.n
	}
	return r.copyFrom(r.n - n)
}

// after returns the lines held whose seq is above seq, and a channel that
// is closed when more arrive. Lines that left the ring before they were
// read show as a jump in seq.
func (r *logRing) after(seq uint64) ([]control.LogLine, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var lines []control.LogLine
	if oldest := r.seq - uint64(r.n) + 1; seq < r.seq {
		skip := 0
		if seq >= oldest {
			skip = int(seq - oldest + 1)
		}
		lines = r.copyFrom(skip)
	}
	if r.wake == nil {
		r.wake = make(chan struct{})
	}
	return lines, r.wake
}

// last is the seq of the newest line.
func (r *logRing) last() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq
}

// copyFrom copies the entries from the i-th oldest on; r.mu is held.
func (r *logRing) copyFrom(i int) []control.LogLine {
	out := make([]control.LogLine, 0, r.n-i)
	for ; i < r.n; i++ {
		e := r.entries[(r.first+i)%len(r.entries)]
		out = append(out, control.LogLine{Seq: e.seq, Time: time.Unix(0, e.wall), Boot: e.boot, Line: e.line})
	}
	return out
}
