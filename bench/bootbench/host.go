package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// PID 1 measured on the host, for each build of init the run compares:
// what its binary weighs, the smoke image's root it makes, and the Go
// benchmarks of init/ that run it in host test mode (as PID 1 of new
// namespaces, over real containers): its memory and `svcctl list` with
// 100 services, and the time its launcher takes to run a container
// against `runc run` of the same bundle.

// variant is one build of minikit: this checkout's, or an earlier one
// given with -before.
type variant struct {
	name    string // "minikit" or "before"
	dir     string // the checkout, with bin/ built
	store   string // its image store ("" for the default)
	minikit string // its bin/minikit
}

// hostFigures are what one variant measured on the host.
type hostFigures struct {
	// InitBytes is bin/init, built as the image's (stripped, static).
	InitBytes int64 `json:"initBytes"`
	// SvcctlBytes is what svcctl adds to the image: 0 when it is init
	// itself under another name.
	SvcctlBytes int64 `json:"svcctlBytes"`
	// ObserverBytes is the observer's binary: 0 when svcctl's is the
	// observer too.
	ObserverBytes int64 `json:"observerBytes"`
	// SmokeRootBytes is the root image of tests/images/smoke.yml.
	SmokeRootBytes int64 `json:"smokeRootBytes"`
	// Bench holds each metric of the host benchmarks, by unit, one value
	// per round.
	Bench  map[string][]float64 `json:"bench"`
	Errors []string             `json:"errors,omitempty"`
}

func (h *hostFigures) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	h.Errors = append(h.Errors, msg)
	fmt.Fprintf(os.Stderr, "bootbench: host: %s\n", msg)
}

// hostBenchmarks are the Go benchmarks of init/ that measure PID 1 on the
// host, with how many iterations each runs per round.
var hostBenchmarks = []struct{ name, benchtime string }{
	{"BenchmarkHostListWith100Services", "50x"},
	{"BenchmarkHostContainerStart", "20x"},
}

// measureSizes fills the sizes of v's binaries and of the smoke image's
// root, built under work.
func measureSizes(v variant, work string, h *hostFigures) {
	initBin := filepath.Join(v.dir, "bin/init")
	st, err := os.Stat(initBin)
	if err != nil {
		h.fail("%s: %v", v.name, err)
		return
	}
	h.InitBytes = st.Size()
	svcctl := filepath.Join(v.dir, "bin/svcctl")
	if sv, err := os.Stat(svcctl); err != nil {
		h.fail("%s: %v", v.name, err)
	} else if !os.SameFile(st, sv) {
		h.SvcctlBytes = sv.Size()
	}
	if ob, err := os.Stat(filepath.Join(v.dir, "bin/minikit-observe")); err == nil {
		h.ObserverBytes = ob.Size()
	}
	out := filepath.Join(work, "smoke-"+v.name)
	args := []string{"build", "-o", out, "-format", "kernel+squashfs", "-sbom=false"}
	if v.store != "" {
		args = append(args, "-store", v.store)
	}
	cmd := exec.Command(v.minikit, append(args, "tests/images/smoke.yml")...)
	if b, err := cmd.CombinedOutput(); err != nil {
		h.fail("%s: minikit build smoke: %v\n%s", v.name, err, b)
		return
	}
	if st, err := os.Stat(filepath.Join(out, "smoke-squashfs.img")); err != nil {
		h.fail("%s: %v", v.name, err)
	} else {
		h.SmokeRootBytes = st.Size()
	}
}

// runHostBenchmarks runs the host benchmarks once against v's init and
// svcctl, adding each metric to h.Bench.
func runHostBenchmarks(v variant, h *hostFigures) {
	if os.Geteuid() != 0 {
		if len(h.Errors) == 0 {
			h.fail("not root: the host benchmarks (PID 1 in new namespaces, containers) are left out")
		}
		return
	}
	if h.Bench == nil {
		h.Bench = map[string][]float64{}
	}
	for _, b := range hostBenchmarks {
		cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^"+b.name+"$", "-benchtime", b.benchtime, "-count", "1", "./init/")
		cmd.Env = append(os.Environ(),
			"MINIKIT_INIT_BINARY="+filepath.Join(v.dir, "bin/init"),
			"MINIKIT_SVCCTL_BINARY="+filepath.Join(v.dir, "bin/svcctl"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			h.fail("%s: %s: %v\n%s", v.name, b.name, err, out)
			continue
		}
		metrics, ok := benchMetrics(string(out), b.name)
		if !ok {
			h.fail("%s: %s printed no result:\n%s", v.name, b.name, out)
			continue
		}
		for unit, val := range metrics {
			h.Bench[unit] = append(h.Bench[unit], val)
		}
	}
}

// benchMetrics reads the metrics of the result line of benchmark name in
// the output of go test -bench: "BenchmarkX-2  50  7522841 ns/op  39.48 init-rss-MiB".
func benchMetrics(out, name string) (map[string]float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || (f[0] != name && !strings.HasPrefix(f[0], name+"-")) {
			continue
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, false
			}
			m[f[i+1]] = v
		}
		return m, true
	}
	return nil, false
}

