package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minikit/minikit/internal/control"
	"github.com/minikit/minikit/tools/qemu"
)

// The figures of one boot, in seconds since the kernel started (guest
// CLOCK_BOOTTIME), by name.
const (
	figInit      = "init"
	figSwitched  = "root switched"
	figMounted   = "filesystems mounted"
	figModules   = "modules loaded"
	figOnboot    = "onboot done"
	figServices  = "services running"
	figSSHBanner = "sshd accepting"
	// figSSHListening is when sshd's "Server listening" line reached the
	// console, on the guest clock: a cross-check of figSSHBanner.
	figSSHListening = "sshd listening (console)"
)

// bootResult is what one boot of one image measured.
type bootResult struct {
	Image string `json:"image"`
	Run   int    `json:"run"`
	// Times are seconds since the kernel started.
	Times map[string]float64 `json:"times"`
	// ClockOffset is host time minus guest time (seconds) as estimated
	// from the console, used to place the ssh banner on the guest clock.
	ClockOffsetMs float64 `json:"clockOffsetMs"`
	// InitRSSKiB is PID 1's VmRSS; RuncRSSKiB the sum over runc
	// processes left running (the baseline's only supervision layer).
	InitRSSKiB int `json:"initRssKiB"`
	// InitAnonKiB and InitFileKiB are the anonymous part of it (RssAnon)
	// and its binary's pages (RssFile plus RssShmem: PID 1 runs from the
	// initramfs or a memfd, whose pages are shared memory); InitHeapKiB is the Go heap, from `svcctl
	// analyze --json` (minikit only, once its init reports it).
	InitAnonKiB int    `json:"initAnonKiB"`
	InitFileKiB int    `json:"initFileKiB"`
	InitHeapKiB int    `json:"initHeapKiB,omitempty"`
	InitComm    string `json:"initComm"`
	RuncRSSKiB  int    `json:"runcRssKiB"`
	RuncProcs   int    `json:"runcProcs"`
	// GuestUsedKiB is MemTotal - MemAvailable at the same moment.
	GuestUsedKiB int `json:"guestUsedKiB"`
	// SettleSeconds is how long, after sshd answered, free memory took
	// to hold steady before these were read (settleScript).
	SettleSeconds int `json:"settleSeconds"`
	// Analysis is `svcctl analyze --json` (minikit only).
	Analysis   *control.Analysis `json:"analysis,omitempty"`
	ConsoleLog string            `json:"consoleLog"`
	Errors     []string          `json:"errors,omitempty"`
}

func (r *bootResult) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.Errors = append(r.Errors, msg)
	fmt.Fprintf(os.Stderr, "bootbench: %s run %d: %s\n", r.Image, r.Run, msg)
}

// stampedLine is a console line and when the host read it.
type stampedLine struct {
	host time.Time
	text string
}

// lineClock splits the console into lines, each stamped with the host
// time of its arrival, and copies it to a log file.
type lineClock struct {
	mu      sync.Mutex
	partial []byte
	first   time.Time // arrival of the partial line's first byte
	lines   []stampedLine
	log     *os.File
}

func (c *lineClock) Write(p []byte) (int, error) {
	now := time.Now()
	n := len(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.log != nil {
		c.log.Write(p)
	}
	for len(p) > 0 {
		if len(c.partial) == 0 {
			c.first = now
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.partial = append(c.partial, p...)
			break
		}
		c.partial = append(c.partial, p[:i]...)
		p = p[i+1:]
		// A line is stamped with the arrival of its first byte: that is
		// closest to when the guest wrote its timestamp.
		c.lines = append(c.lines, stampedLine{host: c.first, text: strings.TrimRight(string(c.partial), "\r")})
		c.partial = c.partial[:0]
	}
	return n, nil
}

func (c *lineClock) snapshot() []stampedLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]stampedLine(nil), c.lines...)
}

// A line of minikit's init or of the baseline script: "[   12.405] msg".
// The kernel's own lines ("[    1.234567] msg") use another clock
// (local_clock, not CLOCK_BOOTTIME) and have six decimals; they are not
// used. A stamp may follow other output on the same line (a shell prompt
// that printed no newline).
var initStamp = regexp.MustCompile(`\[\s*(\d+\.\d{2,3})\] (.*)$`)

// guestLines are the console lines with a CLOCK_BOOTTIME stamp.
type guestLine struct {
	host  time.Time
	guest float64
	msg   string
	// whole says the stamp began the line, so the line's arrival is the
	// stamp's.
	whole bool
}

