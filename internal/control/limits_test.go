package control_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/control"
	"github.com/minikit/minikit/internal/control/controltest"
)

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// holder is a process holding connections to a control socket.
type holder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines *bufio.Scanner
}

func holdConns(t *testing.T, socket string, n int) *holder {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d %s", holdEnv, n, socket))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &holder{cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout)}
	t.Cleanup(h.release)
	if got := h.next(t); got != "held" {
		t.Fatalf("holding %d connections: %s", n, got)
	}
	return h
}

// next is the holder's next line ("closed" for a connection the server
// closed).
func (h *holder) next(t *testing.T) string {
	t.Helper()
	if !h.lines.Scan() {
		t.Fatalf("the holder ended: %v", h.lines.Err())
	}
	return h.lines.Text()
}

// release ends the holder, which closes its connections.
func (h *holder) release() {
	if h.stdin != nil {
		h.stdin.Close()
		h.stdin = nil
		_ = h.cmd.Wait()
	}
}

// waitForCode repeats a request until it is answered code.
func waitForCode(t *testing.T, socket, method, path string, code int) rawResponse {
	t.Helper()
	deadline := time.Now().Add(hang)
	for {
		resp, err := tryRawRequest(socket, method, path)
		if err == nil && resp.code == code {
			return resp
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s never answered %d; the last answer was %d %s (%v)", method, path, code, resp.code, resp.body, err)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestConnectionsOverTheCapAreRefusedWithoutExhaustingFds(t *testing.T) {
	lim := control.DefaultLimits
	lim.MaxConns, lim.SpareConns = 4, 1
	// Connections that send nothing stay for the whole test.
	lim.ReadHeaderTimeout, lim.IdleTimeout = time.Hour, time.Hour
	sock := controltest.Serve(t, controltest.NewBackend(), lim, controltest.Root()).Socket

	first := holdConns(t, sock, lim.MaxConns)
	resp := waitForCode(t, sock, "GET", "/v1/services", 503)
	if !strings.Contains(string(resp.body), "too many connections") {
		t.Errorf("the caller over the cap was told %s", resp.body)
	}

	before := openFDs(t)
	const flood = 200
	second := holdConns(t, sock, flood)
	// All but the spare one are closed as soon as they are accepted.
	for range flood - lim.SpareConns {
		if got := second.next(t); got != "closed" {
			t.Fatalf("the flood's holder said %q", got)
		}
	}
	// The flood's holder costs this process its pipes and pidfd, and
	// init at most the spare connection.
	if grown := openFDs(t) - before; grown > lim.SpareConns+3 {
		t.Errorf("holding %d connections over the cap cost init %d file descriptors", flood, grown)
	}

	first.release()
	waitForCode(t, sock, "GET", "/v1/services", 200)
}

func TestIdleConnectionsAreClosed(t *testing.T) {
	lim := control.DefaultLimits
	lim.ReadHeaderTimeout, lim.IdleTimeout = 10*time.Millisecond, 10*time.Millisecond
	lim.ReadTimeout = time.Hour // which would stand in for IdleTimeout
	sock := controltest.Serve(t, controltest.NewBackend(), lim, controltest.Root()).Socket

	t.Run("without a request", func(t *testing.T) {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		expectClosed(t, bufio.NewReader(c), c)
	})
	t.Run("after a request", func(t *testing.T) {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprint(c, "GET /v1/services HTTP/1.1\r\nHost: init\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("keep-alive request: %v %v", resp, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		expectClosed(t, br, c)
	})
}

// expectClosed waits for the server to close c.
func expectClosed(t *testing.T, r io.Reader, c net.Conn) {
	t.Helper()
	// Only a guard against a server that never closes it.
	_ = c.SetReadDeadline(time.Now().Add(hang))
	if n, err := io.Copy(io.Discard, r); err != nil {
		t.Fatalf("the idle connection was not closed by the server (%d bytes, %v)", n, err)
	}
}

// follower follows log name until its context ends; started receives
// nil once the first line arrived, or the error the follow ended with.
func follower(ctx context.Context, c *control.Client, name string) <-chan error {
	started := make(chan error, 1)
	go func() {
		first := true
		err := c.Logs(ctx, name, 1, true, func(control.LogLine) error {
			if first {
				first = false
				started <- nil
			}
			return nil
		})
		if first {
			started <- err
		}
	}()
	return started
}

func waitErr(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(hang):
		t.Fatal("the follower neither started nor failed")
	}
	return nil
}

func TestFollowersOfLogsAreCapped(t *testing.T) {
	lim := control.DefaultLimits
	lim.MaxFollowers = 2
	b := controltest.NewBackend()
	b.AddLog("web").Add("hello")
	client := controltest.Serve(t, b, lim, controltest.Root())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	one, oneCancel := context.WithCancel(ctx)
	for _, c := range []context.Context{one, ctx} {
		if err := waitErr(t, follower(c, client, "web")); err != nil {
			t.Fatalf("follower under the cap: %v", err)
		}
	}
	err := waitErr(t, follower(ctx, client, "web"))
	var ae *control.APIError
	if !errors.As(err, &ae) || ae.Code != 503 || !strings.Contains(ae.Body.Error, "at most 2 followers") {
		t.Fatalf("a third follower: %v; want 503 saying at most 2", err)
	}
	oneCancel()
	deadline := time.Now().Add(hang)
	for waitErr(t, follower(ctx, client, "web")) != nil {
		if time.Now().After(deadline) {
			t.Fatal("no follower was accepted after one stopped")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestAFollowerThatStopsReadingIsDropped(t *testing.T) {
	lim := control.DefaultLimits
	lim.MaxFollowers = 1
	lim.WriteTimeout = 20 * time.Millisecond
	b := controltest.NewBackend()
	web := b.AddLog("web")
	web.Add("hello")
	client := controltest.Serve(t, b, lim, controltest.Root())

	stuck, err := net.Dial("unix", client.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	fmt.Fprint(stuck, "GET /v1/logs/web?follow=true&lines=1 HTTP/1.1\r\nHost: init\r\n\r\n")
	// It never reads: what init sends fills the socket's buffers, and
	// the next write times out. The slot it held is then free again.
	line := strings.Repeat("x", 1000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	deadline := time.Now().Add(hang)
	for {
		for range 100 {
			web.Add(line)
		}
		if waitErr(t, follower(ctx, client, "web")) == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a follower that never reads kept its slot")
		}
	}
}

func TestAHealthyFollowerOutlivesTheServersTimeouts(t *testing.T) {
	lim := control.DefaultLimits
	lim.WriteTimeout, lim.ReadTimeout = 20*time.Millisecond, 20*time.Millisecond
	b := controltest.NewBackend()
	web := b.AddLog("web")
	web.Add("line 0")
	client := controltest.Serve(t, b, lim, controltest.Root())

	got := make(chan string, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ended := make(chan error, 1)
	go func() {
		ended <- client.Logs(ctx, "web", 1, true, func(l control.LogLine) error {
			got <- l.Line
			return nil
		})
	}()
	expectLine(t, got, "line 0")
	for i := 1; i <= 3; i++ {
		// Let both deadlines of the server pass while the stream idles.
		time.Sleep(3 * lim.WriteTimeout)
		web.Add(fmt.Sprintf("line %d", i))
		expectLine(t, got, fmt.Sprintf("line %d", i))
	}
	select {
	case err := <-ended:
		t.Fatalf("the follow ended: %v", err)
	default:
	}
}

func TestPathsWithDotSegmentsAre404NotRedirects(t *testing.T) {
	b := webBackend()
	b.AddLog("web")
	sock := serve(t, b).Socket
	for _, p := range []string{
		"/v1/logs/../../etc/passwd",
		"/v1/logs/..%2F..%2Fetc%2Fpasswd",
		"/v1/logs/%2e%2e/%2e%2e/etc/passwd",
		"/v1/services/../services",
		"/v1//services",
		"/v1/services/",
		"/v1/logs/./web",
	} {
		resp := rawRequest(t, sock, "GET", p)
		if resp.code != 404 || !strings.Contains(string(resp.body), `"error"`) {
			t.Errorf("GET %s: %d %s; want a 404 with a JSON error", p, resp.code, resp.body)
		}
	}
}

func TestTheSocketIsMadeAgainWhenItsDirectoryIsRemoved(t *testing.T) {
	lim := control.DefaultLimits
	lim.SocketCheck = 5 * time.Millisecond
	client := controltest.Serve(t, controltest.NewBackend(), lim, controltest.Root())
	sock := client.Socket
	for i := range 2 {
		if err := os.RemoveAll(filepath.Dir(sock)); err != nil {
			t.Fatal(err)
		}
		// The socket answers as soon as it is bound, a moment before its
		// mode is set (until then its mode lets only root connect).
		deadline := time.Now().Add(hang)
		for {
			_, err := client.Services(context.Background())
			fi, statErr := os.Stat(sock)
			if err == nil && statErr == nil && fi.Mode().Perm() == 0o600 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("removal %d: the socket never came back with mode 0600: %v, %v, %v", i+1, err, fi, statErr)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

func TestASlowStopIsAnsweredAfterWriteTimeout(t *testing.T) {
	lim := control.DefaultLimits
	lim.WriteTimeout = 20 * time.Millisecond
	b := controltest.NewBackend(control.Service{Name: "slow", State: control.StateRunning, Pid: 42})
	b.OnAct = func(context.Context, string, string) error {
		// It takes longer to stop than init has to write.
		time.Sleep(5 * lim.WriteTimeout)
		return nil
	}
	client := controltest.Serve(t, b, lim, controltest.Root())
	st, err := client.Act(context.Background(), "slow", "stop")
	if err != nil || st.State != control.StateStopped {
		t.Fatalf("stop: %+v, %v; want the stopped state", st, err)
	}
}
