package control_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/minikit/minikit/internal/control"
)

// The TCP listener is reachable by anyone who can reach the machine: it
// serves the metrics and nothing else of the API.
func TestMetricsOverTCPServeTheMetricsAlone(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	control.ServeMetrics(l, func(w io.Writer) error {
		_, err := io.WriteString(w, "minikit_init_goroutines 7\n")
		return err
	}, control.DefaultLimits, nil)
	base := "http://" + l.Addr().String()
	for _, path := range []string{"/metrics", control.PathMetrics} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != control.MetricsContentType || string(body) != "minikit_init_goroutines 7\n" {
			t.Errorf("GET %s: %s %q %q", path, resp.Status, resp.Header.Get("Content-Type"), body)
		}
	}
	for _, c := range []struct{ method, path string }{
		{"GET", control.PathServices}, {"GET", "/v1/logs/sshd"}, {"POST", control.PathPoweroff},
		{"POST", "/v1/services/sshd/stop"}, {"POST", "/metrics"}, {"GET", "/metrics/../v1/services"},
	} {
		req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(""))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("%s %s over TCP: %s, want 404", c.method, c.path, resp.Status)
		}
	}
}
