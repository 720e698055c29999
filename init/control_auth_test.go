package main

import (
	"context"
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

// caps is an effective set holding cs.
func caps(cs ...capability) uint64 {
	var set uint64
	for _, c := range cs {
		set |= 1 << uint(c.bit)
	}
	return set
}

// asPeer sends one request to h as if from p, and returns the answer.
func asPeer(h http.Handler, p *peer, method, path string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	if p != nil {
		r = r.WithContext(context.WithValue(r.Context(), peerKey{}, p))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestWhoMayDoWhat(t *testing.T) {
	cs := runningWeb(t)
	h := cs.api.handler()
	rootNoCaps := &peer{uid: 0, pid: 42, cgroup: "/minikit/getty"}
	admin := &peer{uid: 0, pid: 43, cgroup: "/minikit/sshd", capEff: caps(capSysAdmin)}
	boot := &peer{uid: 0, pid: 44, cgroup: "/minikit/acpid", capEff: caps(capSysBoot)}
	user := &peer{uid: 1000, pid: 45, capEff: ^uint64(0)}
	unreadable := &peer{uid: 0, pid: 46, err: os.ErrNotExist}

	for _, tt := range []struct {
		name         string
		p            *peer
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
			w := asPeer(h, tt.p, tt.method, tt.path)
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
	if a := <-cs.powered; a != "poweroff" {
		t.Errorf("asked for %q", a)
	}
}

func TestRefusalsAreAuditedWithTheCallersCgroup(t *testing.T) {
	cs := newControlServer(t, svc("web"))
	cs.run()
	logs := captureLog(t)
	h := cs.api.handler()
	getty := &peer{uid: 0, pid: 42, cgroup: "/minikit/getty"}

	asPeer(h, getty, "POST", "/v1/poweroff")
	asPeer(h, getty, "POST", "/v1/services/web/stop")
	asPeer(h, &peer{uid: 1000, pid: 45, cgroup: "/user"}, "GET", "/v1/services")
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
	case a := <-cs.powered:
		t.Errorf("a refused caller got %s", a)
	default:
	}
}

// fakeProc writes a /proc/PID with the files the authoriser reads.
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

	p := procPeer(proc, "user:[4026531837]", &unix.Ucred{Pid: 7, Uid: 0})
	if p.err != nil || !p.has(capSysAdmin) || !p.has(capSysBoot) || p.cgroup != "/minikit/sshd" {
		t.Errorf("pid 7: %+v; want CAP_SYS_ADMIN and CAP_SYS_BOOT, cgroup /minikit/sshd", p)
	}
	// Root of a user namespace of its own holds every capability there,
	// and none that count here.
	p = procPeer(proc, "user:[4026531837]", &unix.Ucred{Pid: 8, Uid: 0})
	if p.err != nil || p.capEff != 0 || p.cgroup != "/minikit/sandbox" {
		t.Errorf("pid 8, in another user namespace: %+v; want no capabilities", p)
	}
	p = procPeer(proc, "user:[4026531837]", &unix.Ucred{Pid: 9, Uid: 0})
	if p.err == nil || p.capEff != 0 {
		t.Errorf("a pid that is gone: %+v; want an error and no capabilities", p)
	}
}
