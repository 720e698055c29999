package control_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/minikit/minikit/internal/control"
	"github.com/minikit/minikit/internal/control/controltest"
	"golang.org/x/sys/unix"
)

// fuzzCallers are the callers a fuzzed request comes from, by its first
// byte.
var fuzzCallers = []*control.Caller{
	nil, // unidentified
	{UID: 0, PID: 10, Cgroup: "/minikit/getty"},
	{UID: 0, PID: 11, Cgroup: "/minikit/sshd", CapEff: ^uint64(0)},
	{UID: 1000, PID: 12, Cgroup: "/user", CapEff: ^uint64(0)},
	{UID: 0, PID: 13, Cgroup: "/minikit/acpid", CapEff: caps(unix.CAP_SYS_BOOT)},
}

// holds reports whether c holds the capability numbered bit.
func holds(c *control.Caller, bit int) bool { return c != nil && c.CapEff&caps(bit) != 0 }

// FuzzControlAPI sends the API requests of any method, path and query,
// from callers with and without capabilities: it must answer each with
// JSON, never redirect, never fail inside, and change nothing for a
// caller that lacks the capability.
func FuzzControlAPI(f *testing.F) {
	for _, s := range []struct {
		caller       byte
		method, path string
	}{
		{1, "GET", "/v1/services"},
		{1, "GET", "/v1/services/web"},
		{2, "POST", "/v1/services/web/restart"},
		{1, "POST", "/v1/poweroff"},
		{2, "POST", "/v1/reboot"},
		{4, "POST", "/v1/poweroff"},
		{1, "GET", "/v1/logs/web?lines=2&follow=true"},
		{1, "GET", "/v1/logs/init?lines=-1"},
		{1, "GET", "/v1/logs/../../etc/passwd"},
		{1, "GET", "/v1/logs/..%2f..%2fetc%2fpasswd"},
		{3, "GET", "/v1/analyze"},
		{0, "DELETE", "/v1/services/web"},
		{2, "POST", "/v1/services/%2e%2e/start"},
		{1, "GET", "//v1/services?x=%zz"},
		{2, "OPTIONS", "*"},
	} {
		f.Add(s.caller, s.method, s.path)
	}
	// The audit lines of a million requests say nothing here.
	old := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	f.Cleanup(func() { slog.SetDefault(old) })
	b := controltest.NewBackend()
	b.AddLog("web").Add("hello")
	lim := control.DefaultLimits
	lim.WriteTimeout = 0 // a recorder has no deadlines
	h := handlerOf(f, b, lim)
	f.Fuzz(func(t *testing.T, caller byte, method, target string) {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(method + " " + target + " HTTP/1.1\r\nHost: init\r\n\r\n")))
		if err != nil {
			return // not a request the server would hand to a handler
		}
		p := fuzzCallers[int(caller)%len(fuzzCallers)]
		// Ended already, so that a follower stops after the lines held.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req = req.WithContext(control.WithCaller(ctx, p))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var powered []string
		for len(b.Powered) > 0 {
			powered = append(powered, <-b.Powered)
		}

		code := w.Code
		if code >= 300 && code < 400 || code >= 500 {
			t.Fatalf("%s %s: %d %s", method, target, code, w.Body)
		}
		if code >= 400 {
			var e control.Error
			if json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error == "" {
				t.Fatalf("%s %s: %d with no JSON error: %q", method, target, code, w.Body)
			}
		}
		if code < 400 && (p == nil || p.UID != 0) {
			t.Fatalf("%s %s from %+v: %d; only root may use the API", method, target, p, code)
		}
		if len(powered) > 0 && (!holds(p, unix.CAP_SYS_BOOT) || req.Method != "POST") {
			t.Fatalf("%s %s from %+v powered off or rebooted", method, target, p)
		}
		if req.Method == "POST" && code < 300 && !holds(p, unix.CAP_SYS_ADMIN) && !holds(p, unix.CAP_SYS_BOOT) {
			t.Fatalf("%s %s from %+v: %d; a change needs a capability", method, target, p, code)
		}
	})
}
