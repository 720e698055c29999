// Command bootbench measures how fast minikit's reference image boots
// under qemu, and how the same kernel, modules and containers boot when
// PID 1 is a busybox shell script that starts them with Debian's runc one
// after another (bench/baseline/init.sh). `make bench` runs it.
//
// It builds the reference image (image-spec/examples/minikit.yml and a
// spec file adding an ssh key) with bin/minikit, timing the cached
// rebuilds; makes the baseline initrd from a build of the same specs
// whose root is copied into a tmpfs at boot (-root tmpfs), which keeps
// the root's files in the initrd; boots each image -runs times,
// alternating, with the guest's port 22 forwarded; and prints the
// medians, with the ratio minikit/baseline, and writes every run to a
// JSON file.
//
// It measures PID 1 on the host too (host.go): the size of init, the
// smoke image's root, and init/'s host benchmarks. With -before, an
// earlier checkout's build is booted and measured beside this one's, in
// the same run, so that a change is seen against the same noise.
//
// Times are seconds since the kernel started, on the guest's
// CLOCK_BOOTTIME: minikit's from `svcctl analyze --json` (read over ssh),
// the baseline's from the markers its script prints. The time sshd
// accepts a connection is the host's arrival of the ssh banner, moved onto
// the guest clock by the offset between the two clocks that the console's
// stamped lines show (see clockOffset).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/minikit/minikit/tools/qemu"
)

func main() {
	runs := flag.Int("runs", 3, "boots of each image; medians are reported")
	work := flag.String("dir", "build/bench", "working directory: images, console logs, results")
	jsonOut := flag.String("json", "", "where to write every run as JSON (default DIR/results.json)")
	spec := flag.String("spec", "image-spec/examples/minikit.yml", "the image spec to measure")
	mem := flag.Int("mem", 2048, "guest memory in MiB")
	cpus := flag.Int("cpus", 0, "guest CPUs (0: qemu package default)")
	timeout := flag.Duration("timeout", 4*time.Minute, "limit for one boot")
	reuse := flag.Bool("reuse", false, "boot the image a previous run built in DIR instead of building (no build times)")
	only := flag.String("only", "", "boot only these images, comma-separated: "+strings.Join([]string{imgMinikit, imgBefore, imgTmpfs, imgBaseline}, ", "))
	before := flag.String("before", "", "an earlier minikit checkout, built (make all images), to boot and measure beside this one")
	beforeStore := flag.String("before-store", "", "the image store that checkout's `make images` filled (its MINIKIT_STORE); needed with -before")
	host := flag.Bool("host", true, "measure PID 1 on the host too: binary sizes, the smoke image's root, init/'s host benchmarks (those need root)")
	flag.Parse()
	if *before != "" && *beforeStore == "" {
		fatal(errors.New("-before needs -before-store: the store holding that checkout's images"))
	}
	if *runs < 1 {
		fatal(errors.New("-runs must be at least 1"))
	}
	if err := chdirModuleRoot(); err != nil {
		fatal(err)
	}
	if *jsonOut == "" {
		*jsonOut = filepath.Join(*work, "results.json")
	}
	o := bootOpts{memMiB: *mem, cpus: *cpus, timeout: *timeout, reuse: *reuse, only: *only, host: *host}
	if *before != "" {
		dir, err := filepath.Abs(*before)
		if err != nil {
			fatal(err)
		}
		o.before = &variant{name: imgBefore, dir: dir, store: *beforeStore, minikit: filepath.Join(dir, "bin/minikit")}
	}
	if err := run(*runs, *work, *jsonOut, *spec, o); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bootbench:", err)
	os.Exit(1)
}

// results is the JSON file.
type results struct {
	Date      time.Time        `json:"date"`
	Runs      int              `json:"runs"`
	Accel     string           `json:"accel"`
	MemoryMiB int              `json:"memoryMiB"`
	CPUs      int              `json:"cpus,omitempty"`
	Spec      string           `json:"spec"`
	QEMU      string           `json:"qemu"`
	HostCPU   string           `json:"hostCPU"`
	HostCPUs  int              `json:"hostCPUs"`
	Builds    buildTimes       `json:"builds"`
	Initrd    map[string]int64 `json:"initrdBytes"`
	// Host is PID 1 measured on the host, by variant ("minikit",
	// "before"), and HostMedians the medians of its rounds.
	Host        map[string]*hostFigures       `json:"host,omitempty"`
	HostMedians map[string]map[string]float64 `json:"hostMedians,omitempty"`
	Baseline    *baselineInfo                 `json:"baseline"`
	Boots       []*bootResult                 `json:"boots"`
	Medians     map[string]map[string]float64 `json:"medians"`
	// Ranges are the smallest and largest value over the runs.
	Ranges map[string]map[string][2]float64 `json:"ranges"`
}

