package main

import (
	"bufio"
	"bytes"
	"os"
	"runtime/metrics"
	"strconv"

	"github.com/minikit/minikit/internal/control"
)

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
