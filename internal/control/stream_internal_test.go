package control

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An endpoint that takes a body streams it, of a length or chunked: the
// update's upload, a bundle of hundreds of MiB that svcctl reads from
// stdin, will be one.

const uploadMax = 64 << 20

type uploaded struct {
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// streamServer serves an upload endpoint that hashes what it reads, one
// that refuses without reading, and one that takes no body.
func streamServer(t *testing.T, lim Limits) string {
	t.Helper()
	s := &Server{Identify: func(net.Conn) *Caller { return nil }, limits: lim, conns: map[net.Conn]bool{}}
	mux := &router{fallback: noEndpoint}
	mux.handleBody("POST", "/v1/upload", uploadMax, func(w responseWriter, r *request) {
		h := sha256.New()
		n, err := io.Copy(h, r.body)
		if err != nil {
			bodyError(w, err)
			return
		}
		writeJSON(w, 200, uploaded{n, hex.EncodeToString(h.Sum(nil))})
	})
	mux.handleBody("POST", "/v1/refuse", uploadMax, func(w responseWriter, r *request) {
		writeError(w, 403, "not you")
	})
	mux.handle("GET", "/v1/ping", func(w responseWriter, r *request) { writeJSON(w, 200, "pong") })
	socket := filepath.Join(t.TempDir(), "control.sock")
	if err := s.serveWith(socket, nil, mux.serve); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return socket
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(b)
	return b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestSvcctlsClientStreamsABodyOfUnknownLength(t *testing.T) {
	socket := streamServer(t, DefaultLimits)
	data := randomBytes(24<<20 + 12345)
	// A pipe, as stdin: no length, reads of any size.
	pr, pw := io.Pipe()
	go func() {
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1+rand.IntN(100<<10))
			pw.Write(rest[:n])
			rest = rest[n:]
		}
		pw.Close()
	}()
	var got uploaded
	if err := NewClient(socket).Upload(context.Background(), "/v1/upload", pr, &got); err != nil {
		t.Fatal(err)
	}
	if got.Bytes != int64(len(data)) || got.SHA256 != sum(data) {
		t.Errorf("the server read %+v, want %d bytes of %s", got, len(data), sum(data))
	}
}

func TestNetHTTPStreamsBodiesOfALengthAndChunked(t *testing.T) {
	socket := streamServer(t, DefaultLimits)
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConnsPerHost: 1,
	}}
	data := randomBytes(8 << 20)
	for _, tt := range []struct {
		name string
		body io.Reader
	}{
		{"of a length", bytes.NewReader(data)},
		{"chunked", io.MultiReader(bytes.NewReader(data))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // the connection is kept for the next
				resp, err := hc.Post("http://init/v1/upload", "application/octet-stream", tt.body)
				if err != nil {
					t.Fatal(err)
				}
				var got uploaded
				err = json.NewDecoder(resp.Body).Decode(&got)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || resp.Close || got.Bytes != int64(len(data)) || got.SHA256 != sum(data) {
					t.Fatalf("%d close=%v %+v %v", resp.StatusCode, resp.Close, got, err)
				}
				tt.body = bytes.NewReader(data)
				if tt.name == "chunked" {
					tt.body = io.MultiReader(tt.body)
				}
			}
		})
	}
}