func guestLines(lines []stampedLine) []guestLine {
	var out []guestLine
	for _, l := range lines {
		m := initStamp.FindStringSubmatchIndex(l.text)
		if m == nil {
			continue
		}
		g, err := strconv.ParseFloat(l.text[m[2]:m[3]], 64)
		if err != nil {
			continue
		}
		out = append(out, guestLine{host: l.host, guest: g, msg: l.text[m[4]:m[5]], whole: m[0] == 0})
	}
	return out
}

// clockOffset estimates host time minus guest time: every line reaches the
// host after the guest stamped it, so the smallest difference is the
// closest to the offset between the clocks.
func clockOffset(lines []guestLine, hostStart time.Time) (time.Duration, bool) {
	best := time.Duration(math.MaxInt64)
	for _, l := range lines {
		if !l.whole {
			continue
		}
		d := l.host.Sub(hostStart) - time.Duration(l.guest*float64(time.Second))
		best = min(best, d)
	}
	return best, best != time.Duration(math.MaxInt64)
}

// image is one bootable image.
type image struct {
	name   string // imgMinikit, imgTmpfs or imgBaseline
	prefix string // DIR/NAME of -kernel, -initrd.img, -cmdline
	initrd string
}

type bootOpts struct {
	memMiB  int
	cpus    int
	timeout time.Duration
	key     string // ssh private key
	logDir  string
	reuse   bool     // boot what an earlier run built
	only    string   // boot only this image
	host    bool     // measure PID 1 on the host too
	before  *variant // an earlier checkout to measure beside this one
}

