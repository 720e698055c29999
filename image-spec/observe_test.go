package imagespec

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestObserveSection(t *testing.T) {
	s, _, err := Parse("t.yml", []byte(`observe:
  logs:
    - syslog+tcp://10.0.2.2:5514
    - json+tcp://collector.example:7000
  logCA: /etc/ssl/collector.pem
  logQueue: 5000
  metrics: 0.0.0.0:9100
`))
	if err != nil {
		t.Fatal(err)
	}
	o := s.Observe
	if o == nil || !slices.Equal(o.Logs, []string{"syslog+tcp://10.0.2.2:5514", "json+tcp://collector.example:7000"}) ||
		o.LogCA != "/etc/ssl/collector.pem" || o.LogQueue != 5000 || o.Metrics != "0.0.0.0:9100" {
		t.Errorf("observe = %+v", o)
	}
}

// Each mistake is named with its place, before anything is built.
func TestObserveSectionErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"observe:\n  logs: [http://x:1]\n", `t.yml:2:10: observe.logs[0]: log destination "http://x:1": unknown kind "http"`},
		{"observe:\n  logs: [syslog+udp://nohost]\n", `observe.logs[0]: log destination "syslog+udp://nohost": "nohost" is not HOST:PORT`},
		{"observe:\n  logCA: certs/ca.pem\n", `observe.logCA: "certs/ca.pem" is not a clean absolute path`},
		{"observe:\n  logQueue: 10\n", "observe.logQueue"},
		{"observe:\n  metrics: localhost:9100\n", `observe.metrics: metrics listener "localhost:9100": "localhost" is not an IP address`},
		{"observe:\n  metrics: :http\n", `port "http" is not a number`},
		{"observe:\n  logz: []\n", "observe.logz"},
	} {
		_, _, err := Parse("t.yml", []byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.src, err, c.want)
		}
	}
}

// A later file adds destinations and replaces the other settings.
func TestObserveMerges(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yml"), filepath.Join(dir, "b.yml")
	os.WriteFile(a, []byte("observe:\n  logs: [json+tcp://a:1]\n  metrics: 127.0.0.1:9100\n"), 0o644)
	os.WriteFile(b, []byte("observe:\n  logs: [json+tcp://b:1, json+tcp://a:1]\n  metrics: :9200\n"), 0o644)
	s, _, err := ParseFiles(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Observe.Logs, []string{"json+tcp://a:1", "json+tcp://b:1"}) || s.Observe.Metrics != ":9200" {
		t.Errorf("merged observe = %+v", s.Observe)
	}
}