type buildTimes struct {
	// MinikitFirst is the first build of this run (the image store is
	// warm; its output directory may not be); MinikitCached are the
	// rebuilds of the same specs that follow it.
	MinikitFirst  float64   `json:"minikitFirstSeconds"`
	MinikitCached []float64 `json:"minikitCachedSeconds"`
	// TmpfsFirst and TmpfsCached are the same for the -root tmpfs build.
	TmpfsFirst  float64   `json:"tmpfsFirstSeconds"`
	TmpfsCached []float64 `json:"tmpfsCachedSeconds"`
	// Baseline is bootbench's repacking of minikit's initrd.
	Baseline float64 `json:"baselineRepackSeconds"`
}

// The images a run boots: minikit as built (a verified root image), the
// same built by an earlier checkout (-before), minikit with -root tmpfs
// (the root copied into a tmpfs at every boot, as before the image), and
// the busybox-and-runc baseline.
const (
	imgMinikit  = "minikit"
	imgBefore   = "before"
	imgTmpfs    = "tmpfs"
	imgBaseline = "baseline"
)

func run(runs int, work, jsonOut, spec string, o bootOpts) error {
	minikit, err := filepath.Abs("bin/minikit")
	if err != nil {
		return err
	}
	if _, err := os.Stat(minikit); err != nil {
		return fmt.Errorf("%w: run make all images first", err)
	}
	if _, err := qemu.LookPath(""); err != nil {
		return err
	}
	res := &results{Date: time.Now().UTC(), Runs: runs, MemoryMiB: o.memMiB, CPUs: o.cpus, Spec: spec,
		Initrd: map[string]int64{}, Medians: map[string]map[string]float64{}, Ranges: map[string]map[string][2]float64{}}
	res.QEMU, res.HostCPU, res.HostCPUs = hostInfo()
	res.Accel = string(qemu.AccelTCG)
	if qemu.KVMAvailable() {
		res.Accel = string(qemu.AccelKVM)
	}
	o.logDir = filepath.Join(work, "logs")
	imgDir := filepath.Join(work, "image")
	for _, d := range []string{o.logDir, imgDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}

	// The ssh key the image lets in, added by a second spec file as
	// tests/reference_test.go does.
	o.key = filepath.Join(work, "id_ed25519")
	if _, err := os.Stat(o.key); err != nil {
		os.Remove(o.key + ".pub")
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bootbench", "-f", o.key).CombinedOutput(); err != nil {
			return fmt.Errorf("ssh-keygen: %v\n%s", err, out)
		}
	}
	pub, err := os.ReadFile(o.key + ".pub")
	if err != nil {
		return err
	}
	extra := filepath.Join(work, "ssh-key.yml")
	extraSpec := fmt.Sprintf("files:\n  - path: root/.ssh/authorized_keys\n    contents: %q\n    mode: \"0600\"\n", strings.TrimSpace(string(pub)))
	if err := os.WriteFile(extra, []byte(extraSpec), 0o644); err != nil {
		return err
	}

	// minikit build, then the cached rebuilds; and the same system with
	// the root copied into a tmpfs at boot, as minikit booted before its
	// root became a verified image, which is also the tree the baseline
	// takes its records from.
	name := strings.TrimSuffix(filepath.Base(spec), filepath.Ext(spec))
	buildWith := func(minikit, store, dir string, flags ...string) (float64, error) {
		start := time.Now()
		args := append([]string{"build", "-o", dir, "-name", name}, flags...)
		if store != "" {
			args = append(args, "-store", store)
		}
		out, err := exec.Command(minikit, append(args, spec, extra)...).CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("%s build %v: %v\n%s", minikit, flags, err, out)
		}
		return time.Since(start).Seconds(), nil
	}
	build := func(dir string, flags ...string) (float64, error) { return buildWith(minikit, "", dir, flags...) }
	mk := image{name: imgMinikit, prefix: filepath.Join(imgDir, name)}
	mk.initrd = mk.prefix + "-initrd.img"
	tmpfsDir := filepath.Join(imgDir, "tmpfs")
	tm := image{name: imgTmpfs, prefix: filepath.Join(tmpfsDir, name)}
	tm.initrd = tm.prefix + "-initrd.img"
	if _, err := os.Stat(mk.initrd); err != nil || !o.reuse {
		step("minikit build %s (first)", spec)
		if res.Builds.MinikitFirst, err = build(imgDir); err != nil {
			return err
		}
	}
	if _, err := os.Stat(tm.initrd); err != nil || !o.reuse {
		step("minikit build -root tmpfs %s", spec)
		if res.Builds.TmpfsFirst, err = build(tmpfsDir, "-root", "tmpfs"); err != nil {
			return err
		}
	}
	images := []image{mk}
	if o.before != nil {
		dir := filepath.Join(work, "image-before")
		bf := image{name: imgBefore, prefix: filepath.Join(dir, name)}
		bf.initrd = bf.prefix + "-initrd.img"
		if _, err := os.Stat(bf.initrd); err != nil || !o.reuse {
			step("minikit build %s with %s", spec, o.before.minikit)
			if _, err := buildWith(o.before.minikit, o.before.store, dir); err != nil {
				return err
			}
		}
		images = append(images, bf)
	}
	images = append(images, tm)
	for i := range runs {
		if o.reuse {
			break
		}
		step("minikit build %s (cached, %d/%d)", spec, i+1, runs)
		t, err := build(imgDir)
		if err != nil {
			return err
		}
		res.Builds.MinikitCached = append(res.Builds.MinikitCached, t)
		step("minikit build -root tmpfs %s (cached, %d/%d)", spec, i+1, runs)
		if t, err = build(tmpfsDir, "-root", "tmpfs"); err != nil {
			return err
		}
		res.Builds.TmpfsCached = append(res.Builds.TmpfsCached, t)
	}

	// The baseline: the same kernel and cmdline, the tmpfs build's initrd
	// (the root's files) with the script as PID 1.
	step("baseline initrd from %s", tm.initrd)
	bl := image{name: imgBaseline, prefix: tm.prefix, initrd: filepath.Join(work, "baseline-initrd.img")}
	start := time.Now()
	if res.Baseline, err = buildBaseline(tm.initrd, bl.initrd, "bench/baseline/init.sh"); err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	res.Builds.Baseline = time.Since(start).Seconds()
	images = append(images, bl)
	if err := os.WriteFile(filepath.Join(work, "baseline-init.sh"), []byte(res.Baseline.Script), 0o755); err != nil {
		return err
	}
	for _, img := range images {
		st, err := os.Stat(img.initrd)
		if err != nil {
			return err
		}
		res.Initrd[img.name] = st.Size()
	}

	// PID 1 on the host: the sizes once, the benchmarks once a round,
	// alternating between the variants like the boots.
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	variants := []variant{{name: imgMinikit, dir: wd, minikit: minikit}}
	if o.before != nil {
		variants = append(variants, *o.before)
	}
	if o.host {
		res.Host = map[string]*hostFigures{}
		for _, v := range variants {
			step("host: sizes of %s", v.name)
			res.Host[v.name] = &hostFigures{}
			measureSizes(v, work, res.Host[v.name])
		}
	}

	// The boots, alternating so that a change in the host's load falls on
	// every image alike, and in an order that turns each round, so that
	// none is always the one that follows the host benchmarks.
	for i := range runs {
		if o.host {
			for _, v := range variants {
				step("host: benchmarks of %s (%d/%d)", v.name, i+1, runs)
				runHostBenchmarks(v, res.Host[v.name])
			}
		}
		for j := range images {
			img := images[(i+j)%len(images)]
			if o.only != "" && !slices.Contains(strings.Split(o.only, ","), img.name) {
				continue
			}
			step("boot %s (%d/%d)", img.name, i+1, runs)
			r := bootOnce(img, i+1, o)
			res.Boots = append(res.Boots, r)
			fmt.Fprintf(os.Stderr, "    %s\n", summary(r))
		}
	}

	medians(res)
	if res.Host != nil {
		res.HostMedians = map[string]map[string]float64{}
		for name, h := range res.Host {
			res.HostMedians[name] = hostMedians(h)
		}
	}
	if err := writeJSON(jsonOut, res); err != nil {
		return err
	}
	printTable(res)
	printHostTable(res.Host)
	fmt.Printf("\nevery run: %s; console logs: %s\n", jsonOut, o.logDir)
	for _, b := range res.Boots {
		if len(b.Errors) > 0 {
			return errors.New("some boots did not measure everything (see above)")
		}
	}
	return nil
}

