package harness

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that records what the harness reports instead
// of failing the real test, so the harness's own failure reports can be
// tested. What it does not override (TempDir, Name, Helper) goes to the
// real test.
type recorder struct {
	testing.TB

	mu       sync.Mutex
	failed   bool
	skipped  bool
	errors   []string
	logs     []string
	cleanups []func()
}

// runRecorded runs body as a test of its own, with Fatal and Skip ending
// body only, and then runs the cleanups body registered.
func runRecorded(t *testing.T, body func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer r.runCleanups()
		body(r)
	}()
	<-done
	return r
}

func (r *recorder) runCleanups() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

func (r *recorder) Error(args ...any) { r.fail(fmt.Sprint(args...)) }
func (r *recorder) Errorf(format string, args ...any) {
	r.fail(fmt.Sprintf(format, args...))
}
func (r *recorder) Fail()    { r.fail("Fail") }
func (r *recorder) FailNow() { r.fail("FailNow"); runtime.Goexit() }
func (r *recorder) Fatal(args ...any) {
	r.fail(fmt.Sprint(args...))
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fail(fmt.Sprintf(format, args...))
	runtime.Goexit()
}
func (r *recorder) Skip(args ...any) { r.skip(fmt.Sprint(args...)) }
func (r *recorder) Skipf(format string, args ...any) {
	r.skip(fmt.Sprintf(format, args...))
}
func (r *recorder) SkipNow()        { r.skip("SkipNow") }
func (r *recorder) Log(args ...any) { r.log(fmt.Sprint(args...)) }
func (r *recorder) Logf(format string, args ...any) {
	r.log(fmt.Sprintf(format, args...))
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) Skipped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped
}

func (r *recorder) fail(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	r.errors = append(r.errors, msg)
}

func (r *recorder) skip(msg string) {
	r.mu.Lock()
	r.skipped = true
	r.logs = append(r.logs, "SKIP: "+msg)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) log(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, msg)
}

// errorText is every failure message, joined.
func (r *recorder) errorText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errors, "\n")
}

// logText is every log and skip message, joined.
func (r *recorder) logText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.logs, "\n")
}
