package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB that records how a test would have ended.
type recorder struct {
	testing.TB
	ended string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.ended = "fail: " + fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Skip(args ...any) {
	r.ended = "skip: " + fmt.Sprint(args...)
	runtime.Goexit()
}

func run(t *testing.T, f func(tb testing.TB)) string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); f(r) }()
	<-done
	return r.ended
}

func TestAMissSkipsHereAndFailsWhereRequired(t *testing.T) {
	t.Setenv(RequireRootEnv, "")
	if got := run(t, func(tb testing.TB) { Tools(tb, RequireRootEnv, "no-such-tool-here (apt-get install x)") }); !strings.HasPrefix(got, "skip: needs no-such-tool-here (apt-get install x)") {
		t.Errorf("without %s: %q, want a skip naming the tool and its package", RequireRootEnv, got)
	}
	t.Setenv(RequireRootEnv, "1")
	if got := run(t, func(tb testing.TB) { Tools(tb, RequireRootEnv, "no-such-tool-here") }); !strings.HasPrefix(got, "fail: MINIKIT_REQUIRE_ROOT=1 but") {
		t.Errorf("with %s=1: %q, want a failure", RequireRootEnv, got)
	}
	if got := run(t, func(tb testing.TB) { Tools(tb, RequireRootEnv, "sh") }); got != "" {
		t.Errorf("a tool that is there: %q, want the test to go on", got)
	}
}

func TestLinuxKitExamplesFromTheEnvironment(t *testing.T) {
	shared := t.TempDir()
	os.Mkdir(filepath.Join(shared, "linuxkit-examples"), 0o755)
	t.Setenv(SharedEnv, shared)
	if got := LinuxKitExamples(t); got != filepath.Join(shared, "linuxkit-examples") {
		t.Errorf("LinuxKitExamples = %q", got)
	}
	t.Setenv(SharedEnv, t.TempDir())
	t.Setenv(RequireQEMUEnv, "1")
	if got := run(t, func(tb testing.TB) { LinuxKitExamples(tb) }); !strings.HasPrefix(got, "fail:") {
		t.Errorf("examples missing under %s=1: %q, want a failure", RequireQEMUEnv, got)
	}
}