// bootOnce boots img, waits for sshd to answer, logs in to read PID 1's
// memory (and, for minikit, `svcctl analyze`), and kills the machine.
func bootOnce(img image, run int, o bootOpts) *bootResult {
	res := &bootResult{Image: img.name, Run: run, Times: map[string]float64{}}
	res.ConsoleLog = fmt.Sprintf("%s/%s-%d.console.log", o.logDir, img.name, run)
	logf, err := os.Create(res.ConsoleLog)
	if err != nil {
		res.fail("%v", err)
		return res
	}
	defer logf.Close()
	cmdline, err := os.ReadFile(img.prefix + "-cmdline")
	if err != nil {
		res.fail("%v", err)
		return res
	}
	port, err := qemu.FreePort()
	if err != nil {
		res.fail("%v", err)
		return res
	}
	clock := &lineClock{log: logf}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	hostStart := time.Now()
	vm, err := qemu.Start(ctx, qemu.Options{
		Kernel:        img.prefix + "-kernel",
		Initrd:        img.initrd,
		Cmdline:       strings.TrimSpace(string(cmdline)),
		MemoryMiB:     o.memMiB,
		CPUs:          o.cpus,
		Forwards:      []qemu.Forward{{HostPort: port, GuestPort: 22}},
		ConsoleOutput: clock,
	})
	if err != nil {
		res.fail("boot: %v", err)
		return res
	}
	defer func() {
		vm.Kill()
		_, _ = vm.Wait()
	}()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	banner, err := waitBanner(ctx, addr)
	if err != nil {
		res.fail("no ssh banner: %v", err)
	}

	// Log in: PID 1's memory, and minikit's own account of its boot.
	var analysis *control.Analysis
	if err == nil {
		script := settleScript + `grep -E '^(Name|VmRSS|RssAnon|RssFile|RssShmem):' /proc/1/status; grep -E '^Mem(Total|Available):' /proc/meminfo; for d in /proc/[0-9]*; do ` +
			`case "$(cat $d/comm 2>/dev/null)" in runc*) echo runc $(grep VmRSS: $d/status);; esac; done`
		if img.name != imgBaseline {
			script += "; echo ANALYZE; svcctl analyze --json"
		}
		out, err := sshRun(ctx, o.key, port, script)
		if err != nil {
			res.fail("ssh: %v\n%s", err, out)
		} else {
			parseMemory(res, out)
			if _, js, ok := strings.Cut(out, "ANALYZE\n"); ok {
				var a control.Analysis
				if err := json.Unmarshal([]byte(js), &a); err != nil {
					res.fail("svcctl analyze --json: %v", err)
				} else {
					analysis = &a
					res.Analysis = &a
					if a.Init != nil {
						res.InitHeapKiB = int(a.Init.HeapBytes >> 10)
					}
				}
			}
		}
	}

	// The markers, once every one has been printed.
	deadline := time.Now().Add(30 * time.Second)
	for {
		lines := guestLines(clock.snapshot())
		missing := markTimes(img.name, lines, analysis, res.Times)
		if len(missing) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			if len(missing) > 0 {
				res.fail("console lacks %s", strings.Join(missing, ", "))
			}
			if off, ok := clockOffset(lines, hostStart); ok {
				res.ClockOffsetMs = float64(off) / float64(time.Millisecond)
				if !banner.IsZero() {
					res.Times[figSSHBanner] = (banner.Sub(hostStart) - off).Seconds()
				}
				// A cross-check: sshd's own "Server listening" line,
				// placed on the guest clock the same way.
				for _, l := range clock.snapshot() {
					if strings.Contains(l.text, "Server listening on") {
						res.Times[figSSHListening] = (l.host.Sub(hostStart) - off).Seconds()
						break
					}
				}
			} else {
				res.fail("no stamped console line to place the ssh banner on the guest clock")
			}
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return res
}

// settleScript waits, in the guest's shell, until free memory holds
// steady: sshd answers while containerd still loads its plugins and
// before PID 1 has collected the garbage of boot (settleAfterBoot), so
// memory read at that moment caught the boot midway. Steady is two
// readings in a row, a second apart, each within 1 MiB of the one
// before, waited for at most 30 s; the wait is printed as SETTLED N.
// It takes 2-4 s. Boots of one image still differ by up to 30 MiB in
// RAM in use after it (two clusters, near 245 and 270 MiB, for either
// checkout): that row compares only over several boots.
const settleScript = `prev=0; steady=0; n=0; while [ $n -lt 30 ]; do ` +
	`set -- $(grep '^MemAvailable:' /proc/meminfo); d=$(($2 - prev)); [ $d -lt 0 ] && d=$((0 - d)); ` +
	`if [ $d -le 1024 ]; then steady=$((steady + 1)); else steady=0; fi; [ $steady -ge 2 ] && break; ` +
	`prev=$2; n=$((n + 1)); sleep 1; done; echo SETTLED $n; `

// markTimes fills times from the console (and minikit's analysis) and
// returns the figures still missing.
func markTimes(name string, lines []guestLine, a *control.Analysis, times map[string]float64) (missing []string) {
	find := func(prefix string) (float64, bool) {
		for _, l := range lines {
			if strings.HasPrefix(l.msg, prefix) {
				return l.guest, true
			}
		}
		return 0, false
	}
	set := func(fig string, v float64, ok bool) {
		if ok {
			times[fig] = v
		} else {
			missing = append(missing, fig)
		}
	}
	if name == imgBaseline {
		for fig, marker := range map[string]string{
			figInit: "init started", figSwitched: "root switched", figMounted: "filesystems mounted",
			figModules: "modules loaded", figOnboot: "onboot done", figServices: "services started",
		} {
			v, ok := find("baseline: " + marker)
			set(fig, v, ok)
		}
		return missing
	}
	// minikit: the phases of `svcctl analyze`, each phase's end; services
	// are running when the last one's process started. Init's start is
	// the kernel_to_init of its first log line: init re-executes itself
	// after moving the root to a tmpfs, and the "kernel" phase the
	// analysis shows ends at that second start instead.
	if a != nil {
		defer func() {
			if v, ok := kernelToInit(lines); ok {
				times[figInit] = v
			}
		}()
		start, end := map[string]float64{}, map[string]float64{}
		for _, p := range a.Phases {
			start[p.Name], end[p.Name] = p.Start.Seconds(), p.End.Seconds()
		}
		for fig, phase := range map[string]string{
			figInit: "kernel", figMounted: "early mounts", figModules: "modules", figOnboot: "onboot",
		} {
			v, ok := end[phase]
			set(fig, v, ok)
		}
		// The root is ready where init's early mounts begin: after the
		// first stage mounted the root image, or, for a tmpfs root, when
		// init runs again from the tmpfs (the "root switch" phase ends
		// before the re-exec); the baseline's marker is likewise printed
		// by the shell that switch_root started.
		v, ok := start["early mounts"]
		set(figSwitched, v, ok)
		last, all := 0.0, len(a.Services) > 0
		for _, s := range a.Services {
			if s.Started == 0 {
				all = false
			}
			last = max(last, s.Started.Seconds())
		}
		set(figServices, last, all)
		return missing
	}
	// Without an analysis, the console says nearly as much.
	v, ok := kernelToInit(lines)
	set(figInit, v, ok)
	v, ok = find("onboot done")
	set(figOnboot, v, ok)
	last, n := 0.0, 0
	for _, l := range lines {
		if strings.HasPrefix(l.msg, "service ") && strings.Contains(l.msg, " started (pid ") {
			last, n = max(last, l.guest), n+1
		}
	}
	set(figServices, last, n > 0)
	return missing
}

var kernelToInitAttr = regexp.MustCompile(`^minikit init starting kernel_to_init=([0-9.]+)(ms|s)\b`)

// kernelToInit is the kernel_to_init of minikit's first log line.
func kernelToInit(lines []guestLine) (float64, bool) {
	for _, l := range lines {
		if m := kernelToInitAttr.FindStringSubmatch(l.msg); m != nil {
			v, err := strconv.ParseFloat(m[1], 64)
			if m[2] == "ms" {
				v /= 1000
			}
			return v, err == nil
		}
	}
	return 0, false
}

// parseMemory reads the output of the login script.
func parseMemory(res *bootResult, out string) {
	sc := bufio.NewScanner(strings.NewReader(out))
	var total, avail int
	defer func() {
		if total > 0 && avail > 0 {
			res.GuestUsedKiB = total - avail
		}
	}()
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 2 && f[0] == "MemTotal:":
			total, _ = strconv.Atoi(f[1])
		case len(f) >= 2 && f[0] == "MemAvailable:":
			avail, _ = strconv.Atoi(f[1])
		case len(f) == 2 && f[0] == "SETTLED":
			res.SettleSeconds, _ = strconv.Atoi(f[1])
		case len(f) >= 2 && f[0] == "Name:":
			res.InitComm = f[1]
		case len(f) >= 2 && f[0] == "VmRSS:":
			res.InitRSSKiB, _ = strconv.Atoi(f[1])
		case len(f) >= 2 && f[0] == "RssAnon:":
			res.InitAnonKiB, _ = strconv.Atoi(f[1])
		case len(f) >= 2 && (f[0] == "RssFile:" || f[0] == "RssShmem:"):
			kib, _ := strconv.Atoi(f[1])
			res.InitFileKiB += kib
		case len(f) >= 3 && f[0] == "runc" && f[1] == "VmRSS:":
			kib, _ := strconv.Atoi(f[2])
			res.RuncRSSKiB += kib
			res.RuncProcs++
		case len(f) > 0 && f[0] == "ANALYZE":
			return
		}
	}
}

