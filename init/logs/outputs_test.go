package logs

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// hang bounds the waits of these tests only so that a broken log fails
// its test instead of hanging it; it measures nothing.
const hang = 10 * time.Second

func regexpMatch(pattern, s string) bool {
	return regexp.MustCompile(pattern).MatchString(s)
}

// syncBuffer is a console that tests can read while init writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestContainerOutputReachesTheRingTheFileAndTheConsole(t *testing.T) {
	console := &syncBuffer{}
	dir := t.TempDir()
	o := New(console, dir, nil)
	w, closeOut := o.ForContainer("svc")
	fmt.Fprint(w, "hello\r\nworld\nno newline at the end")
	closeOut()

	var lines []string
	for _, l := range o.Lookup("svc").Tail(-1) {
		lines = append(lines, l.Line)
	}
	if fmt.Sprint(lines) != "[hello world no newline at the end]" {
		t.Errorf("ring: %q", lines)
	}
	file, _ := os.ReadFile(filepath.Join(dir, "svc.log"))
	if !regexpMatch(`^\[ *\d+\.\d{3}\] hello\n\[ *\d+\.\d{3}\] world\n\[ *\d+\.\d{3}\] no newline at the end\n$`, string(file)) {
		t.Errorf("svc.log:\n%s", file)
	}
	o.queue.flush(hang)
	if c := console.String(); !strings.Contains(c, "] svc: hello\n") || !strings.Contains(c, "] svc: no newline at the end\n") {
		t.Errorf("console:\n%s", c)
	}
}

func TestTheSplitterCutsRunawayLines(t *testing.T) {
	var got []string
	var sp splitter
	emit := func(l []byte) { got = append(got, string(l)) }
	sp.feed([]byte(strings.Repeat("a", maxLine+10)), emit)
	sp.feed([]byte("b\nc"), emit)
	sp.feed([]byte("d\n"), emit)
	if len(got) != 3 || len(got[0]) != maxLine || got[1] != strings.Repeat("a", 10)+"b" || got[2] != "cd" {
		t.Errorf("lines: %d, %q", len(got), got[1:])
	}
	if r := sp.rest(); r != "" {
		t.Errorf("rest = %q", r)
	}
}

// stuckConsole is a serial console that takes nothing until released.
type stuckConsole struct {
	release chan struct{}
	syncBuffer
}

func (c *stuckConsole) Write(p []byte) (int, error) {
	<-c.release
	return c.syncBuffer.Write(p)
}

// A service that floods its output is not held back by a console that
// takes nothing, init's memory stays within the log bounds, and the log
// files rotate instead of filling /var.
func TestAFloodNeitherWaitsForTheConsoleNorGrowsMemory(t *testing.T) {
	total := 32 << 20
	if testing.Short() {
		total = 4 << 20
	}
	console := &stuckConsole{release: make(chan struct{})}
	dir := t.TempDir()
	o := New(console, dir, nil)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	w, closeOut := o.ForContainer("flood")
	line := []byte(strings.Repeat("flood ", 15) + "\n") // 91 bytes
	written := make(chan error, 1)
	go func() {
		var err error
		for n := 0; n < total && err == nil; n += len(line) {
			_, err = w.(*os.File).Write(line)
		}
		written <- err
	}()
	select {
	case err := <-written:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute): // a hang guard, not a measure
		t.Fatal("the writer is blocked: init stopped reading while the console was stuck")
	}
	closeOut() // does not wait for the stuck console

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	const bound = 8 << 20 // rings, console queue and buffers are far below this
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > bound {
		t.Errorf("the heap grew by %d MiB after %d MiB of output; bound %d MiB", grew>>20, total>>20, bound>>20)
	}
	ring := o.Lookup("flood").Tail(-1)
	if len(ring) > RingLines || ring[len(ring)-1].Seq < uint64(total/len(line))-1 {
		t.Errorf("the ring holds %d lines up to seq %d", len(ring), ring[len(ring)-1].Seq)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "flood.log*"))
	if len(files) != 1+OldFiles {
		t.Errorf("log files: %v, want flood.log and %d rotated", files, OldFiles)
	}
	for _, f := range files {
		if st, _ := os.Stat(f); st.Size() > MaxFileSize {
			t.Errorf("%s: %d bytes, over %d", f, st.Size(), MaxFileSize)
		}
	}

	// Once the console moves again it is told what it missed.
	close(console.release)
	o.queue.flush(hang)
	w2, closeOut2 := o.ForContainer("flood")
	fmt.Fprintln(w2, "after the flood")
	closeOut2()
	o.queue.flush(hang)
	c := console.String()
	if !regexpMatch(`\] flood: \(\d+ lines dropped from the console; see .*flood\.log\)\n`, c) ||
		!strings.HasSuffix(c, "flood: after the flood\n") {
		t.Errorf("the console does not tell of the lines it missed:\n...%s", c[max(0, len(c)-300):])
	}
}

