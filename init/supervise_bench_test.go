package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	imagespec "github.com/minikit/minikit/image-spec"
	"github.com/minikit/minikit/init/supervisor"
	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/internal/control"
)

// Timing goals live here, never in assertions. These run the real init
// over real containers in host test mode and skip without root; the
// supervisor's own cost over fakes is measured in init/supervisor.
//
//	go test -run '^$' -bench . -benchtime 3x ./init/

// BenchmarkHostRestartAfterDeath is the time from a container's death
// (SIGKILL) to its replacement's start, less the backoff the supervisor
// announced: what a crash costs in time beyond the policy's wait. The
// figure is restart-ms; ns/op includes the backoff.
func BenchmarkHostRestartAfterDeath(b *testing.B) {
	needRoot(b)
	rootfs := fullRootfs(b)
	tree := newTree(b)
	spec := bundleSpec(rootfs, false, nil, "/bin/sh", "-c", "exec sleep 4545")
	writeBundle(b, filepath.Join(tree, bundle.ServicesDir, "victim"), spec)
	h := startHostInit(b, tree)
	h.lineIndex(`service victim started`, 1, time.Minute)
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		if i > 0 && i%(supervisor.CrashLoopLimit-1) == 0 {
			// Before the crash loop limit: a start by hand forgives.
			b.StopTimer()
			h.act("victim", "restart")
			h.lineIndex(`service victim started`, i+1+i/(supervisor.CrashLoopLimit-1), time.Minute)
			b.StartTimer()
		}
		starts := i + 1 + i/(supervisor.CrashLoopLimit-1)
		if err := syscall.Kill(findProcess(b, "sleep", "4545"), syscall.SIGKILL); err != nil {
			b.Fatal(err)
		}
		started := h.lineIndex(`service victim started`, starts+1, time.Minute)
		lines := h.snapshot()
		exited := lastMatch(lines[:started], `service victim exited 137`)
		wait := lastMatch(lines[:started], `service victim restarts in (\S+)`)
		backoff, err := time.ParseDuration(regexp.MustCompile(`restarts in (\S+)`).FindStringSubmatch(lines[wait])[1])
		if exited < 0 || wait < 0 || err != nil {
			b.Fatalf("no exit or backoff before line %d", started)
		}
		total += consoleStamp(b, lines[started]) - consoleStamp(b, lines[exited]) - backoff
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "restart-ms")
	h.stop(time.Minute)
}

func lastMatch(lines []string, pattern string) int {
	re := regexp.MustCompile(pattern)
	for i := len(lines) - 1; i >= 0; i-- {
		if re.MatchString(lines[i]) {
			return i
		}
	}
	return -1
}

// consoleStamp reads the "[   1.234]" of a console line.
func consoleStamp(tb testing.TB, line string) time.Duration {
	m := regexp.MustCompile(`^\[ *(\d+\.\d+)\]`).FindStringSubmatch(line)
	if m == nil {
		tb.Fatalf("no time stamp in %q", line)
	}
	s, _ := strconv.ParseFloat(m[1], 64)
	return time.Duration(s * float64(time.Second))
}

// BenchmarkHostListWith100Services is `svcctl list` latency (ns/op) over
// 100 real containers, and init's resident memory once they all run.
func BenchmarkHostListWith100Services(b *testing.B) {
	needRoot(b)
	rootfs := fullRootfs(b)
	tree := newTree(b)
	for i := range 100 {
		spec := bundleSpec(rootfs, false, nil, "/bin/sh", "-c", "echo up; exec sleep 100000")
		writeBundle(b, filepath.Join(tree, bundle.ServicesDir, fmt.Sprintf("svc%03d", i)), spec)
	}
	h := startHostInit(b, tree)
	h.lineIndex(`service svc\d+ started`, 100, 5*time.Minute)
	client := control.NewClient(filepath.Join(tree, control.Socket))
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		list, err := client.Services(ctx)
		if err != nil || len(list) != 100 {
			b.Fatalf("%d services, %v", len(list), err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "api-list-ms")
	// The command as a user runs it: svcctl's own start included; and
	// of it, the command's own start and end, asking nothing. The two
	// alternate, so that a slower stretch of the machine weighs on both.
	svcctl := svcctlBinary(b)
	var lists, helps []time.Duration
	for range 40 {
		start := time.Now()
		out, err := exec.Command(svcctl, "--socket", filepath.Join(tree, control.Socket), "list").CombinedOutput()
		if err != nil {
			b.Fatalf("svcctl list: %v\n%s", err, out)
		}
		lists = append(lists, time.Since(start))
		start = time.Now()
		if out, err := exec.Command(svcctl, "help").CombinedOutput(); err != nil {
			b.Fatalf("svcctl help: %v\n%s", err, out)
		}
		helps = append(helps, time.Since(start))
	}
	b.ReportMetric(float64(medianDuration(lists).Microseconds())/1000, "svcctl-list-ms")
	b.ReportMetric(float64(medianDuration(helps).Microseconds())/1000, "svcctl-help-ms")
	reportInitMemory(b, h.cmd.Process.Pid)
	if a, err := client.Analyze(ctx); err == nil && a.Init != nil { // an init from before it said
		b.ReportMetric(float64(a.Init.HeapBytes)/(1<<20), "init-heap-MiB")
	}
	h.stop(5 * time.Minute)
}

// reportInitMemory reports init's resident memory (init-rss-MiB), and
// of it the anonymous part (heap, stacks, the runtime's own) and the
// pages of its binary it has mapped (init-file-MiB): from a file, or
// shared memory once PID 1 runs from its sealed memfd.
func reportInitMemory(b *testing.B, pid int) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return
	}
	kib := func(field string) (int, bool) {
		m := regexp.MustCompile(field + `:\s+(\d+) kB`).FindSubmatch(status)
		if m == nil {
			return 0, false
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n, true
	}
	if n, ok := kib("VmRSS"); ok {
		b.ReportMetric(float64(n)/1024, "init-rss-MiB")
	}
	if n, ok := kib("RssAnon"); ok {
		b.ReportMetric(float64(n)/1024, "init-anon-MiB")
	}
	file, ok1 := kib("RssFile")
	shmem, ok2 := kib("RssShmem")
	if ok1 || ok2 {
		b.ReportMetric(float64(file+shmem)/1024, "init-file-MiB")
	}
}

