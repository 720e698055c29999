package control_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/minikit/minikit/internal/control"
)

// The server speaks HTTP/1.1 by hand (http.go); these check it against
// net/http's client and curl, the clients people use besides svcctl.

// httpClient is net/http's client over the socket, keeping connections
// alive between requests.
func httpClient(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConnsPerHost: 1,
	}}
}

func TestNetHTTPsClientTalksToTheServer(t *testing.T) {
	b := webBackend()
	b.AddLog("web").Add(strings.Repeat("long line ", 1000), "short")
	c := serve(t, b)
	hc := httpClient(c.Socket)
	for i := range 3 { // one connection, kept alive
		resp, err := hc.Get("http://init/v1/services")
		if err != nil {
			t.Fatal(err)
		}
		var list []control.Service
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || len(list) != 1 || list[0].Name != "web" {
			t.Fatalf("request %d: %d %+v %v", i, resp.StatusCode, list, err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
	}

	// A log longer than the server buffers comes chunked.
	resp, err := hc.Get("http://init/v1/logs/web")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || strings.Count(string(body), "\n") != 2 || resp.ContentLength != -1 {
		t.Errorf("a long log: %v, %d lines, length %d", err, strings.Count(string(body), "\n"), resp.ContentLength)
	}

	// HEAD is GET without the body.
	resp, err = hc.Head("http://init/v1/services")
	if err != nil || resp.StatusCode != 200 || resp.ContentLength <= 0 {
		t.Errorf("HEAD: %v %v", resp, err)
	}

	// A body, which nothing reads, is skipped, and the connection goes on.
	resp, err = hc.Post("http://init/v1/services/web/restart", "text/plain", strings.NewReader("ignored"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST with a body: %v %v", resp, err)
	}
	resp.Body.Close()
	if got := <-b.Acted; got != "restart web" {
		t.Errorf("acted %q", got)
	}
	// So is a chunked one (a reader of no known length).
	resp, err = hc.Post("http://init/v1/services/web/restart", "text/plain", io.MultiReader(strings.NewReader("ignored")))
	if err != nil || resp.StatusCode != 200 || resp.Close {
		t.Fatalf("POST with a chunked body: %v %v", resp, err)
	}
	resp.Body.Close()
	if got := <-b.Acted; got != "restart web" {
		t.Errorf("acted %q", got)
	}
}

func TestRequestsTheServerCannotTakeAreRefusedWithJSON(t *testing.T) {
	c := serve(t, webBackend())
	for _, tt := range []struct {
		name, request string
		code          int
	}{
		{"not HTTP", "HELLO\r\n\r\n", 400},
		{"a bad escape", "GET /v1/services/%zz HTTP/1.1\r\nHost: init\r\n\r\n", 400},
		{"headers without end", "GET /v1/services HTTP/1.1\r\nX: " + strings.Repeat("y", 10<<10) + "\r\n\r\n", 431},
		{"too many headers", "GET /v1/services HTTP/1.1\r\n" + strings.Repeat("X: y\r\n", 65) + "\r\n", 431},
		{"a folded header", "GET /v1/services HTTP/1.1\r\nX: y\r\n z\r\n\r\n", 400},
		{"a control character in the target", "GET /v1/services\x00 HTTP/1.1\r\n\r\n", 400},
		{"HTTP/2", "GET /v1/services HTTP/2.0\r\n\r\n", 400},
		{"a gzipped body", "POST /v1/poweroff HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"two lengths", "POST /v1/poweroff HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
		{"a length and chunks", "POST /v1/poweroff HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"a signed length", "POST /v1/poweroff HTTP/1.1\r\nContent-Length: +1\r\n\r\na", 400},
		{"an expectation", "POST /v1/poweroff HTTP/1.1\r\nExpect: magic\r\nContent-Length: 1\r\n\r\na", 417},
		{"a large body", "POST /v1/poweroff HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n", 413},
		{"a large chunked body", "POST /v1/poweroff HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n20000\r\n", 413},
		{"a bad chunk size", "POST /v1/poweroff HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
		{"a long chunk size line", "POST /v1/poweroff HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("x", 2000) + "\r\n", 400},
		{"a chunk without its CRLF", "POST /v1/poweroff HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXY0\r\n\r\n", 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("unix", c.Socket)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprint(conn, tt.request)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			var e control.Error
			if resp.StatusCode != tt.code || json.NewDecoder(resp.Body).Decode(&e) != nil || e.Error == "" || !resp.Close {
				t.Errorf("%d %+v close=%v; want %d with a JSON error, closing", resp.StatusCode, e, resp.Close, tt.code)
			}
		})
	}
}

func TestCurlTalksToTheServer(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl")
	}
	b := webBackend()
	b.AddLog("web").Add("hello")
	c := serve(t, b)
	out, err := exec.Command(curl, "-sS", "--fail-with-body", "--unix-socket", c.Socket, "http://init/v1/services", "http://init/v1/logs/web?lines=1").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"name":"web"`) || !strings.Contains(string(out), `"line":"hello"`) {
		t.Errorf("curl: %v\n%s", err, out)
	}
	out, err = exec.Command(curl, "-sS", "-X", "POST", "--unix-socket", c.Socket, "http://init/v1/poweroff").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "poweroff requested") {
		t.Errorf("curl -X POST: %v\n%s", err, out)
	}
}
