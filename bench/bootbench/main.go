// Command bootbench measures how fast minikit's reference image boots
// under qemu, and how the same kernel, modules and containers boot when
// PID 1 is a busybox shell script that starts them with Debian's runc one
// after another (bench/baseline/init.sh). `make bench` runs it.
//
// It builds the reference image (image-spec/examples/minikit.yml and a
// spec file adding an ssh key) with bin/minikit, timing the cached
// rebuilds; makes the baseline initrd from minikit's; boots each image
// -runs times, alternating, with the guest's port 22 forwarded; and
// prints the medians, with the ratio minikit/baseline, and writes every
// run to a JSON file.
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
	only := flag.String("only", "", "boot only this image: "+imgMinikit+", "+imgTmpfs+" or "+imgBaseline)
	flag.Parse()
	if *runs < 1 {
		fatal(errors.New("-runs must be at least 1"))
	}
	if err := chdirModuleRoot(); err != nil {
		fatal(err)
	}
	if *jsonOut == "" {
		*jsonOut = filepath.Join(*work, "results.json")
	}
	o := bootOpts{memMiB: *mem, cpus: *cpus, timeout: *timeout, reuse: *reuse, only: *only}
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
	Date      time.Time                     `json:"date"`
	Runs      int                           `json:"runs"`
	Accel     string                        `json:"accel"`
	MemoryMiB int                           `json:"memoryMiB"`
	CPUs      int                           `json:"cpus,omitempty"`
	Spec      string                        `json:"spec"`
	QEMU      string                        `json:"qemu"`
	HostCPU   string                        `json:"hostCPU"`
	HostCPUs  int                           `json:"hostCPUs"`
	Builds    buildTimes                    `json:"builds"`
	Initrd    map[string]int64              `json:"initrdBytes"`
	Baseline  *baselineInfo                 `json:"baseline"`
	Boots     []*bootResult                 `json:"boots"`
	Medians   map[string]map[string]float64 `json:"medians"`
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

// The images a run boots: minikit as built (a verified root image),
// minikit with -root tmpfs (the root copied into a tmpfs at every boot,
// as before the image), and the busybox-and-runc baseline.
const (
	imgMinikit  = "minikit"
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
	build := func(dir string, flags ...string) (float64, error) {
		start := time.Now()
		args := append(append([]string{"build", "-o", dir, "-name", name}, flags...), spec, extra)
		out, err := exec.Command(minikit, args...).CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("minikit build %v: %v\n%s", flags, err, out)
		}
		return time.Since(start).Seconds(), nil
	}
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
	if err := os.WriteFile(filepath.Join(work, "baseline-init.sh"), []byte(res.Baseline.Script), 0o755); err != nil {
		return err
	}
	for _, img := range []image{mk, tm, bl} {
		st, err := os.Stat(img.initrd)
		if err != nil {
			return err
		}
		res.Initrd[img.name] = st.Size()
	}

	// The boots, alternating so that a change in the host's load falls on
	// both alike.
	for i := range runs {
		for _, img := range []image{mk, tm, bl} {
			if o.only != "" && o.only != img.name {
				continue
			}
			step("boot %s (%d/%d)", img.name, i+1, runs)
			r := bootOnce(img, i+1, o)
			res.Boots = append(res.Boots, r)
			fmt.Fprintf(os.Stderr, "    %s\n", summary(r))
		}
	}

	medians(res)
	if err := writeJSON(jsonOut, res); err != nil {
		return err
	}
	printTable(res)
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
	for _, img := range []string{imgMinikit, imgTmpfs, imgBaseline} {
		m := map[string]float64{}
		rg := map[string][2]float64{}
		var rss, runc, used []float64
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
		for _, b := range res.Boots {
			if b.Image == img && b.InitRSSKiB > 0 {
				rss = append(rss, float64(b.InitRSSKiB))
				runc = append(runc, float64(b.RuncRSSKiB))
				used = append(used, float64(b.GuestUsedKiB))
			}
		}
		if len(rss) > 0 {
			m["pid1RssKiB"] = median(rss)
			m["runcRssKiB"] = median(runc)
			m["guestUsedKiB"] = median(used)
			rg["pid1RssKiB"] = [2]float64{slices.Min(rss), slices.Max(rss)}
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
	mk, tm, bl := res.Medians[imgMinikit], res.Medians[imgTmpfs], res.Medians[imgBaseline]
	fmt.Printf("\nminikit boot benchmark: %s under qemu (%s, %d MiB), medians of %d boots each\n",
		res.Spec, strings.ToUpper(res.Accel), res.MemoryMiB, res.Runs)
	fmt.Printf("host: %d CPUs (%s), %s\n", res.HostCPUs, res.HostCPU, res.QEMU)
	fmt.Printf("minikit: its root a verified SquashFS image; tmpfs root: the same with -root tmpfs (the root\n" +
		"copied into a tmpfs at boot, as before); baseline: the same kernel, modules and bundles, PID 1\n" +
		"being bench/baseline/init.sh running Debian's runc\n\n")
	const format = "%-44s %9s %10s %9s %9s %9s\n"
	fmt.Printf(format, "figure", "minikit", "tmpfs root", "baseline", "/tmpfs", "/baseline")
	row := func(label string, a, t, b float64, aok, tok, bok bool, unit string) {
		cell := func(v float64, ok bool) string {
			if !ok {
				return "n/a"
			}
			return fmt.Sprintf(unit, v)
		}
		ratio := func(x, y float64, ok bool) string {
			if !ok || y == 0 {
				return "n/a"
			}
			return fmt.Sprintf("%.2f", x/y)
		}
		fmt.Printf(format, label, cell(a, aok), cell(t, tok), cell(b, bok), ratio(a, t, aok && tok), ratio(a, b, aok && bok))
	}
	for _, f := range figures {
		a, aok := mk[f.key]
		t, tok := tm[f.key]
		b, bok := bl[f.key]
		row(f.label, a, t, b, aok, tok, bok, "%.2f s")
	}
	a, aok := mk["pid1RssKiB"]
	t, tok := tm["pid1RssKiB"]
	b, bok := bl["pid1RssKiB"]
	row("PID 1 resident memory after boot", a/1024, t/1024, b/1024, aok, tok, bok, "%.1f MiB")
	if r, ok := bl["runcRssKiB"]; ok && r > 0 {
		row("  runc processes left running", mk["runcRssKiB"]/1024, tm["runcRssKiB"]/1024, r/1024, aok, tok, ok, "%.1f MiB")
	}
	u1, ok1 := mk["guestUsedKiB"]
	u2, ok2 := tm["guestUsedKiB"]
	u3, ok3 := bl["guestUsedKiB"]
	row("RAM in use after boot (MemTotal-MemAvailable)", u1/1024, u2/1024, u3/1024, ok1, ok2, ok3, "%.0f MiB")
	row("initrd size", float64(res.Initrd[imgMinikit])/(1<<20), float64(res.Initrd[imgTmpfs])/(1<<20),
		float64(res.Initrd[imgBaseline])/(1<<20), true, true, true, "%.1f MiB")
	row("build, first (baseline: repack)", res.Builds.MinikitFirst, res.Builds.TmpfsFirst, res.Builds.Baseline,
		res.Builds.MinikitFirst > 0, res.Builds.TmpfsFirst > 0, true, "%.1f s")
	row("build, cached", res.Medians["build"]["minikitCachedSeconds"], res.Medians["build"]["tmpfsCachedSeconds"], 0,
		len(res.Builds.MinikitCached) > 0, len(res.Builds.TmpfsCached) > 0, false, "%.1f s")
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
