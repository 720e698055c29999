package control_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minikit/minikit/internal/control"
	"golang.org/x/sys/unix"
)

// caps is an effective set holding the capabilities given, by their
// numbers in linux/capability.h.
func caps(bits ...int) uint64 {
	var set uint64
	for _, b := range bits {
		set |= 1 << uint(b)
	}
	return set
}

// handlerOf is the handler of a server over b, for requests made without
// a connection.
func handlerOf(t testing.TB, b control.Backend, lim control.Limits) http.Handler {
	t.Helper()
	s, err := control.NewServer(b, lim)
	if err != nil {
		t.Fatal(err)
	}
	return s.Handler()
}

// requestAs sends one request to h as if from c, and returns the answer.
func requestAs(h http.Handler, c *control.Caller, method, path string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	if c != nil {
		r = r.WithContext(control.WithCaller(r.Context(), c))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestWhoMayDoWhat(t *testing.T) {
	b := webBackend()
	b.AddLog("web")
	h := handlerOf(t, b, control.DefaultLimits)
	rootNoCaps := &control.Caller{UID: 0, PID: 42, Cgroup: "/minikit/getty"}
	admin := &control.Caller{UID: 0, PID: 43, Cgroup: "/minikit/sshd", CapEff: caps(unix.CAP_SYS_ADMIN)}
	boot := &control.Caller{UID: 0, PID: 44, Cgroup: "/minikit/acpid", CapEff: caps(unix.CAP_SYS_BOOT)}
	user := &control.Caller{UID: 1000, PID: 45, CapEff: ^uint64(0)}
	unreadable := &control.Caller{UID: 0, PID: 46, Err: os.ErrNotExist}

	for _, tt := range []struct {
		name         string
		c            *control.Caller
		method, path string
		want         int
		missing      string
	}{
		{"root without capabilities reads the list", rootNoCaps, "GET", "/v1/services", 200, ""},
		{"root without capabilities reads a status", rootNoCaps, "GET", "/v1/services/web", 200, ""},
		{"root without capabilities reads the timeline", rootNoCaps, "GET", "/v1/analyze", 200, ""},
		{"root without capabilities reads a log", rootNoCaps, "GET", "/v1/logs/web", 200, ""},
		{"a caller whose capabilities could not be read still reads", unreadable, "GET", "/v1/services", 200, ""},
		{"a uid other than 0 reads nothing, whatever it holds", user, "GET", "/v1/services", 403, ""},
		{"an unidentified caller reads nothing", nil, "GET", "/v1/services", 403, ""},
		{"poweroff without CAP_SYS_BOOT", rootNoCaps, "POST", "/v1/poweroff", 403, "CAP_SYS_BOOT"},
		{"reboot without CAP_SYS_BOOT", admin, "POST", "/v1/reboot", 403, "CAP_SYS_BOOT"},
		{"poweroff by a caller whose capabilities could not be read", unreadable, "POST", "/v1/poweroff", 403, "CAP_SYS_BOOT"},
		{"stop without CAP_SYS_ADMIN", rootNoCaps, "POST", "/v1/services/web/stop", 403, "CAP_SYS_ADMIN"},
		{"restart with CAP_SYS_BOOT only", boot, "POST", "/v1/services/web/restart", 403, "CAP_SYS_ADMIN"},
		{"start without CAP_SYS_ADMIN", rootNoCaps, "POST", "/v1/services/web/start", 403, "CAP_SYS_ADMIN"},
		{"stop with CAP_SYS_ADMIN", admin, "POST", "/v1/services/web/stop", 200, ""},
		{"start with CAP_SYS_ADMIN", admin, "POST", "/v1/services/web/start", 200, ""},
		{"restart with CAP_SYS_ADMIN", admin, "POST", "/v1/services/web/restart", 200, ""},
		{"poweroff with CAP_SYS_BOOT", boot, "POST", "/v1/poweroff", 202, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := requestAs(h, tt.c, tt.method, tt.path)
			if w.Code != tt.want {
				t.Fatalf("%s %s: %d %s; want %d", tt.method, tt.path, w.Code, w.Body, tt.want)
			}
			if tt.want != 403 {
				return
			}
			var e control.Error
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Capability != tt.missing ||
				(tt.missing != "" && !strings.Contains(e.Error, tt.missing)) {
				t.Errorf("refusal %s (%v); want it to name %q", w.Body, err, tt.missing)
			}
		})
	}
	if a := <-b.Powered; a != "poweroff" {
		t.Errorf("asked for %q", a)
	}
	select {
	case a := <-b.Powered:
		t.Errorf("a refused caller got %s", a)
	default:
	}
}

func TestRefusalsAreAuditedWithTheCallersCgroup(t *testing.T) {
	b := webBackend()
	h := handlerOf(t, b, control.DefaultLimits)
	logs := captureLog(t)
	getty := &control.Caller{UID: 0, PID: 42, Cgroup: "/minikit/getty"}

	requestAs(h, getty, "POST", "/v1/poweroff")
	requestAs(h, getty, "POST", "/v1/services/web/stop")
	requestAs(h, &control.Caller{UID: 1000, PID: 45, Cgroup: "/user"}, "GET", "/v1/services")
	for _, want := range []string{
		"control: refused poweroff action=poweroff uid=0 pid=42 cgroup=/minikit/getty missing=CAP_SYS_BOOT",
		"control: refused stop web action=stop target=web uid=0 pid=42 cgroup=/minikit/getty missing=CAP_SYS_ADMIN",
		"control: refused GET /v1/services action=GET target=/v1/services uid=1000 pid=45 cgroup=/user",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("init's log lacks %q:\n%s", want, logs)
		}
	}
	select {
	case a := <-b.Powered:
		t.Errorf("a refused caller got %s", a)
	default:
	}
	select {
	case a := <-b.Acted:
		t.Errorf("a refused caller got %s", a)
	default:
	}
}

