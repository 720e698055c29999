package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/control"
	"golang.org/x/sys/unix"
)

// controlServer serves the API of a fake system on a unix socket, as init
// does, and returns a client of it.
type controlServer struct {
	*testSupervisor
	api     *controlAPI
	client  *control.Client
	powered chan string
}

// runningWeb serves the API over one service, web, that stops on
// SIGTERM, and returns once web runs.
func runningWeb(t *testing.T) *controlServer {
	t.Helper()
	cs := newControlServer(t, svc("web"))
	cs.launcher.onLaunch = func(p *fakeProc) {
		go func() {
			for s := range p.signals {
				if s == unix.SIGTERM {
					p.end(0)
					return
				}
			}
		}()
	}
	cs.run()
	cs.launcher.next(t, "web")
	cs.waitState(t, "web", control.StateRunning)
	return cs
}

func newControlServer(t *testing.T, cfgs ...serviceConfig) *controlServer {
	t.Helper()
	return serveControlAPI(t, newTestSupervisor(t, cfgs...))
}

func serveControlAPI(t testing.TB, ts *testSupervisor) *controlServer {
	t.Helper()
	return serveControlAPIWith(t, ts, defaultControlLimits)
}

// serveControlAPIWith serves as init does, with the limits given, on a
// socket the keeper watches.
func serveControlAPIWith(t testing.TB, ts *testSupervisor, lim controlLimits) *controlServer {
	t.Helper()
	ts.outputs = &outputs{}
	cs := &controlServer{testSupervisor: ts, powered: make(chan string, 1)}
	cs.api = &controlAPI{sup: ts.supervisor, outputs: ts.outputs, timeline: newTimeline(),
		power: func(a string) { cs.powered <- a }}
	path := filepath.Join(t.TempDir(), "control.sock")
	l, fi, err := listenControl(path)
	if err != nil {
		t.Fatal(err)
	}
	srv, wrap, err := cs.api.server(lim, "/proc")
	if err != nil {
		t.Fatal(err)
	}
	k := &socketKeeper{path: path, every: lim.SocketCheck, stop: make(chan struct{}),
		serve: func(l net.Listener) { srv.Serve(wrap(l)) }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		k.keep(l, fi)
	}()
	t.Cleanup(func() {
		close(k.stop)
		<-done
		srv.Close()
	})
	cs.client = control.NewClient(path)
	return cs
}

func TestListAndStatusReportEveryService(t *testing.T) {
	cs := newControlServer(t, svc("web", dependsOn("db")), svc("db", notifies))
	cs.run()
	cs.launcher.next(t, "db")
	cs.waitState(t, "db", control.StateRunning)
	// web's own goroutine marks it waiting, in its own time.
	cs.waitState(t, "web", control.StateStarting)
	ctx := context.Background()

	list, err := cs.client.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "db" || list[1].Name != "web" {
		t.Fatalf("list: %+v", list)
	}
	db, web := list[0], list[1]
	if db.State != control.StateRunning || db.Ready || db.Pid == 0 || !db.Notify {
		t.Errorf("db (notify, no READY=1 yet): %+v", db)
	}
	if web.State != control.StateStarting || !strings.Contains(web.Error, "waiting for db") || web.DependsOn[0] != "db" {
		t.Errorf("web (waiting for db): %+v", web)
	}
	st, err := cs.client.Service(ctx, "db")
	if err != nil || st.Name != "db" || st.Restart != "always" {
		t.Errorf("status db: %+v, %v", st, err)
	}
	// web has not run, so has written nothing: its log is empty, not
	// unknown (svcctl status shows the last lines).
	if err := cs.client.Logs(ctx, "web", 10, false, func(control.LogLine) error { return nil }); err != nil {
		t.Errorf("logs of a service that never ran: %v", err)
	}
}

func TestBadRequestsGetAJSONError(t *testing.T) {
	cs := newControlServer(t, svc("sshd"), svc("getty"))
	cs.run()
	ctx := context.Background()

	_, err := cs.client.Service(ctx, "sshdd")
	var ae *control.APIError
	if !errors.As(err, &ae) || ae.Code != 404 || fmt.Sprint(ae.Body.Suggestions) != "[sshd]" {
		t.Errorf("status of an unknown name: %v (%+v); want 404 suggesting sshd", err, ae)
	}
	_, err = cs.client.Act(ctx, "sshd", "explode")
	if !errors.As(err, &ae) || ae.Code != 400 || !strings.Contains(ae.Body.Error, "start, stop or restart") {
		t.Errorf("an unknown action: %v", err)
	}
	err = cs.client.Logs(ctx, "getyt", 10, false, func(control.LogLine) error { return nil })
	if !errors.As(err, &ae) || ae.Code != 404 || fmt.Sprint(ae.Body.Suggestions) != "[getty]" {
		t.Errorf("logs of an unknown name: %v (%+v)", err, ae)
	}

	for _, req := range []struct{ method, path string }{
		{"GET", "/v2/everything"},
		{"DELETE", "/v1/services/sshd"},
		{"GET", "/v1/logs/init?lines=many"},
		{"GET", "/v1/logs/init?follow=perhaps"},
		{"POST", "/v1/services/%2e%2e/start"},
	} {
		resp := rawRequest(t, cs.client.Socket, req.method, req.path)
		var body control.Error
		if resp.code < 400 || resp.code >= 500 || json.Unmarshal(resp.body, &body) != nil || body.Error == "" {
			t.Errorf("%s %s: %d %s; want a 4xx with a JSON error", req.method, req.path, resp.code, resp.body)
		}
	}
}

