package logs

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minikit/minikit/init/boottime"
)

// Nothing init does may wait for a console: a serial line stopped by
// Ctrl-S (XOFF), or a console nobody reads, blocks every write to it
// until it moves again, and PID 1 waiting there would stop supervising
// and could not shut down. Lines for the console therefore go into one
// bounded queue that a single goroutine writes out; whoever offers a
// line never waits. When a log's lines do not fit they are dropped and
// counted, and the console is told how many once it takes lines again.
// The queue is FIFO, so a container's last lines come out before the
// line of init that says it exited.

// Bounds of the queue.
const (
	consoleQueueLen  = 256 // lines of containers waiting for the console
	consoleShare     = 32  // of which one log may hold, so a flood does not silence the others
	initConsoleShare = 512 // lines of init's own log waiting, on top: room they never compete for
	consoleFlushWait = time.Second
)

// consoleQueue holds the lines waiting for the console.
type consoleQueue struct {
	w      io.Writer
	items  chan consoleItem
	clock  func() time.Duration
	own    *consoleLane // init's own log
	others atomic.Int32 // lines of other lanes in items

	mu     sync.Mutex // guards the lanes' dropped counts and behind
	behind map[*consoleLane]bool
}

// consoleLane is one log's way onto the console.
type consoleLane struct {
	q        *consoleQueue
	prefix   string // "NAME: ", "" for init's own lines
	share    int32
	reserved bool // its lines are not counted against consoleQueueLen
	where    atomic.Pointer[string]
	queued   atomic.Int32
	dropped  int // lines dropped since the console was told; q.mu
}

type consoleItem struct {
	line    string
	lane    *consoleLane
	dropped int           // lines of lane dropped just before this one
	flushed chan struct{} // a flush mark instead of a line
}

func newConsoleQueue(w io.Writer) *consoleQueue {
	q := &consoleQueue{
		w:      w,
		items:  make(chan consoleItem, consoleQueueLen+initConsoleShare),
		clock:  boottime.Now,
		behind: map[*consoleLane]bool{},
	}
	q.own = q.lane("", initConsoleShare, true)
	q.own.setWhere("svcctl logs " + InitName)
	return q
}

// lane makes a way onto the console for one log.
func (q *consoleQueue) lane(prefix string, share int, reserved bool) *consoleLane {
	return &consoleLane{q: q, prefix: prefix, share: int32(share), reserved: reserved}
}

// setWhere says where the lane's whole log can be read, for the note
// about dropped lines.
func (l *consoleLane) setWhere(where string) {
	if l != nil {
		l.where.Store(&where)
	}
}

// Write offers what one call wrote (one line, as init's log handler
// writes) and never fails: a console that cannot take it is not an error
// of the writer's.
func (l *consoleLane) Write(p []byte) (int, error) {
	l.offer(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// offer queues a line unless the queue or the lane's share of it is
// full; it never blocks. Once behind, the lane waits until the console
// took half its share before it queues again, so that the console shows
// runs of lines with a note between, not a note per line.
func (l *consoleLane) offer(line string) {
	q := l.q
	q.mu.Lock()
	defer q.mu.Unlock()
	limit := l.share
	if l.dropped > 0 {
		limit = l.share / 2
	}
	if l.queued.Load() >= limit || (!l.reserved && q.others.Load() >= consoleQueueLen) {
		l.drop()
		return
	}
	// Counted before it can be taken, so the writer never counts below
	// zero; offers are serialized by q.mu, the writer only takes away.
	l.queued.Add(1)
	if !l.reserved {
		q.others.Add(1)
	}
	select {
	case q.items <- consoleItem{line: line, lane: l, dropped: l.dropped}:
		l.dropped = 0
		delete(q.behind, l)
	default:
		l.undo()
		l.drop()
	}
}

// undo takes back a line counted as queued: it was not queued after all,
// or it was taken out.
func (l *consoleLane) undo() {
	l.queued.Add(-1)
	if !l.reserved {
		l.q.others.Add(-1)
	}
}

func (l *consoleLane) drop() {
	l.dropped++
	l.q.behind[l] = true
}

// flush waits, up to timeout, until what was offered before it is out and
// the console was told of what was dropped.
func (q *consoleQueue) flush(timeout time.Duration) {
	mark := make(chan struct{})
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case q.items <- consoleItem{flushed: mark}:
	case <-t.C:
		return
	}
	select {
	case <-mark:
	case <-t.C:
	}
}

// run writes the queue out, for ever. When the queue runs dry it says
// what was dropped and not told yet.
func (q *consoleQueue) run() {
	for {
		var it consoleItem
		select {
		case it = <-q.items:
		default:
			q.tellDropped()
			it = <-q.items
		}
		q.write(it)
	}
}

func (q *consoleQueue) write(it consoleItem) {
	if it.flushed != nil {
		q.tellDropped()
		close(it.flushed)
		return
	}
	// Counted out first: should the console's write panic, the guard
	// runs the loop again and the lane keeps its room.
	it.lane.undo()
	if it.dropped > 0 {
		q.writeLine(it.lane.note(q.clock(), it.dropped))
	}
	q.writeLine(it.line)
}

// tellDropped writes a note for each lane whose dropped lines were not
// followed by a line that told of them.
func (q *consoleQueue) tellDropped() {
	q.mu.Lock()
	var notes []string
	now := q.clock()
	for l := range q.behind {
		if l.dropped > 0 {
			notes = append(notes, l.note(now, l.dropped))
			l.dropped = 0
		}
	}
	clear(q.behind)
	q.mu.Unlock()
	for _, n := range notes {
		q.writeLine(n)
	}
}

func (q *consoleQueue) writeLine(line string) {
	_, _ = io.WriteString(q.w, line+"\n")
}

// note tells of n dropped lines of the lane, as a line of that lane.
func (l *consoleLane) note(boot time.Duration, n int) string {
	where := "its log"
	if w := l.where.Load(); w != nil {
		where = *w
	}
	return fmt.Sprintf("[%9.3f] %s(%d lines dropped from the console; see %s)", boot.Seconds(), l.prefix, n, where)
}
