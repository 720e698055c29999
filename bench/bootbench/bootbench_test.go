package main

import (
	"context"
	"math"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/control"
	"github.com/u-root/u-root/pkg/cpio"
)

func TestBaselineScriptRunsEveryBundleInMinikitsOrder(t *testing.T) {
	tmpl, err := os.ReadFile("../baseline/init.sh")
	if err != nil {
		t.Fatal(err)
	}
	ro := `{"process":{"args":["x"]},"root":{"path":"rootfs","readonly":true}}`
	rw := `{"process":{"args":["x"]},"root":{"path":"rootfs"}}`
	recs := []cpio.Record{
		cpio.Directory("containers/onboot/001-b", 0o755),
		cpio.StaticFile("containers/onboot/001-b/config.json", ro, 0o644),
		cpio.Directory("containers/onboot/000-a", 0o755),
		cpio.StaticFile("containers/onboot/000-a/config.json", ro, 0o644),
		cpio.Directory("containers/services/svc", 0o755),
		cpio.StaticFile("containers/services/svc/config.json", rw, 0o644),
		cpio.StaticFile("containers/services/svc/runtime.json", `{"mkdir":["/var/lib/svc"]}`, 0o644),
	}
	script, err := baselineScript(string(tmpl), recs)
	if err != nil {
		t.Fatal(err)
	}
	order := []string{
		"onboot 000-a /containers/onboot/000-a\n",
		"onboot 001-b /containers/onboot/001-b\n",
		`mark "onboot done"`,
		"mkdir -p /var/lib/svc\nwritable svc /containers/services/svc\nservice svc /containers/services/svc\n",
		`mark "services started"`,
	}
	at := 0
	for _, want := range order {
		i := strings.Index(script[at:], want)
		if i < 0 {
			t.Fatalf("the script lacks %q after offset %d:\n%s", want, at, script)
		}
		at += i + len(want)
	}
	if strings.Contains(script, "\n@ONBOOT@\n") || strings.Contains(script, "\n@SERVICES@\n") {
		t.Errorf("a slot was left in the script:\n%s", script)
	}
}

func TestBaselineScriptRefusesWhatItCannotDo(t *testing.T) {
	recs := []cpio.Record{
		cpio.Directory("containers/services/svc", 0o755),
		cpio.StaticFile("containers/services/svc/config.json", `{"root":{"path":"rootfs"}}`, 0o644),
		cpio.StaticFile("containers/services/svc/runtime.json", `{"bindNS":{"net":"/run/netns/x"}}`, 0o644),
	}
	if _, err := baselineScript("\n@ONBOOT@\n@SERVICES@\n", recs); err == nil {
		t.Error("a bundle that binds namespaces was accepted")
	}
}

func TestConsoleStampsAndClockOffset(t *testing.T) {
	start := time.Now()
	c := &lineClock{}
	feed := func(after time.Duration, text string) {
		c.mu.Lock()
		c.lines = append(c.lines, stampedLine{host: start.Add(after), text: text})
		c.mu.Unlock()
	}
	feed(5*time.Second, "[    1.234567] kernel line, another clock")
	feed(9*time.Second, "[    6.180] minikit init starting kernel_to_init=6.179s")
	feed(10*time.Second, "[7.00] baseline: root switched")              // 3.00 s late
	feed(12*time.Second, "(none):~# [8.50] baseline: services started") // after a prompt
	lines := guestLines(c.snapshot())
	if len(lines) != 3 {
		t.Fatalf("%d stamped lines, want 3: %+v", len(lines), lines)
	}
	if l := lines[2]; l.guest != 8.5 || l.msg != "baseline: services started" || l.whole {
		t.Errorf("the line after a prompt reads as %+v", l)
	}
	off, ok := clockOffset(lines, start)
	if !ok || off != 2820*time.Millisecond {
		t.Errorf("offset %v, want 2.82s (the least late whole line)", off)
	}
	if v, ok := kernelToInit(lines); !ok || v != 6.179 {
		t.Errorf("kernel_to_init = %v %v, want 6.179", v, ok)
	}
}

func TestLineClockSplitsWrites(t *testing.T) {
	c := &lineClock{}
	for _, p := range []string{"[1.00] a", "bc\r\n[2.00", "] d\n", "partial"} {
		if n, err := c.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	got := c.snapshot()
	if len(got) != 2 || got[0].text != "[1.00] abc" || got[1].text != "[2.00] d" {
		t.Errorf("lines %+v", got)
	}
}

func TestMinikitTimesComeFromTheAnalysis(t *testing.T) {
	s := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	a := &control.Analysis{
		Phases: []control.Phase{
			{Name: "kernel", End: s(11.7)}, // recorded after the re-exec
			{Name: "root switch", Start: s(7.2), End: s(11.4)},
			{Name: "early mounts", Start: s(11.7), End: s(11.8)},
			{Name: "modules", Start: s(11.8), End: s(12.7)},
			{Name: "onboot", Start: s(12.7), End: s(14.5)},
		},
		Services: []control.ServiceTimes{{Name: "a", Started: s(16.2)}, {Name: "b", Started: s(16.9)}},
	}
	lines := []guestLine{{guest: 7.21, msg: "minikit init starting kernel_to_init=7.214s", whole: true}}
	times := map[string]float64{}
	if missing := markTimes("minikit", lines, a, times); len(missing) > 0 {
		t.Fatalf("missing %v", missing)
	}
	want := map[string]float64{figInit: 7.214, figSwitched: 11.7, figMounted: 11.8, figModules: 12.7, figOnboot: 14.5, figServices: 16.9}
	for k, v := range want {
		if math.Abs(times[k]-v) > 1e-6 {
			t.Errorf("%s = %v, want %v", k, times[k], v)
		}
	}
	a.Services[1].Started = 0
	if missing := markTimes("minikit", lines, a, map[string]float64{}); len(missing) != 1 || missing[0] != figServices {
		t.Errorf("with a service not started yet, missing = %v", missing)
	}
}

func TestWaitBannerReadsTheBanner(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		// The first connection is refused as a closed guest port is;
		// the second gets a banner.
		c, err := l.Accept()
		if err != nil {
			return
		}
		c.Close()
		c, err = l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		time.Sleep(100 * time.Millisecond) // sshd forking
		c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := waitBanner(ctx, l.Addr().String()); err != nil {
		t.Fatal(err)
	}
}

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{7}, 7}, {nil, 0}} {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// The login script's output: how long memory took to settle, PID 1's
// memory and the guest's, read after.
func TestParseMemoryReadsTheSettledFigures(t *testing.T) {
	out := "SETTLED 4\nName:\tinit\nVmRSS:\t   12048 kB\nRssAnon:\t    4400 kB\nRssFile:\t       0 kB\nRssShmem:\t    7648 kB\n" +
		"MemTotal:        2014000 kB\nMemAvailable:    1770000 kB\n"
	var res bootResult
	parseMemory(&res, out)
	if res.SettleSeconds != 4 || res.InitRSSKiB != 12048 || res.InitAnonKiB != 4400 || res.InitFileKiB != 7648 ||
		res.GuestUsedKiB != 244000 || res.InitComm != "init" {
		t.Errorf("parsed %+v", res)
	}
}