func step(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bootbench: "+format+"\n", args...)
}

func summary(r *bootResult) string {
	var parts []string
	for _, f := range figures {
		if v, ok := r.Times[f.key]; ok && !f.derived {
			parts = append(parts, fmt.Sprintf("%s %.2fs", f.key, v))
		}
	}
	if r.InitRSSKiB > 0 {
		parts = append(parts, fmt.Sprintf("PID 1 (%s) %d KiB", r.InitComm, r.InitRSSKiB))
	}
	return strings.Join(parts, ", ")
}

// figure is one row of the table.
type figure struct {
	key, label string
	// derived rows are differences between two others.
	derived  bool
	from, to string
}

var figures = []figure{
	{key: figInit, label: "kernel start -> init"},
	{key: figSwitched, label: "  -> root ready (image mounted, or copied)"},
	{key: figMounted, label: "  -> filesystems mounted"},
	{key: figModules, label: "  -> modules loaded"},
	{key: figOnboot, label: "kernel start -> onboot done"},
	{key: figServices, label: "kernel start -> every service running"},
	{key: figSSHBanner, label: "kernel start -> sshd accepting a connection"},
	{key: "onboot phase", label: "onboot phase (modules loaded -> done)", derived: true, from: figModules, to: figOnboot},
	{key: "services phase", label: "services phase (onboot done -> running)", derived: true, from: figOnboot, to: figServices},
}

