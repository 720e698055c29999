package control

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
)

// FuzzReadRequest reads anything as a request, and its body as an
// endpoint that streams one would: it must not panic, a request it takes
// has a method, and a path that starts with a slash once its target was
// one, and no more of a body is read than the endpoint takes.
func FuzzReadRequest(f *testing.F) {
	for _, s := range []string{
		"GET /v1/services HTTP/1.1\r\nHost: init\r\n\r\n",
		"POST /v1/services/web/stop HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
		"GET /v1/logs/web?lines=2&follow=true HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"GET http://init/v1/analyze HTTP/1.1\r\n\r\n",
		"\r\nGET /%2e%2e HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
		"POST /v1/update HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\n",
		"POST /v1/update HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r := bufio.NewReaderSize(strings.NewReader(in), 64)
		req, err := readRequest(context.Background(), r)
		if err != nil {
			return
		}
		if req.method == "" {
			t.Fatalf("%q: a request without a method", in)
		}
		if strings.HasPrefix(req.rawPath, "/") != strings.HasPrefix(req.path, "/") && !strings.HasPrefix(req.rawPath, "%") {
			t.Fatalf("%q: raw path %q, path %q", in, req.rawPath, req.path)
		}
		_ = req.query("lines")
		if req.length == 0 {
			return
		}
		const most = 100
		b := &body{r: r, chunked: req.length < 0, left: max(req.length, 0), max: most}
		if req.length > most {
			return // refused before it is read
		}
		n, err := io.Copy(io.Discard, b)
		if n > most || b.read > most || (err == nil) != b.done {
			t.Fatalf("%q: read %d (%d) of a body of at most %d, done=%v, %v", in, n, b.read, most, b.done, err)
		}
	})
}

func TestPathValuesAreUnescapedSegments(t *testing.T) {
	var got map[string]string
	mux := &router{fallback: func(responseWriter, *request) { got = nil }}
	mux.handle("POST", PathAction, func(_ responseWriter, r *request) { got = r.values })
	for target, want := range map[string]map[string]string{
		"/v1/services/web/stop":     {"name": "web", "action": "stop"},
		"/v1/services/a%2Fb/start":  {"name": "a/b", "action": "start"},
		"/v1/services/web":          nil,
		"/v1/services//stop":        nil,
		"/v1/services/web/stop/now": nil,
	} {
		r, err := newRequest(context.Background(), "POST", target)
		if err != nil {
			t.Fatal(err)
		}
		got = nil
		mux.serve(nil, r)
		if len(got) != len(want) || got["name"] != want["name"] || got["action"] != want["action"] {
			t.Errorf("%s: values %v, want %v", target, got, want)
		}
	}
}
