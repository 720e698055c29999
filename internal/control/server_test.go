package control_test

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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/control"
	"github.com/minikit/minikit/internal/control/controltest"
	"github.com/minikit/minikit/internal/testenv"
)

// Waits below are guarded by a generous real timeout only so that a
// broken server fails the test instead of hanging it; they measure
// nothing.
const hang = 10 * time.Second

// webBackend is a backend of one running service, web.
func webBackend() *controltest.Backend {
	return controltest.NewBackend(control.Service{Name: "web", State: control.StateRunning, Pid: 42, Restart: "always"})
}

// serve serves the API over b as init does, to a caller that may do
// anything.
func serve(t testing.TB, b control.Backend) *control.Client {
	t.Helper()
	return controltest.Serve(t, b, control.DefaultLimits, controltest.Root())
}

func TestListAndStatusReportTheBackendsServices(t *testing.T) {
	b := controltest.NewBackend(
		control.Service{Name: "web", State: control.StateStarting, Error: "waiting for db (running)", DependsOn: []string{"db"}},
		control.Service{Name: "db", State: control.StateRunning, Pid: 7, Notify: true, Restart: "always"},
	)
	c := serve(t, b)
	ctx := context.Background()

	list, err := c.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "db" || list[1].Name != "web" {
		t.Fatalf("list: %+v", list)
	}
	db, web := list[0], list[1]
	if db.State != control.StateRunning || db.Pid != 7 || !db.Notify {
		t.Errorf("db: %+v", db)
	}
	if web.State != control.StateStarting || !strings.Contains(web.Error, "waiting for db") || web.DependsOn[0] != "db" {
		t.Errorf("web: %+v", web)
	}
	st, err := c.Service(ctx, "db")
	if err != nil || st.Name != "db" || st.Restart != "always" {
		t.Errorf("status db: %+v, %v", st, err)
	}

	if resp := rawRequest(t, serve(t, controltest.NewBackend()).Socket, "GET", "/v1/services"); strings.TrimSpace(string(resp.body)) != "[]" {
		t.Errorf("a system without services is listed as %s, want []", resp.body)
	}
}

func TestBadRequestsGetAJSONError(t *testing.T) {
	b := controltest.NewBackend(control.Service{Name: "sshd"}, control.Service{Name: "getty"})
	for _, name := range []string{"sshd", "getty", "init"} {
		b.AddLog(name)
	}
	c := serve(t, b)
	ctx := context.Background()

	_, err := c.Service(ctx, "sshdd")
	var ae *control.APIError
	if !errors.As(err, &ae) || ae.Code != 404 || fmt.Sprint(ae.Body.Suggestions) != "[sshd]" {
		t.Errorf("status of an unknown name: %v (%+v); want 404 suggesting sshd", err, ae)
	}
	_, err = c.Act(ctx, "sshd", "explode")
	if !errors.As(err, &ae) || ae.Code != 400 || !strings.Contains(ae.Body.Error, "start, stop or restart") {
		t.Errorf("an unknown action: %v", err)
	}
	_, err = c.Act(ctx, "sshdd", "start")
	if !errors.As(err, &ae) || ae.Code != 404 || fmt.Sprint(ae.Body.Suggestions) != "[sshd]" {
		t.Errorf("an action on an unknown name: %v (%+v); want 404 suggesting sshd", err, ae)
	}
	err = c.Logs(ctx, "getyt", 10, false, func(control.LogLine) error { return nil })
	if !errors.As(err, &ae) || ae.Code != 404 || fmt.Sprint(ae.Body.Suggestions) != "[getty]" {
		t.Errorf("logs of an unknown name: %v (%+v)", err, ae)
	}
	select {
	case a := <-b.Acted:
		t.Errorf("a bad request was carried out: %s", a)
	default:
	}

	for _, req := range []struct{ method, path string }{
		{"GET", "/v2/everything"},
		{"DELETE", "/v1/services/sshd"},
		{"GET", "/v1/logs/init?lines=many"},
		{"GET", "/v1/logs/init?follow=perhaps"},
		{"POST", "/v1/services/%2e%2e/start"},
	} {
		resp := rawRequest(t, c.Socket, req.method, req.path)
		var body control.Error
		if resp.code < 400 || resp.code >= 500 || json.Unmarshal(resp.body, &body) != nil || body.Error == "" {
			t.Errorf("%s %s: %d %s; want a 4xx with a JSON error", req.method, req.path, resp.code, resp.body)
		}
	}
}

