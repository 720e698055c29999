package tests

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/tests/harness"
)

// floodRSSBound is what init may hold in memory at its peak while a
// service writes 100 MB: its logs are bounded, so this is the Go
// runtime and init's own work with room to spare.
const floodRSSBound = 64 << 10 // KiB

// TestSupervision boots services that die, crash-loop, depend on each
// other, flood their output and run under limits, driven by a checker
// service through svcctl, and reads the verdicts from the console.
func TestSupervision(t *testing.T) {
	image := build(t, "supervise", "images/smoke.yml", "images/supervise.yml")
	m := harness.Boot(t, image)
	const long = 5 * time.Minute // TCG is slow and 100 MB is a lot; this bounds a hang

	// A service killed with SIGKILL runs again.
	first := m.Expect(`service victim started \(pid (\d+)\)`, bootTimeout)
	killed := m.Expect(`checker: killing victim \(pid (\d+)\)`, long)
	if killed.Groups[1] != first.Groups[1] {
		t.Errorf("the checker killed pid %s, not the victim's %s", killed.Groups[1], first.Groups[1])
	}
	died := m.ExpectAfter(first, `service victim exited 137`, long)
	again := m.ExpectAfter(died, `service victim started \(pid (\d+)\)`, long)
	m.ExpectAfter(again, `victim: victim up`, long)
	m.Expect(`checker: victim runs again as pid `+again.Groups[1]+` after 1 restart`, long)

	// A dependent starts only once its dependency is ready.
	ready := m.Expect(`service db ready`, long)
	m.Expect(`db: db said ready`, long)
	app := m.Expect(`service app started`, long)
	if app.Index < ready.Index {
		t.Errorf("app started (line %d) before db was ready (line %d)", app.Index, ready.Index)
	}

	// svcctl logs -f follows a live service: the last line, then the
	// ones that come while it follows.
	m.Expect(`checker: followed \d+ lines`, long)
	var ticks []int
	for _, l := range m.Lines() {
		if mt := regexp.MustCompile(`checker: followed: \[ *\d+\.\d+\] tick (\d+)`).FindStringSubmatch(l); mt != nil {
			n, _ := strconv.Atoi(mt[1])
			ticks = append(ticks, n)
		}
	}
	if len(ticks) != 4 {
		t.Errorf("following the ticker for four lines gave %v; want the last line and the three written next", ticks)
	}
	for i := 1; i < len(ticks); i++ {
		if ticks[i] != ticks[i-1]+1 {
			t.Errorf("followed ticks %v are not consecutive", ticks)
			break
		}
	}

	// A crash loop ends failed without disturbing the others.
	m.Expect(`service crasher failed: crash loop`, long)
	m.Expect(`checker: NAME +STATE +PID +RESTARTS +UPTIME +MEMORY`, long)
	m.Expect(`checker: crasher +failed +- +7 `, long)
	for _, name := range []string{"ticker", "app", "limited"} {
		m.Expect(`checker: `+name+` +running +\d+ +0 +\S+ +\d`, long) // running, 0 restarts, a memory figure
	}
	m.Expect(`checker: db +ready +\d+ +0 `, long)

	// The spec's resources are applied to the service's cgroup, and read
	// back from it.
	m.Expect(`checker: +memory: +\S+ \(limit 64\.0M\)`, long)
	m.Expect(`checker: +pids: +\d+ \(limit 32\)`, long)

	// A flood of 100 MB leaves init under its memory bound and the
	// rotated files in place.
	m.Expect(`service flood exited 0`, long)
	hwm := m.Expect(`checker: init VmHWM:\s+(\d+) kB`, long) // printed after the files
	var files []string
	for _, l := range m.Lines() {
		if mt := regexp.MustCompile(`checker: log file (\S+) (\d+) bytes`).FindStringSubmatch(l); mt != nil {
			files = append(files, mt[1])
			if n, _ := strconv.Atoi(mt[2]); n > 1<<20 {
				t.Errorf("%s has %d bytes, over the rotation size of 1 MiB", mt[1], n)
			}
		}
	}
	if strings.Join(files, " ") != "/var/log/flood.log /var/log/flood.log.1 /var/log/flood.log.2 /var/log/flood.log.3" {
		t.Errorf("log files after the flood: %v", files)
	}
	if kb, _ := strconv.Atoi(hwm.Groups[1]); kb > floodRSSBound {
		t.Errorf("init's peak RSS was %d KiB, over its bound of %d KiB", kb, floodRSSBound)
	} else {
		t.Logf("init's peak RSS: %d KiB", kb)
	}
	m.Expect(`checker: svcctl: no log "nosuchservice"`, long)
	m.Expect(`checker: svcctl exit status for an unknown name: 3`, long)

	// The boot timeline: init's phases, then each service's start.
	m.Expect(`checker: PHASE +START +END +TOOK`, long)
	m.Expect(`checker: sealed copy +\d+\.\d+s +\d+\.\d+s +\S+`, long) // PID 1 runs from a sealed memfd copy of itself
	m.Expect(`checker: root mount +\d+\.\d+s +\d+\.\d+s +\S+`, long)  // the first stage mounted the verified image
	m.Expect(`checker: onboot +\d+\.\d+s +\d+\.\d+s +\S+`, long)
	m.Expect(`checker: SERVICE +WAITING +STARTED +READY +START TO READY`, long)
	m.Expect(`checker: db +\d+\.\d+s +\d+\.\d+s +\d+\.\d+s +[\d.]+m?s`, long) // ready some time after its start
	m.Expect(`checker: crasher +\d+\.\d+s +\d+\.\d+s +\d+\.\d+s`, long)

	m.Expect(`checker: checks done`, long)
	m.Expect(`control: poweroff action=poweroff uid=0 pid=\d+`, long)
	if exit := m.WaitExit(long); !exit.Clean() {
		t.Fatalf("the system did not power off cleanly: %v", exit)
	}
}
