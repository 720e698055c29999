// Package logs keeps the logs of a minikit system: the output of every
// container and init's own log, each in a ring in memory (for `svcctl
// logs`), in a rotated file under /var/log and, through a bounded queue
// that never makes a writer wait, on the consoles.
package logs

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minikit/minikit/init/boottime"
	"github.com/minikit/minikit/internal/control"
)

// InitName is the name of init's own log, beside the services' logs:
// `svcctl logs init`, /var/log/init.log.
const InitName = "init"

// Outputs routes the output of containers. Each container's stdout and
// stderr share a pipe that a goroutine of init reads as fast as it can;
// every line, stamped with the time it was read, goes to
//
//   - the log's ring, in memory, for `svcctl logs`;
//   - /var/log/NAME.log, rotated by size;
//   - the console, as "NAME: line", unless the console is behind: a
//     serial console takes ~10 KB/s, so lines it cannot take are counted
//     and dropped there (they stay in the ring and the file).
//
// Nothing on the way waits for the console, so a service that writes as
// fast as it can is slowed only by init reading, and init's memory stays
// within the bounds of the rings, the console queue and the read buffers:
// a small one for each running container, and a large one, from a pool,
// for each container whose output keeps coming faster than it is read.
//
// Outputs holds init's own log too, which its Handler writes to: records
// are logged before anything else of init exists, so init makes its
// Outputs first.
type Outputs struct {
	queue  *consoleQueue // nil: no console
	logDir string        // "" keeps logs in memory only
	goSafe func(what string, fn func())
	own    *Sink // init's own log

	mu      sync.Mutex
	sinks   map[string]*Sink
	ownFile bool     // init's own log was given its file
	ship    ShipFunc // nil until ShipTo
}

// ShipFunc takes the lines of a log as they are written, to send them off
// the machine. It is called with the log's lock held and must not block:
// init/logship only queues them. stream is "log" for init's own log and
// "output" for a container's, whose stdout and stderr share one pipe.
type ShipFunc func(name, stream string, wall time.Time, lines []string)

// ShipTo hands every line of every log to ship from now on, and first
// the lines each log still holds, so that what was logged before the
// destinations were known (init's first steps, early onboot) goes too.
func (o *Outputs) ShipTo(ship ShipFunc) {
	o.mu.Lock()
	o.ship = ship
	sinks := o.all()
	o.mu.Unlock()
	for _, s := range sinks {
		s.shipTo(ship)
	}
}

// Bounds of the way to the console.
const (
	maxLine        = 4096        // a longer line is cut into pieces of this size
	consoleLineMax = 1024        // the console shows at most this much of a line
	idleReadSize   = 2 << 10     // what a reader waits for its container's output with
	readBufferSize = 64 << 10    // what it reads a flood with: a pipe's capacity
	drainTimeout   = time.Second // how long to wait for a container's last output
)

// bigBuffers are the large read buffers and file batches, shared by every
// log and taken only while output keeps coming: a pool's buffers are
// dropped by the collector once they are no longer used.
var bigBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, readBufferSize+readBufferSize/4)
	return &b
}}

// New returns the outputs of a system whose consoles are console (nil:
// none) and whose log files go in logDir ("": logs stay in memory). Its
// goroutines, the console's writer from now on and a reader for each
// container, run through goSafe (nil: plain goroutines); init passes its
// panic guard.
func New(console io.Writer, logDir string, goSafe func(what string, fn func())) *Outputs {
	if goSafe == nil {
		goSafe = func(_ string, fn func()) { go fn() }
	}
	o := &Outputs{logDir: logDir, goSafe: goSafe, own: newSink(InitName), sinks: map[string]*Sink{}}
	if console != nil {
		o.queue = newConsoleQueue(console)
		goSafe("console", o.queue.run)
	}
	return o
}

// Handler returns the slog handler of init's own log at level: records
// go to the console through init's lane of the queue and are kept in the
// log called InitName.
func (o *Outputs) Handler(level slog.Leveler) slog.Handler {
	var out io.Writer = io.Discard
	if o.queue != nil {
		out = o.queue.own
	}
	return newConsoleHandler(out, o.own, level)
}

// ConsoleText shows text on the consoles as it is, line by line, through
// init's own lane of the console queue: like init's log it never waits
// for a console, and what a console cannot take is dropped there. It is
// kept in no log.
func (o *Outputs) ConsoleText(text string) {
	if o.queue == nil {
		return
	}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		o.queue.own.offer(line)
	}
}

// FlushConsole gives the console a bounded moment to show what was
// logged, before the system goes down or a shell takes the console.
func (o *Outputs) FlushConsole() {
	if o.queue != nil {
		o.queue.flush(consoleFlushWait)
	}
}