func TestAFailedActionAnswersConflictWithWhy(t *testing.T) {
	b := webBackend()
	b.OnAct = func(_ context.Context, name, action string) error { return errors.New("its image is broken") }
	_, err := serve(t, b).Act(context.Background(), "web", "start")
	var ae *control.APIError
	if !errors.As(err, &ae) || ae.Code != 409 || ae.Body.Error != "start web: its image is broken" {
		t.Errorf("a failed start: %v (%+v); want 409 saying what failed and why", err, ae)
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
	h := control.RecoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 500 || !strings.Contains(w.Body.String(), `"error"`) {
		t.Errorf("a panic gave %d %s", w.Code, w.Body)
	}
}

func TestActionsAreLoggedWithTheCallersUidPidAndCgroup(t *testing.T) {
	testenv.Root(t)
	b := webBackend()
	c := controltest.Serve(t, b, control.DefaultLimits, nil) // the caller as the kernel and /proc tell
	logs := captureLog(t)

	st, err := c.Act(context.Background(), "web", "stop")
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

	if err := c.Power(context.Background(), "poweroff"); err != nil {
		t.Fatal(err)
	}
	if got := <-b.Powered; got != "poweroff" || !strings.Contains(logs.String(), "control: poweroff action=poweroff uid=0") {
		t.Errorf("poweroff: asked %q; log:\n%s", got, logs)
	}
}

// logLines is a slog handler that keeps each record as a line, its
// message then its attributes as " key=value", as init's log shows them.
type logLines struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }

func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	line := r.Message
	r.Attrs(func(a slog.Attr) bool {
		line += fmt.Sprintf(" %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(line + "\n")
	return nil
}

func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// captureLog sends slog's default logger to lines for the test.
func captureLog(t *testing.T) *logLines {
	t.Helper()
	lines := &logLines{}
	old := slog.Default()
	slog.SetDefault(slog.New(lines))
	t.Cleanup(func() { slog.SetDefault(old) })
	return lines
}

func TestLogsFollowALiveService(t *testing.T) {
	b := controltest.NewBackend()
	ticker := b.AddLog("ticker")
	ticker.Add("tick 1", "tick 2")
	c := serve(t, b)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 10)
	go c.Logs(ctx, "ticker", 1, true, func(l control.LogLine) error {
		got <- l.Line
		return nil
	})
	expectLine(t, got, "tick 2") // the last line, then…
	ticker.Add("tick 3")
	expectLine(t, got, "tick 3") // …what comes while following

	var all []string
	err := c.Logs(context.Background(), "ticker", -1, false, func(l control.LogLine) error {
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

func TestAnalyzeShowsTheTimeline(t *testing.T) {
	b := controltest.NewBackend()
	c := serve(t, b)
	if resp := rawRequest(t, c.Socket, "GET", "/v1/analyze"); !strings.Contains(string(resp.body), `"phases":[],"services":[]`) {
		t.Errorf("the timeline before any phase ended: %s; want empty lists, not null", resp.body)
	}
	want := control.Analysis{
		Now:      9 * time.Second,
		Phases:   []control.Phase{{Name: "kernel", End: time.Second}, {Name: "onboot", Start: time.Second, End: 2 * time.Second}},
		Services: []control.ServiceTimes{{Name: "db", Waiting: 2 * time.Second, Started: 3 * time.Second, Ready: 4 * time.Second}},
	}
	b.SetAnalysis(want)
	a, err := c.Analyze(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(a) != fmt.Sprint(want) {
		t.Errorf("analyze: %+v, want %+v", a, want)
	}
}

// BenchmarkListWith100Services is the latency of `svcctl list` through
// the real API and client, over 100 services.
func BenchmarkListWith100Services(b *testing.B) {
	var services []control.Service
	for i := range 100 {
		services = append(services, control.Service{Name: fmt.Sprintf("svc%03d", i), State: control.StateRunning, Pid: 100 + i})
	}
	c := serve(b, controltest.NewBackend(services...))
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		list, err := c.Services(ctx)
		if err != nil || len(list) != 100 {
			b.Fatalf("%d services, %v", len(list), err)
		}
	}
}
