package svcctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/control"
	"github.com/minikit/minikit/internal/control/controltest"
)

// fakeInit is init's real control API, served over a backend of canned
// services, logs and timeline, so that svcctl is tested against the
// server itself.
type fakeInit struct {
	socket  string
	backend *controltest.Backend
}

var started = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// newFakeInit serves the canned system to a caller that may do anything.
func newFakeInit(t *testing.T) *fakeInit { return newFakeInitFor(t, controltest.Root()) }

// newFakeInitFor serves the canned system, every connection's caller
// being caller.
func newFakeInitFor(t *testing.T, caller *control.Caller) *fakeInit {
	t.Helper()
	exit := 137
	b := controltest.NewBackend(
		control.Service{Name: "sshd", State: "running", Ready: true, Pid: 312, Restarts: 2, Started: started, UptimeSeconds: 3725,
			Restart: "always", LastExit: &exit,
			Usage: &control.Usage{Cgroup: "/minikit/sshd", MemoryBytes: 5 << 20, MemoryLimit: 64 << 20, Pids: 3}},
		control.Service{Name: "getty", State: "failed", Restart: "always", Error: "crash loop: 8 runs in a row ended within 10s"},
	)
	b.OnAct = func(_ context.Context, name, action string) error {
		if name == "getty" {
			return errors.New("its image is broken")
		}
		return nil
	}
	// Lines 2 to 4 left the ring before anyone read them.
	b.AddLog("sshd").Append(
		control.LogLine{Seq: 1, Boot: 1500 * time.Millisecond, Line: "Server listening on 0.0.0.0 port 22."},
		control.LogLine{Seq: 5, Boot: 2 * time.Second, Line: "Accepted publickey for root"},
	)
	b.SetAnalysis(control.Analysis{
		Now:      9 * time.Second,
		Phases:   []control.Phase{{Name: "kernel", End: 800 * time.Millisecond}, {Name: "onboot", Start: time.Second, End: 1200 * time.Millisecond}},
		Services: []control.ServiceTimes{{Name: "sshd", Waiting: 1300 * time.Millisecond, Started: 1400 * time.Millisecond, Ready: 1400 * time.Millisecond}},
	})
	b.SetMetrics(control.Metrics{Init: control.InitMemory{Goroutines: 7}})
	c := controltest.Serve(t, b, control.DefaultLimits, caller)
	return &fakeInit{socket: c.Socket, backend: b}
}

// svcctl runs the command line against the fake init.
func (f *fakeInit) svcctl(args ...string) (code int, stdout, stderr string) {
	return svcctlEnv(map[string]string{"MINIKIT_SOCKET": f.socket}, args...)
}

func svcctlEnv(env map[string]string, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

func TestListPrintsATable(t *testing.T) {
	f := newFakeInit(t)
	code, out, _ := f.svcctl("list")
	want := "NAME   STATE    PID  RESTARTS  UPTIME  MEMORY\n" +
		"getty  failed   -    0         -       -\n" +
		"sshd   running  312  2         1h2m5s  5.0M\n"
	if code != 0 || out != want {
		t.Errorf("svcctl list: exit %d\n%s\nwant\n%s", code, out, want)
	}
}

func TestReadCommandsPrintJSON(t *testing.T) {
	f := newFakeInit(t)
	for _, args := range [][]string{{"list", "--json"}, {"--json", "status", "sshd"}, {"status", "sshd", "--json"}, {"analyze", "--json"}} {
		code, out, errOut := f.svcctl(args...)
		var v any
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
			t.Errorf("svcctl %v: exit %d, not JSON:\n%s%s", args, code, out, errOut)
		}
	}
	code, out, _ := f.svcctl("logs", "--json", "sshd")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 2 || !json.Valid([]byte(lines[0])) {
		t.Errorf("svcctl logs --json: exit %d\n%s", code, out)
	}
}

func TestStatusShowsTheDetailsAndTheLastLines(t *testing.T) {
	f := newFakeInit(t)
	code, out, _ := f.svcctl("status", "sshd")
	for _, want := range []string{
		"sshd: running (pid 312)",
		"last exit:      137 (killed by signal 9)",
		"memory:         5.0M (limit 64.0M)",
		"[    2.000] Accepted publickey for root",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("svcctl status sshd lacks %q:\n%s", want, out)
		}
	}
	if code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestAnUnknownNameExits3AndSuggests(t *testing.T) {
	f := newFakeInit(t)
	for _, args := range [][]string{{"status", "sshdd"}, {"restart", "sshdd"}, {"logs", "sshdd"}} {
		code, _, errOut := f.svcctl(args...)
		if code != exitNotFound || !strings.Contains(errOut, `"sshdd"`) || !strings.Contains(errOut, "did you mean sshd?") {
			t.Errorf("svcctl %v: exit %d, %q; want %d and a suggestion", args, code, errOut, exitNotFound)
		}
	}
}

func TestActionsReportTheNewStateOrWhyNot(t *testing.T) {
	f := newFakeInit(t)
	code, out, _ := f.svcctl("restart", "sshd")
	if code != 0 || out != "sshd: running (pid 312)\n" || <-f.backend.Acted != "restart sshd" {
		t.Errorf("svcctl restart sshd: exit %d, %q", code, out)
	}
	code, _, errOut := f.svcctl("start", "getty")
	if code != exitFailed || !strings.Contains(errOut, "its image is broken") {
		t.Errorf("a refused start: exit %d, %q", code, errOut)
	}
	code, out, _ = f.svcctl("poweroff")
	if code != 0 || out != "poweroff requested\n" || <-f.backend.Powered != "poweroff" {
		t.Errorf("svcctl poweroff: exit %d, %q", code, out)
	}
}

