package supervisor

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/init/logs"
)

// The supervisor's own cost, over fakes; init's benchmarks in host test
// mode measure it with real containers.
//
//	go test -run '^$' -bench . -benchtime 3x ./init/supervisor/

// BenchmarkRestartAfterDeath is the supervisor's own cost from a
// process's death to its next launch, with no backoff.
func BenchmarkRestartAfterDeath(b *testing.B) {
	quietLog(b)
	cfg := svc("s")
	cfg.restart.base, cfg.restart.limit = 0, b.N+2
	ts := newTestSupervisor(b, cfg)
	ts.Run()
	p := ts.launcher.next(b, "s")
	b.ResetTimer()
	for range b.N {
		p.end(1)
		p = ts.launcher.next(b, "s")
	}
}

// BenchmarkMemoryWith100Services reports the heap the supervisor of 100
// running services takes once every service filled its log ring: the
// bound of init's memory that grows with services.
func BenchmarkMemoryWith100Services(b *testing.B) {
	quietLog(b)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	outputs := logs.New(nil, "", nil)
	ts := newTestSupervisor(b)
	ts.logs = outputs
	for i := range 100 {
		ts.Add(svc(fmt.Sprintf("svc%03d", i)))
	}
	ts.Run()
	line := strings.Repeat("x", 80) + "\n"
	for _, s := range ts.services {
		p := ts.launcher.next(b, s.name)
		if _, err := io.WriteString(p.out, strings.Repeat(line, logs.RingLines)); err != nil {
			b.Fatal(err)
		}
	}
	for _, s := range ts.services {
		for outputs.Lookup(s.name).Last() < logs.RingLines {
			time.Sleep(time.Millisecond)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(ts)
	b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/(1<<20), "heap-MiB")
	for range b.N {
		// The figure is heap-MiB; there is nothing to repeat.
	}
}

// quietLog silences the supervisor's log for a benchmark, whose figures
// it would otherwise measure.
func quietLog(b *testing.B) {
	old := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	b.Cleanup(func() { slog.SetDefault(old) })
}