// fakeProcPid writes a /proc/PID with the files the authoriser reads.
func fakeProcPid(t *testing.T, proc string, pid, capEff, cgroup, userNS string) {
	t.Helper()
	dir := filepath.Join(proc, pid)
	if err := os.MkdirAll(filepath.Join(dir, "ns"), 0o755); err != nil {
		t.Fatal(err)
	}
	status := "Name:\tsshd\nUid:\t0\t0\t0\t0\nCapInh:\t0000000000000000\nCapPrm:\t" + capEff + "\nCapEff:\t" + capEff + "\n"
	if err := os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup"), []byte("0::"+cgroup+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(userNS, filepath.Join(dir, "ns/user")); err != nil {
		t.Fatal(err)
	}
}

func TestTheCallerIsReadFromProc(t *testing.T) {
	proc := t.TempDir()
	fakeProcPid(t, proc, "7", "0000000000600000", "/minikit/sshd", "user:[4026531837]")
	fakeProcPid(t, proc, "8", "000001ffffffffff", "/minikit/sandbox", "user:[4026532999]")
	adminAndBoot := caps(unix.CAP_SYS_ADMIN, unix.CAP_SYS_BOOT)

	c := control.ProcCaller(proc, "user:[4026531837]", &unix.Ucred{Pid: 7, Uid: 0})
	if c.Err != nil || c.CapEff&adminAndBoot != adminAndBoot || c.Cgroup != "/minikit/sshd" {
		t.Errorf("pid 7: %+v; want CAP_SYS_ADMIN and CAP_SYS_BOOT, cgroup /minikit/sshd", c)
	}
	// Root of a user namespace of its own holds every capability there,
	// and none that count here.
	c = control.ProcCaller(proc, "user:[4026531837]", &unix.Ucred{Pid: 8, Uid: 0})
	if c.Err != nil || c.CapEff != 0 || c.Cgroup != "/minikit/sandbox" {
		t.Errorf("pid 8, in another user namespace: %+v; want no capabilities", c)
	}
	c = control.ProcCaller(proc, "user:[4026531837]", &unix.Ucred{Pid: 9, Uid: 0})
	if c.Err == nil || c.CapEff != 0 {
		t.Errorf("a pid that is gone: %+v; want an error and no capabilities", c)
	}
}