// medians fills res.Medians[image][figure], with the derived rows taken
// run by run.
func medians(res *results) {
	for _, img := range []string{imgMinikit, imgBefore, imgTmpfs, imgBaseline} {
		m := map[string]float64{}
		rg := map[string][2]float64{}
		for _, f := range figures {
			var vs []float64
			for _, b := range res.Boots {
				if b.Image != img {
					continue
				}
				if f.derived {
					from, ok1 := b.Times[f.from]
					to, ok2 := b.Times[f.to]
					if ok1 && ok2 {
						vs = append(vs, to-from)
					}
				} else if v, ok := b.Times[f.key]; ok {
					vs = append(vs, v)
				}
			}
			if len(vs) > 0 {
				m[f.key] = median(vs)
				rg[f.key] = [2]float64{slices.Min(vs), slices.Max(vs)}
			}
		}
		mem := map[string][]float64{}
		for _, b := range res.Boots {
			if b.Image != img || b.InitRSSKiB == 0 {
				continue
			}
			for key, v := range map[string]int{"pid1RssKiB": b.InitRSSKiB, "pid1AnonKiB": b.InitAnonKiB,
				"pid1FileKiB": b.InitFileKiB, "pid1HeapKiB": b.InitHeapKiB, "runcRssKiB": b.RuncRSSKiB, "guestUsedKiB": b.GuestUsedKiB,
				"settleSeconds": b.SettleSeconds} {
				if v > 0 || key == "runcRssKiB" || key == "settleSeconds" {
					mem[key] = append(mem[key], float64(v))
				}
			}
		}
		for key, vs := range mem {
			m[key] = median(vs)
			rg[key] = [2]float64{slices.Min(vs), slices.Max(vs)}
		}
		res.Medians[img] = m
		res.Ranges[img] = rg
	}
	res.Medians["build"] = map[string]float64{
		"minikitCachedSeconds":  median(res.Builds.MinikitCached),
		"tmpfsCachedSeconds":    median(res.Builds.TmpfsCached),
		"baselineRepackSeconds": res.Builds.Baseline,
	}
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

func printTable(res *results) {
	columns := []string{imgMinikit, imgTmpfs, imgBaseline}
	_, before := res.Initrd[imgBefore]
	if before {
		columns = []string{imgBefore, imgMinikit, imgTmpfs, imgBaseline}
	}
	fmt.Printf("\nminikit boot benchmark: %s under qemu (%s, %d MiB), medians of %d boots each\n",
		res.Spec, strings.ToUpper(res.Accel), res.MemoryMiB, res.Runs)
	fmt.Printf("host: %d CPUs (%s), %s\n", res.HostCPUs, res.HostCPU, res.QEMU)
	fmt.Printf("minikit: its root a verified SquashFS image; tmpfs: the same with -root tmpfs (the root\n" +
		"copied into a tmpfs at boot, as before); baseline: the same kernel, modules and bundles, PID 1\n" +
		"being bench/baseline/init.sh running Debian's runc\n")
	if before {
		fmt.Printf("before: the same specs built by the checkout given with -before\n")
	}
	fmt.Println()
	format := "%-46s" + strings.Repeat(" %9s", len(columns)) + " %9s %9s"
	header := []any{"figure"}
	for _, c := range columns {
		header = append(header, c)
	}
	header = append(header, "/tmpfs", "/baseline")
	if before {
		format += " %9s"
		header = append(header, "/before")
	}
	format += "\n"
	fmt.Printf(format, header...)
	// row prints one figure of each column; get says it for one image.
	row := func(label, unit string, get func(img string) (float64, bool)) {
		cells := []any{label}
		vals := map[string]float64{}
		for _, c := range columns {
			v, ok := get(c)
			if !ok {
				cells = append(cells, "n/a")
				continue
			}
			vals[c] = v
			cells = append(cells, fmt.Sprintf(unit, v))
		}
		ratio := func(a, b string) string {
			x, aok := vals[a]
			y, bok := vals[b]
			if !aok || !bok || y == 0 {
				return "n/a"
			}
			return fmt.Sprintf("%.2f", x/y)
		}
		cells = append(cells, ratio(imgMinikit, imgTmpfs), ratio(imgMinikit, imgBaseline))
		if before {
			cells = append(cells, ratio(imgMinikit, imgBefore))
		}
		fmt.Printf(format, cells...)
	}
	median := func(key string, scale float64) func(string) (float64, bool) {
		return func(img string) (float64, bool) {
			v, ok := res.Medians[img][key]
			return v / scale, ok
		}
	}
	for _, f := range figures {
		row(f.label, "%.2f s", median(f.key, 1))
	}
	row("memory read: seconds after sshd answered", "%.0f s", median("settleSeconds", 1))
	row("PID 1 resident memory after boot", "%.1f MiB", median("pid1RssKiB", 1024))
	row("  of it anonymous (heap, stacks, runtime)", "%.1f MiB", median("pid1AnonKiB", 1024))
	row("  of it the binary's pages", "%.1f MiB", median("pid1FileKiB", 1024))
	row("  Go heap (svcctl analyze --json)", "%.1f MiB", median("pid1HeapKiB", 1024))
	if r, ok := res.Medians[imgBaseline]["runcRssKiB"]; ok && r > 0 {
		row("  runc processes left running", "%.1f MiB", median("runcRssKiB", 1024))
	}
	row("RAM in use after boot (MemTotal-MemAvailable)", "%.0f MiB", median("guestUsedKiB", 1024))
	row("initrd size", "%.1f MiB", func(img string) (float64, bool) {
		v, ok := res.Initrd[img]
		return float64(v) / (1 << 20), ok
	})
	row("build, first (baseline: repack)", "%.1f s", func(img string) (float64, bool) {
		switch img {
		case imgMinikit:
			return res.Builds.MinikitFirst, res.Builds.MinikitFirst > 0
		case imgTmpfs:
			return res.Builds.TmpfsFirst, res.Builds.TmpfsFirst > 0
		case imgBaseline:
			return res.Builds.Baseline, true
		}
		return 0, false
	})
	row("build, cached", "%.1f s", func(img string) (float64, bool) {
		switch img {
		case imgMinikit:
			return res.Medians["build"]["minikitCachedSeconds"], len(res.Builds.MinikitCached) > 0
		case imgTmpfs:
			return res.Medians["build"]["tmpfsCachedSeconds"], len(res.Builds.TmpfsCached) > 0
		}
		return 0, false
	})
	fmt.Printf("\nTimes are seconds since the kernel started (guest CLOCK_BOOTTIME). minikit's come from\n" +
		"`svcctl analyze --json`, \"every service running\" being the last service's start; the baseline's\n" +
		"from its script's markers. \"sshd accepting\" is the host's receipt of the ssh banner, moved onto\n" +
		"the guest clock. A ratio below 1: minikit is faster or smaller.\n")
}

// hostInfo names qemu's version and the host's CPU, for the record.
func hostInfo() (qemuVersion, cpu string, cpus int) {
	if out, err := exec.Command(qemu.Binary, "--version").Output(); err == nil {
		qemuVersion, _, _ = strings.Cut(string(out), "\n")
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	return qemuVersion, cpu, runtime.NumCPU()
}

func writeJSON(file string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(data, '\n'), 0o644)
}

// chdirModuleRoot moves to the nearest directory above that holds go.mod,
// so relative paths (bin/minikit, image-spec/…, build/…) mean the same
// from anywhere in the repository.
func chdirModuleRoot() error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return os.Chdir(dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}
