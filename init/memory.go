package main

import (
	"bufio"
	"bytes"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"time"

	"github.com/minikit/minikit/init/supervisor"

	"github.com/minikit/minikit/internal/control"
)

// Go's runtime, tuned for PID 1: a process that lives as long as the
// system, whose live heap is small (1-2 MiB with a few services, a few
// more with a hundred) and whose allocations come in bursts (boot, a
// service that floods its log).
const (
	// gcPercent, once boot is over, lets the heap grow to 1.5 times what
	// was live after the last collection, rather than twice; it also
	// halves the heap the runtime lets grow before collecting at all (4
	// MiB by default). A collection of a heap this small costs well under
	// a millisecond natively, but tens under emulation, so boot, whose
	// allocations all become garbage at once, keeps the default.
	gcPercent = 50
	// memoryLimit is a soft ceiling on all the runtime holds (heap,
	// stacks, its own structures): near it the collector runs more often
	// and free memory goes back to the kernel at once. It is far above
	// what init holds, and below the bound the flood test sets on init's
	// peak (64 MiB), so that a burst meets a harder-working collector
	// rather than a larger heap.
	memoryLimit = 48 << 20
)

// tuneRuntime sets PID 1's memory limit. (Huge pages are refused before
// the runtime starts: hugepages.go.)
func tuneRuntime() {
	debug.SetMemoryLimit(memoryLimit)
}

// settleAfterBoot waits until every service has started (or will not
// start), or a minute has passed, so as not to compete with the starts;
// then it tightens the collector and collects the garbage of boot
// (modules, coldplug, container starts), giving the kernel back what it
// freed now rather than over the next minutes of background scavenging.
func settleAfterBoot(sup *supervisor.Supervisor) {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if sup == nil || servicesSettled(sup.Statuses()) {
			break
		}
	}
	debug.SetGCPercent(gcPercent)
	debug.FreeOSMemory()
}

// servicesSettled reports whether every service has left its first
// start behind: it runs, ran, or gave up.
func servicesSettled(list []control.Service) bool {
	for _, s := range list {
		if s.Started.IsZero() && s.State != control.StateFailed && s.State != control.StateExited {
			return false
		}
	}
	return true
}

// initMemory is what PID 1 holds now: the kernel's count from
// /proc/self/status and the Go runtime's own, read without stopping the
// world.
func initMemory() *control.InitMemory {
	m := &control.InitMemory{}
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/sched/goroutines:goroutines"},
	}
	metrics.Read(samples)
	value := func(i int) uint64 {
		if samples[i].Value.Kind() == metrics.KindUint64 {
			return samples[i].Value.Uint64()
		}
		return 0
	}
	m.HeapBytes = value(0)
	m.RuntimeBytes = value(1) - value(2)
	m.Goroutines = int(value(3))
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return m
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		f := bytes.Fields(v)
		if len(f) != 2 || string(f[1]) != "kB" {
			continue
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			continue
		}
		switch string(k) {
		case "VmRSS":
			m.RSSBytes = kb << 10
		case "RssAnon":
			m.RSSAnonBytes = kb << 10
		case "RssFile":
			m.RSSFileBytes = kb << 10
		}
	}
	return m
}