// rawExchange sends request on a new connection, and returns the answer
// and whether the server closed the connection after it.
func rawExchange(t *testing.T, socket, request string) (*http.Response, string, bool) {
	t.Helper()
	conn, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go io.WriteString(conn, request) // the server may answer before it reads it all
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if !resp.Close {
		return resp, string(body), false
	}
	// A server that closes with some of the request unread resets the
	// connection, after its answer.
	_, err = br.ReadByte()
	return resp, string(body), err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

func TestStreamedBodiesAreBounded(t *testing.T) {
	socket := streamServer(t, DefaultLimits)
	chunked := "POST /v1/upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, tt := range []struct {
		name, request string
		code          int
		want          string
	}{
		{"chunks with extensions and a trailer", chunked + "3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 1\r\n\r\n", 200, `"bytes":5`},
		{"a length over the endpoint's", fmt.Sprintf("POST /v1/upload HTTP/1.1\r\nContent-Length: %d\r\n\r\n", uploadMax+1), 413, ""},
		{"a chunk over the endpoint's", chunked + fmt.Sprintf("%x\r\n", uploadMax+1), 413, ""},
		{"a huge chunk size", chunked + "fffffffffffffffffff\r\n", 400, "chunk size"},
		{"a negative chunk size", chunked + "-1\r\n", 400, "chunk size"},
		{"a chunk size line without end", chunked + "1" + strings.Repeat(" ", 4000), 400, "too long"},
		{"a trailer without end", chunked + "0\r\n" + strings.Repeat("X: y\r\n", 1000), 400, "trailer"},
		{"a body cut short", chunked + "10\r\nabc", 400, "unexpected EOF"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.request
			if tt.name == "a body cut short" {
				req = "" // sent below, then the sending side closed
			}
			var resp *http.Response
			var body string
			var closed bool
			if req == "" {
				conn, err := net.Dial("unix", socket)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				io.WriteString(conn, tt.request)
				conn.(*net.UnixConn).CloseWrite()
				br := bufio.NewReader(conn)
				if resp, err = http.ReadResponse(br, nil); err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				body, closed = string(b), resp.Close
			} else {
				resp, body, closed = rawExchange(t, socket, req)
			}
			if resp.StatusCode != tt.code || !strings.Contains(body, tt.want) {
				t.Errorf("%d %s; want %d with %q", resp.StatusCode, body, tt.code, tt.want)
			}
			if tt.code != 200 && (!closed || !resp.Close) {
				t.Errorf("the connection stays open after a %d", resp.StatusCode)
			}
		})
	}
}

func TestARefusalBeforeTheBodyReachesTheClient(t *testing.T) {
	socket := streamServer(t, DefaultLimits)
	// More than the socket's buffers hold: the send fails once the
	// server closes, and the client still reports the server's answer.
	err := NewClient(socket).Upload(context.Background(), "/v1/refuse", io.MultiReader(bytes.NewReader(randomBytes(32<<20))), nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != 403 || ae.Body.Error != "not you" {
		t.Errorf("upload refused: %v; want the API's 403", err)
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("stdin broke")
	}
	f.n--
	return copy(p, "some bytes"), nil
}

func TestAFailedReadEndsTheUploadWithItsError(t *testing.T) {
	socket := streamServer(t, DefaultLimits)
	err := NewClient(socket).Upload(context.Background(), "/v1/upload", &failingReader{n: 3}, nil)
	if err == nil || !strings.Contains(err.Error(), "stdin broke") {
		t.Errorf("upload from a reader that fails: %v", err)
	}
}

func TestACallerThatStopsSendingIsDropped(t *testing.T) {
	lim := DefaultLimits
	lim.ReadTimeout = 50 * time.Millisecond
	socket := streamServer(t, lim)
	conn, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "POST /v1/upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
	conn.SetReadDeadline(time.Now().Add(time.Minute)) // only so that a broken server fails
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 400 || !resp.Close || !strings.Contains(string(b), "timeout") {
		t.Errorf("%d close=%v %s; want 400 for a timeout, closing", resp.StatusCode, resp.Close, b)
	}
}

func TestExpectContinueIsMetWhenTheBodyIsRead(t *testing.T) {
	socket := streamServer(t, DefaultLimits)
	for _, tt := range []struct {
		path      string
		continue_ bool
		code      int
	}{
		{"/v1/upload", true, 200},
		{"/v1/refuse", false, 403},
		{"/v1/ping", false, 200}, // answered at once, the body never asked for
	} {
		conn, err := net.Dial("unix", socket)
		if err != nil {
			t.Fatal(err)
		}
		method := "POST"
		if tt.path == "/v1/ping" {
			method = "GET"
		}
		fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n", method, tt.path)
		conn.SetReadDeadline(time.Now().Add(time.Minute))
		br := bufio.NewReader(conn)
		status, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.HasPrefix(status, "HTTP/1.1 100 "); got != tt.continue_ {
			t.Errorf("%s: %q first; want 100 Continue: %v", tt.path, status, tt.continue_)
		}
		if tt.continue_ {
			br.ReadString('\n') // its blank line
			io.WriteString(conn, "abc")
			status, _ = br.ReadString('\n')
		}
		if !strings.HasPrefix(status, fmt.Sprintf("HTTP/1.1 %d ", tt.code)) {
			t.Errorf("%s: %q; want %d", tt.path, status, tt.code)
		}
		conn.Close()
	}
}