// waitBanner connects to addr until sshd's banner ("SSH-2.0-…") arrives
// and returns the host time it did. qemu's user network accepts every
// connection on the host side at once, then connects to the guest: while
// the guest's network is down the connection just stays silent; once it is
// up, a closed port ends it at once (the guest's RST); once sshd listens,
// the banner follows when sshd has forked (and re-executed) for the
// connection, which takes a while under emulation. So one attempt runs at
// a time: a silent one is given up after silentLimit until the guest has
// answered once, and waited out after that, since then silence means sshd
// is working on it. More attempts at once would pile up in sshd's
// MaxStartups and slow what they measure.
func waitBanner(ctx context.Context, addr string) (time.Time, error) {
	const (
		retry       = 20 * time.Millisecond
		silentLimit = 2 * time.Second
		bannerLimit = 60 * time.Second
	)
	guestAnswered := false
	for ctx.Err() == nil {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			time.Sleep(retry)
			continue
		}
		limit := silentLimit
		if guestAnswered {
			limit = bannerLimit
		}
		_ = c.SetReadDeadline(time.Now().Add(limit))
		stop := context.AfterFunc(ctx, func() { c.Close() })
		line, err := bufio.NewReader(c).ReadString('\n')
		at := time.Now()
		stop()
		c.Close()
		switch {
		case err == nil && strings.HasPrefix(line, "SSH-"):
			return at, nil
		case err == nil:
			return time.Time{}, fmt.Errorf("port 22 answered %q, not an ssh banner", line)
		case errors.Is(err, os.ErrDeadlineExceeded):
			// Silence: the guest's network is not up yet.
		default:
			guestAnswered = true // closed: the guest refused
			time.Sleep(retry)
		}
	}
	return time.Time{}, ctx.Err()
}

// sshRun runs script on the guest with Debian's OpenSSH client, retrying
// while sshd is not yet ready to log anyone in.
func sshRun(ctx context.Context, key string, port int, script string) (string, error) {
	var out []byte
	var err error
	for range 20 {
		cmd := exec.CommandContext(ctx, "ssh", "-i", key, "-p", strconv.Itoa(port),
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "BatchMode=yes", "-o", "ConnectTimeout=20", "-o", "LogLevel=ERROR",
			"root@127.0.0.1", script)
		out, err = cmd.CombinedOutput()
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Second)
	}
	return string(out), err
}