func TestARefusedChangeSaysWhichCapabilityIsMissing(t *testing.T) {
	f := newFakeInitFor(t, &control.Caller{UID: 0, PID: 1, Cgroup: "/minikit/getty"}) // root without capabilities
	for _, tt := range []struct {
		args []string
		cap  string
	}{
		{[]string{"reboot"}, "CAP_SYS_BOOT"},
		{[]string{"stop", "sshd"}, "CAP_SYS_ADMIN"},
	} {
		code, out, errOut := f.svcctl(tt.args...)
		if code != exitRefused || out != "" || !strings.HasPrefix(errOut, "svcctl: refused: ") ||
			!strings.Contains(errOut, "svcctl must run with "+tt.cap+" in its effective capabilities") ||
			!strings.Contains(errOut, "capabilities: ["+tt.cap+"]") {
			t.Errorf("svcctl %v: exit %d, %q%q; want %d naming %s", tt.args, code, out, errOut, exitRefused, tt.cap)
		}
	}
}

func TestLogsShowGapsAndFollow(t *testing.T) {
	f := newFakeInit(t)
	code, out, _ := f.svcctl("logs", "sshd")
	want := "[    1.500] Server listening on 0.0.0.0 port 22.\n" +
		"… 3 lines missed: they left init's memory before they could be read (see /var/log/sshd.log)\n" +
		"[    2.000] Accepted publickey for root\n"
	if code != 0 || out != want {
		t.Errorf("svcctl logs sshd: exit %d\n%s\nwant\n%s", code, out, want)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var buf syncWriter
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"logs", "-f", "-n", "1", "sshd"}, &buf, &buf, func(string) string { return f.socket })
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), "Accepted publickey") {
		if time.Now().After(deadline) {
			t.Fatalf("svcctl logs -f printed:\n%s", buf.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.backend.AddLog("sshd").Append(control.LogLine{Boot: 3 * time.Second, Line: "a line while following"})
	for !strings.Contains(buf.String(), "a line while following") {
		if time.Now().After(deadline) {
			t.Fatalf("svcctl logs -f printed:\n%s", buf.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel() // Ctrl-C
	if code := <-done; code != 0 || strings.Contains(buf.String(), "listening") {
		t.Errorf("svcctl logs -f -n 1: exit %d\n%s", code, buf.String())
	}
}

// svcctl metrics writes what init knows in Prometheus' text format, so
// that it can be piped to a file a node exporter's textfile collector reads.
func TestMetricsWritesInitsFiguresAsPrometheusText(t *testing.T) {
	f := newFakeInit(t)
	code, out, _ := f.svcctl("metrics")
	for _, want := range []string{
		"# TYPE minikit_service_restarts_total counter\n",
		"minikit_service_restarts_total{service=\"sshd\"} ",
		"minikit_init_goroutines 7\n",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("svcctl metrics: exit %d, lacks %q:\n%s", code, want, out)
		}
	}
}

func TestAnalyzePrintsTheTimeline(t *testing.T) {
	f := newFakeInit(t)
	code, out, _ := f.svcctl("analyze")
	for _, want := range []string{
		"kernel  0.000s  0.800s  800ms",
		"onboot  1.000s  1.200s  200ms",
		"sshd     1.300s   1.400s   1.400s  0s",
		"the last service was ready 1.400s after the kernel started (now 9.000s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("svcctl analyze lacks %q:\n%s", want, out)
		}
	}
	if code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestAMissingSocketExits4AndSaysWhy(t *testing.T) {
	code, _, errOut := svcctlEnv(map[string]string{"MINIKIT_SOCKET": "/nonexistent/control.sock"}, "list")
	if code != exitNoSocket || !strings.Contains(errOut, "/nonexistent/control.sock") || !strings.Contains(errOut, "bound into this container") {
		t.Errorf("exit %d, %q", code, errOut)
	}
}

func TestUsageMistakesExit2(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"status"}, {"list", "extra"}, {"logs", "-n", "x", "sshd"}, {"notify"}} {
		if code, _, errOut := svcctlEnv(nil, args...); code != exitUsage || !strings.Contains(errOut, "Usage:") {
			t.Errorf("svcctl %v: exit %d, %q", args, code, errOut)
		}
	}
}

func TestHelpPrintsUsageAndSucceeds(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"list", "--help"}} {
		if code, out, _ := svcctlEnv(nil, args...); code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("svcctl %v: exit %d, %q", args, code, out)
		}
	}
}

func TestNotifyTellsInitThroughNotifySocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	code, _, errOut := svcctlEnv(map[string]string{"NOTIFY_SOCKET": path}, "notify", "READY=1", "STATUS=up")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	buf := make([]byte, 100)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := conn.ReadFromUnix(buf)
	if err != nil || string(buf[:n]) != "READY=1\nSTATUS=up" {
		t.Errorf("init heard %q, %v", buf[:n], err)
	}
	if code, _, errOut := svcctlEnv(nil, "notify", "READY=1"); code != exitFailed || !strings.Contains(errOut, "notify: true") {
		t.Errorf("without NOTIFY_SOCKET: exit %d, %q", code, errOut)
	}
}

type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