// ForContainer returns the writer for one container's stdout and stderr,
// an *os.File so that libcontainer hands the pipe to the container and
// copies nothing itself, and a func that closes it once the container has
// exited and waits (briefly) for its last lines.
func (o *Outputs) ForContainer(name string) (io.Writer, func()) {
	sink := o.Sink(name)
	pr, pw, err := os.Pipe()
	if err != nil {
		slog.Error("no pipe for the output of "+name+"; it is discarded", "container", name, "err", err)
		return nil, func() {}
	}
	done := make(chan struct{})
	// Not deferred: after a panic the guard runs it again, and it must
	// read on, not report the pipe done.
	o.goSafe("log reader "+name, func() {
		sink.consume(pr)
		close(done)
	})
	return pw, func() {
		pw.Close()
		select {
		case <-done:
		case <-time.After(drainTimeout):
			// Something the container left behind holds the pipe open;
			// stop reading rather than wait for it.
		}
		pr.Close()
		<-done
		// Its last lines are in the console's queue now, ahead of
		// whatever the caller logs next: no need to wait for the
		// console, which may never take them.
	}
}

// Sink returns the log called name, creating it at first use. InitName
// is init's own log, which gets its file at the first call: make it once
// the log directory can be written.
func (o *Outputs) Sink(name string) *Sink {
	o.mu.Lock()
	defer o.mu.Unlock()
	if name == InitName {
		if !o.ownFile && o.logDir != "" {
			o.ownFile = true
			f := newRotatingFile(filepath.Join(o.logDir, name+".log"))
			o.own.attachFile(f)
			if o.queue != nil {
				o.queue.own.setWhere(f.path)
			}
		}
		return o.own
	}
	s := o.sinks[name]
	if s == nil {
		s = newSink(name)
		if o.queue != nil {
			s.console = o.queue.lane(name+": ", consoleShare, false)
		}
		if o.logDir != "" {
			if err := os.MkdirAll(o.logDir, 0o755); err != nil {
				slog.Warn("no log directory", "dir", o.logDir, "err", err)
			}
			s.file = newRotatingFile(filepath.Join(o.logDir, name+".log"))
		}
		s.console.setWhere(s.where())
		if o.ship != nil {
			s.shipTo(o.ship)
		}
		o.sinks[name] = s
	}
	return s
}

// Lookup returns the log called name, or nil.
func (o *Outputs) Lookup(name string) *Sink {
	if name == InitName {
		return o.Sink(name)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sinks[name]
}

// Names lists every log, init's included.
func (o *Outputs) Names() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	names := append(slices.Sorted(maps.Keys(o.sinks)), InitName)
	slices.Sort(names)
	return names
}

// Sink is one named log: a service's, an onboot container's or init's.
type Sink struct {
	name    string
	ring    *logRing
	console *consoleLane // nil: not shown on the console

	mu    sync.Mutex // serializes writers of the ring, the file, the console and ship
	file  *rotatingFile
	batch []byte // for the file, when what one read returned is small
	ship  ShipFunc

	lines, bytes atomic.Uint64 // written since boot, for the metrics
}

// all lists every log, init's included; o.mu is held.
func (o *Outputs) all() []*Sink {
	return append(slices.Collect(maps.Values(o.sinks)), o.own)
}

// Volume is how much a log has been written to since boot.
type Volume struct {
	Name         string
	Lines, Bytes uint64
}

// Volumes reports every log's volume.
func (o *Outputs) Volumes() []Volume {
	o.mu.Lock()
	sinks := o.all()
	o.mu.Unlock()
	out := make([]Volume, 0, len(sinks))
	for _, s := range sinks {
		out = append(out, Volume{Name: s.name, Lines: s.lines.Load(), Bytes: s.bytes.Load()})
	}
	return out
}

// stream is what shipped lines of this log say they are.
func (s *Sink) stream() string {
	if s.name == InitName {
		return "log"
	}
	return "output"
}

// shipTo hands the lines held, and every later one, to ship. The ring is
// read and ship set under the lock that write holds while it adds to the
// ring, so no line is shipped twice or missed.
func (s *Sink) shipTo(ship ShipFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.ring.tail(-1) {
		ship(s.name, s.stream(), l.Time, []string{l.Line})
	}
	s.ship = ship
}

// smallBatch is the most a log keeps a buffer of its own for, to write
// its lines to its file; more comes from the pool.
const smallBatch = 4 << 10

func newSink(name string) *Sink {
	return &Sink{name: name, ring: newLogRing(ringBytes, RingLines)}
}

// Tail returns the last n lines the log holds in memory (all of them
// when n < 0).
func (s *Sink) Tail(n int) []control.LogLine { return s.ring.tail(n) }

// After returns the lines held whose Seq is above seq, and a channel that
// is closed when more arrive. Lines that left memory before they were
// read show as a jump in Seq.
func (s *Sink) After(seq uint64) ([]control.LogLine, <-chan struct{}) { return s.ring.after(seq) }