// hostRow is one row of the host table: a metric of the benchmarks, or a
// size.
type hostRow struct {
	label string
	unit  string // the benchmark's unit; "" for a size
	size  func(*hostFigures) int64
	// zeroOK says a size of 0 is a figure, not a failure to measure.
	zeroOK bool
	goal   string
}

var hostRows = []hostRow{
	{label: "init binary (stripped)", size: func(h *hostFigures) int64 { return h.InitBytes }, goal: "<= 8 MiB"},
	{label: "svcctl binary, beside init", size: func(h *hostFigures) int64 { return h.SvcctlBytes }, zeroOK: true},
	{label: "observer binary, beside init", size: func(h *hostFigures) int64 { return h.ObserverBytes }, zeroOK: true},
	{label: "smoke image's root image", size: func(h *hostFigures) int64 { return h.SmokeRootBytes }, goal: "<= 12.15 MiB"},
	{label: "PID 1 RSS, 100 services", unit: "init-rss-MiB", goal: "<= 16 MiB"},
	{label: "  of it anonymous (heap, stacks, runtime)", unit: "init-anon-MiB"},
	{label: "  of it the binary's pages", unit: "init-file-MiB"},
	{label: "  Go heap, 100 services", unit: "init-heap-MiB"},
	{label: "svcctl list, 100 services (command)", unit: "svcctl-list-ms", goal: "<= 5 ms"},
	{label: "  the API's answer alone", unit: "api-list-ms"},
	{label: "  svcctl's own start (svcctl help)", unit: "svcctl-help-ms"},
	{label: "container start, init's launcher", unit: "start-ms"},
	{label: "  runc run of the same bundle", unit: "runc-ms"},
	{label: "  launcher / runc run", unit: "start-vs-runc", goal: "<= 0.5"},
}

// printHostTable prints the host figures of each variant, medians of the
// rounds, with the ratio of this checkout's to the one before.
func printHostTable(host map[string]*hostFigures) {
	mk, before := host["minikit"], host["before"]
	if mk == nil {
		return
	}
	fmt.Printf("\nPID 1 on the host (init/ benchmarks in host test mode: init as PID 1 of new namespaces; medians)\n\n")
	const format = "%-44s %10s %10s %8s %12s\n"
	fmt.Printf(format, "figure", "before", "minikit", "ratio", "goal")
	for _, r := range hostRows {
		value := func(h *hostFigures) (float64, string, bool) {
			if h == nil {
				return 0, "", false
			}
			if r.size != nil {
				b := r.size(h)
				return float64(b), fmt.Sprintf("%.2f MiB", float64(b)/(1<<20)), b > 0 || r.zeroOK
			}
			vs := h.Bench[r.unit]
			if len(vs) == 0 {
				return 0, "", false
			}
			m := median(vs)
			switch {
			case strings.HasSuffix(r.unit, "-MiB"):
				return m, fmt.Sprintf("%.1f MiB", m), true
			case strings.HasSuffix(r.unit, "-ms"):
				return m, fmt.Sprintf("%.2f ms", m), true
			}
			return m, fmt.Sprintf("%.2f", m), true
		}
		a, as, aok := value(mk)
		b, bs, bok := value(before)
		if !aok {
			as = "n/a"
		}
		if !bok {
			bs = "n/a"
		}
		ratio := "n/a"
		if aok && bok && b != 0 {
			ratio = fmt.Sprintf("%.2f", a/b)
		}
		fmt.Printf(format, r.label, bs, as, ratio, r.goal)
	}
	for name, h := range host {
		for _, e := range h.Errors {
			fmt.Printf("  %s: %s\n", name, firstLine(e))
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// hostMedians are the medians of each metric, for the JSON file.
func hostMedians(h *hostFigures) map[string]float64 {
	m := map[string]float64{}
	for unit, vs := range h.Bench {
		m[unit] = median(vs)
	}
	for _, r := range hostRows {
		if r.size != nil {
			m[r.label] = float64(r.size(h))
		}
	}
	return m
}