type rawResponse struct {
	code int
	body []byte
}

func rawRequest(t *testing.T, socket, method, path string) rawResponse {
	t.Helper()
	resp, err := tryRawRequest(socket, method, path)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// tryRawRequest sends the request line as given, unlike http.Client.
func tryRawRequest(socket, method, path string) (rawResponse, error) {
	c, err := net.Dial("unix", socket)
	if err != nil {
		return rawResponse{}, err
	}
	defer c.Close()
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: init\r\nConnection: close\r\n\r\n", method, path)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return rawResponse{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, resp.Body)
	return rawResponse{resp.StatusCode, []byte(b.String())}, nil
}

func TestAPanickingHandlerAnswers500(t *testing.T) {
	h := recoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 500 || !strings.Contains(w.Body.String(), `"error"`) {
		t.Errorf("a panic gave %d %s", w.Code, w.Body)
	}
}

func TestActionsAreLoggedWithTheCallersUidPidAndCgroup(t *testing.T) {
	cs := runningWeb(t)
	logs := captureLog(t)

	st, err := cs.client.Act(context.Background(), "web", "stop")
	if err != nil || st.State != control.StateStopped {
		t.Fatalf("stop: %+v, %v", st, err)
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	_, cgroup, _ := strings.Cut(string(self), "0::")
	cgroup, _, _ = strings.Cut(cgroup, "\n")
	want := fmt.Sprintf("control: stop web action=stop target=web uid=0 pid=%d cgroup=%s", os.Getpid(), cgroup)
	if !strings.Contains(logs.String(), want) {
		t.Errorf("init's log lacks %q:\n%s", want, logs)
	}
	st, err = cs.client.Act(context.Background(), "web", "start")
	if err != nil || st.State != control.StateRunning {
		t.Fatalf("start: %+v, %v", st, err)
	}

	if err := cs.client.Power(context.Background(), "poweroff"); err != nil {
		t.Fatal(err)
	}
	if got := <-cs.powered; got != "poweroff" || !strings.Contains(logs.String(), "control: poweroff action=poweroff uid=0") {
		t.Errorf("poweroff: asked %q; log:\n%s", got, logs)
	}
	if _, err := cs.client.Act(context.Background(), "web", "restart"); err == nil {
		t.Error("a restart was accepted while the system shuts down")
	}
}

// captureLog sends slog's default logger to a buffer for the test.
func captureLog(t *testing.T) *syncBuffer {
	t.Helper()
	buf := &syncBuffer{}
	old := slog.Default()
	slog.SetDefault(slog.New(newConsoleHandler(buf, slog.LevelInfo)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return buf
}

func TestLogsFollowALiveService(t *testing.T) {
	cs := newControlServer(t, svc("ticker"))
	cs.run()
	p := cs.launcher.next(t, "ticker")
	fmt.Fprintln(p.out, "tick 1")
	fmt.Fprintln(p.out, "tick 2")
	waitFor(t, func() bool { return len(cs.outputs.lookup("ticker").ring.tail(-1)) == 2 })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 10)
	go cs.client.Logs(ctx, "ticker", 1, true, func(l control.LogLine) error {
		got <- l.Line
		return nil
	})
	expectLine(t, got, "tick 2") // the last line, then…
	fmt.Fprintln(p.out, "tick 3")
	expectLine(t, got, "tick 3") // …what comes while following

	var all []string
	err := cs.client.Logs(context.Background(), "ticker", -1, false, func(l control.LogLine) error {
		all = append(all, l.Line)
		return nil
	})
	if err != nil || fmt.Sprint(all) != "[tick 1 tick 2 tick 3]" {
		t.Errorf("logs without follow: %v, %v", all, err)
	}
}

func expectLine(t *testing.T, got chan string, want string) {
	t.Helper()
	select {
	case l := <-got:
		if l != want {
			t.Fatalf("got line %q, want %q", l, want)
		}
	case <-time.After(hang):
		t.Fatalf("no line %q", want)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hang)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never met")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestAnalyzeShowsPhasesAndServices(t *testing.T) {
	cs := newControlServer(t, svc("db", notifies), svc("web", dependsOn("db")))
	cs.run()
	cs.launcher.next(t, "db")
	cs.waitState(t, "db", control.StateRunning)
	cs.clock.advance(time.Second)
	cs.service("db").notes <- notifyMsg{ready: true}
	cs.launcher.next(t, "web")
	cs.waitState(t, "web", control.StateRunning)
	a, err := cs.client.Analyze(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Services) != 2 {
		t.Fatalf("analyze: %+v", a)
	}
	db, web := a.Services[0], a.Services[1]
	if db.Ready != db.Started+time.Second || web.Started < db.Ready || web.Waiting > db.Ready {
		t.Errorf("db %+v, web %+v: web must wait from the start and start once db is ready", db, web)
	}
}