func TestInitsOwnLogIsKeptLikeAServicesLog(t *testing.T) {
	dir := t.TempDir()
	o := New(nil, dir, nil)
	logger := slog.New(o.Handler(slog.LevelInfo))
	logger.Info("service x started (pid 7)", "service", "x", "pid", 7)
	lines := o.own.Tail(1)
	if len(lines) != 1 || lines[0].Line != "service x started (pid 7) service=x pid=7" {
		t.Errorf("init's ring ends with %v", lines)
	}
	if o.Lookup(InitName) != o.own {
		t.Fatal("the log called init is not init's")
	}
	data, _ := os.ReadFile(filepath.Join(dir, "init.log"))
	if !strings.Contains(string(data), "] service x started (pid 7) service=x pid=7\n") {
		t.Errorf("init.log does not hold what was logged before it was opened:\n%s", data)
	}
}

// BenchmarkLogThroughput measures how fast init takes the output of one
// noisy service: every line to the ring, the file and the console queue.
func BenchmarkLogThroughput(b *testing.B) {
	o := New(io.Discard, b.TempDir(), nil)
	w, closeOut := o.ForContainer("noisy")
	chunk := bytes.Repeat([]byte(strings.Repeat("x", 79)+"\n"), 64<<10/80)
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	for range b.N {
		if _, err := w.(*os.File).Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	closeOut()
}

// A flooding service takes at most its share of the console, so the
// lines of a quiet one still get there.
func TestAFloodDoesNotSilenceOtherServicesOnTheConsole(t *testing.T) {
	console := &stuckConsole{release: make(chan struct{})}
	o := New(console, "", nil)
	flood, quiet := o.Sink("flood"), o.Sink("quiet")
	for i := range 10 * consoleQueueLen {
		flood.write(time.Now(), 0, []string{fmt.Sprint("flood ", i)})
	}
	quiet.write(time.Now(), 0, []string{"a quiet line"})
	close(console.release)
	o.queue.flush(hang)
	if c := console.String(); !strings.Contains(c, "quiet: a quiet line\n") {
		t.Errorf("the quiet service's line did not reach the console:\n...%s", c[max(0, len(c)-300):])
	}
}

// Text for the consoles comes out as it is, line by line and in order,
// without the stamps of log lines, and never makes its writer wait.
func TestConsoleTextIsShownAsItIs(t *testing.T) {
	console := &syncBuffer{}
	o := New(console, "", nil)
	slog.New(o.Handler(slog.LevelInfo)).Info("before")
	o.ConsoleText("\nWelcome\n  indented\n\n")
	o.queue.flush(hang)
	if c := console.String(); !regexpMatch(`\] before\n\nWelcome\n  indented\n\n$`, c) {
		t.Errorf("console:\n%q", c)
	}

	stuck := &stuckConsole{release: make(chan struct{})}
	o = New(stuck, "", nil)
	done := make(chan struct{})
	go func() {
		for range 3 * initConsoleShare {
			o.ConsoleText("a line")
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(hang):
		t.Fatal("ConsoleText waits for a console that takes nothing")
	}
	close(stuck.release)
}

// Shipping starts after init's first lines and some containers' lines:
// every line goes exactly once, in order within its log, with its stream,
// and the logs made later ship from their first line.
func TestShipToSendsEveryLineOnce(t *testing.T) {
	o := New(nil, "", nil)
	o.Sink(InitName).write(time.Now(), time.Second, []string{"init 1"})
	o.Sink("000-early").write(time.Now(), time.Second, []string{"early 1", "early 2"})
	var mu sync.Mutex
	got := map[string][]string{}
	streams := map[string]string{}
	o.ShipTo(func(name, stream string, _ time.Time, lines []string) {
		mu.Lock()
		defer mu.Unlock()
		got[name] = append(got[name], lines...)
		streams[name] = stream
	})
	o.Sink(InitName).write(time.Now(), time.Second, []string{"init 2"})
	w, done := o.ForContainer("sshd")
	fmt.Fprintln(w.(io.Writer), "sshd 1")
	done()
	mu.Lock()
	defer mu.Unlock()
	want := map[string][]string{InitName: {"init 1", "init 2"}, "000-early": {"early 1", "early 2"}, "sshd": {"sshd 1"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("shipped %v, want %v", got, want)
	}
	if streams[InitName] != "log" || streams["sshd"] != "output" {
		t.Errorf("streams %v", streams)
	}
	vols := map[string]Volume{}
	for _, v := range o.Volumes() {
		vols[v.Name] = v
	}
	if v := vols["000-early"]; v.Lines != 2 || v.Bytes != 14 {
		t.Errorf("volume of 000-early: %+v", v)
	}
}