// Last is the Seq of the newest line, 0 before any.
func (s *Sink) Last() uint64 { return s.ring.last() }

// consume reads r until it ends, in lines. It waits for output with a
// small buffer of its own; a read that fills it means more is waiting, and
// the next reads take a large buffer from the pool until one comes back
// short, when the reader has caught up.
func (s *Sink) consume(r io.Reader) {
	small := make([]byte, idleReadSize)
	buf := small
	var big *[]byte
	var sp splitter
	var lines []string
	for {
		n, err := r.Read(buf)
		if n > 0 {
			lines = lines[:0]
			sp.feed(buf[:n], func(l []byte) { lines = append(lines, string(l)) })
			// One stamp for what one read returned: those lines arrived
			// together, and the clock is not free.
			s.write(time.Now(), boottime.Now(), lines)
		}
		switch {
		case err != nil:
			if big != nil {
				bigBuffers.Put(big)
			}
			if last := sp.rest(); last != "" {
				s.write(time.Now(), boottime.Now(), []string{last})
			}
			return
		case big == nil && n == len(buf):
			big = bigBuffers.Get().(*[]byte)
			buf = (*big)[:readBufferSize]
		case big != nil && n < len(buf):
			bigBuffers.Put(big)
			big, buf = nil, small
		}
	}
}

// write records lines read at one moment.
func (s *Sink) write(wall time.Time, boot time.Duration, lines []string) {
	if len(lines) == 0 {
		return
	}
	stamp := fmt.Sprintf("[%9.3f] ", boot.Seconds())
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ring.add(wall, boot, lines...)
	s.lines.Add(uint64(len(lines)))
	for _, l := range lines {
		s.bytes.Add(uint64(len(l)))
	}
	if s.ship != nil {
		s.ship(s.name, s.stream(), wall, lines)
	}
	if s.file != nil {
		size := 0
		for _, l := range lines {
			size += len(stamp) + len(l) + 1
		}
		var pooled *[]byte
		b := s.batch[:0]
		if size > smallBatch {
			pooled = bigBuffers.Get().(*[]byte)
			b = (*pooled)[:0]
		}
		for _, l := range lines {
			b = append(b, stamp...)
			b = append(b, l...)
			b = append(b, '\n')
		}
		s.file.write(b)
		switch {
		case pooled == nil:
			s.batch = b
		case cap(b) <= 4*readBufferSize: // not a burst of many short lines
			*pooled = b[:0]
			bigBuffers.Put(pooled)
		}
	}
	if s.console != nil {
		for _, l := range lines {
			s.toConsole(stamp, l)
		}
	}
}

// toConsole offers a line to the console; s.mu is held.
func (s *Sink) toConsole(stamp, line string) {
	if len(line) > consoleLineMax {
		line = line[:consoleLineMax] + "…"
	}
	s.console.offer(stamp + s.console.prefix + line)
}

// where says where the whole log can be read.
func (s *Sink) where() string {
	if s.file != nil {
		return s.file.path
	}
	return "svcctl logs " + s.name
}

// attachFile gives the log its file and writes what the ring holds so far
// into it, for a log that began before /var/log could be written.
func (s *Sink) attachFile(f *rotatingFile) {
	backlog := s.ring.tail(-1)
	s.mu.Lock()
	defer s.mu.Unlock()
	var b bytes.Buffer
	for _, l := range backlog {
		fmt.Fprintf(&b, "[%9.3f] %s\n", l.Boot.Seconds(), l.Line)
	}
	if b.Len() > 0 {
		f.write(b.Bytes())
	}
	s.file = f
	s.console.setWhere(s.where())
}

// splitter cuts a byte stream into lines without their "\n" (or "\r\n").
// A line longer than maxLine is cut into pieces rather than buffered
// without bound.
type splitter struct{ partial []byte }

func (sp *splitter) feed(p []byte, emit func([]byte)) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			sp.partial = append(sp.partial, p...)
			for len(sp.partial) >= maxLine {
				emit(sp.partial[:maxLine])
				sp.partial = append(sp.partial[:0], sp.partial[maxLine:]...)
			}
			return
		}
		line := p[:i]
		if len(sp.partial) > 0 {
			sp.partial = append(sp.partial, line...)
			line = sp.partial
		}
		for len(line) > maxLine {
			emit(line[:maxLine])
			line = line[maxLine:]
		}
		emit(bytes.TrimSuffix(line, []byte{'\r'}))
		sp.partial = sp.partial[:0]
		p = p[i+1:]
	}
}

// rest returns a last line that had no newline.
func (sp *splitter) rest() string {
	s := string(sp.partial)
	sp.partial = nil
	return s
}