func medianDuration(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkHostContainerStart is the time init's launcher takes to run a
// trivial container to its end (create, start, exit, destroy: the time
// the "onboot NAME exited 0 in D" line reports), as start-ms, against
// `runc run` of the same bundle (runc-ms, Debian's runc, timed from its
// exec to its exit) and their ratio, start-vs-runc. The bundle is what
// the packer writes for an onboot entry with a read-only root: the
// default capabilities, seccomp profile and masked paths.
func BenchmarkHostContainerStart(b *testing.B) {
	needRoot(b)
	runc, err := exec.LookPath("runc")
	if err != nil {
		b.Skip("needs runc (Debian package runc)")
	}
	rootfs := busyboxRootfs(b)
	readonly := true
	spec, _, err := imagespec.OCISpec(&imagespec.Container{Name: "true", Command: []string{"/bin/true"}, Readonly: &readonly},
		v1.Config{}, imagespec.KindOnboot)
	if err != nil {
		b.Fatal(err)
	}
	spec.Root.Path = rootfs // one root for every bundle
	tree := newTree(b)
	for i := range b.N {
		writeBundle(b, filepath.Join(tree, bundle.OnbootDir, fmt.Sprintf("%03d-true", i)), spec)
	}
	b.ResetTimer()
	h := startHostInit(b, tree)
	h.expect(`onboot done`, time.Duration(b.N)*time.Minute)
	b.StopTimer()
	var starts []time.Duration
	re := regexp.MustCompile(`onboot \d+-true exited 0 in (\S+)`)
	for _, l := range h.snapshot() {
		if m := re.FindStringSubmatch(l); m != nil {
			d, err := time.ParseDuration(m[1])
			if err != nil {
				b.Fatal(err)
			}
			starts = append(starts, d)
		}
	}
	if len(starts) != b.N {
		b.Fatalf("%d onboot containers exited 0, want %d", len(starts), b.N)
	}
	h.stop(time.Minute)

	var runcs []time.Duration
	for i := range b.N {
		dir := filepath.Join(tree, bundle.OnbootDir, fmt.Sprintf("%03d-true", i))
		start := time.Now()
		out, err := exec.Command(runc, "--root", filepath.Join(tree, "runc-state"), "run", "--bundle", dir, fmt.Sprintf("bench-%d-%d", os.Getpid(), i)).CombinedOutput()
		if err != nil {
			b.Fatalf("runc run: %v\n%s", err, out)
		}
		runcs = append(runcs, time.Since(start))
	}
	start, r := medianDuration(starts), medianDuration(runcs)
	b.ReportMetric(float64(start.Microseconds())/1000, "start-ms")
	b.ReportMetric(float64(r.Microseconds())/1000, "runc-ms")
	b.ReportMetric(float64(start)/float64(r), "start-vs-runc")
}

// BenchmarkHostLogThroughput is how fast init takes the output of one
// container writing 100 MB as fast as it can (MB/s).
func BenchmarkHostLogThroughput(b *testing.B) {
	needRoot(b)
	const total = 100 << 20
	rootfs := fullRootfs(b)
	tree := newTree(b)
	spec := bundleSpec(rootfs, false, map[string]string{bundle.AnnotationRestart: "never"}, "/bin/sh", "-c",
		fmt.Sprintf("yes 'the quick brown fox jumps over the lazy dog 0123456789' | head -c %d", total))
	writeBundle(b, filepath.Join(tree, bundle.ServicesDir, "flood"), spec)
	h := startHostInit(b, tree)
	h.lineIndex(`service flood exited 0`, 1, 5*time.Minute)
	b.SetBytes(total)
	b.ResetTimer()
	for i := range b.N {
		h.act("flood", "start")
		h.lineIndex(`service flood exited 0`, i+2, 5*time.Minute)
	}
	b.StopTimer()
	h.stop(time.Minute)
}
