package metrics

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/minikit/minikit/internal/control"
)

var update = flag.Bool("update", false, "rewrite the golden file")

func snapshot() control.Metrics {
	two, sig := 2, 137
	return control.Metrics{
		Services: []control.Service{
			{Name: "sshd", State: control.StateRunning, Ready: true, Restarts: 0, UptimeSeconds: 12.5,
				Usage: &control.Usage{MemoryBytes: 4 << 20, CPUMicros: 250000, Pids: 1}},
			{Name: "crasher", State: control.StateBackoff, Restarts: 3, LastExit: &two},
			{Name: `odd"name\`, State: control.StateFailed, LastExit: &sig,
				Usage: &control.Usage{MemoryBytes: 1, MemoryLimit: 64 << 20, CPUMicros: 1, Pids: 0}},
		},
		Logs: []control.LogVolume{{Name: "sshd", Lines: 10, Bytes: 400}, {Name: "init", Lines: 50, Bytes: 3000}},
		Shipping: []control.ShipStats{{Destination: "syslog+tcp://10.0.2.2:5514", Connected: true, Queued: 2, Sent: 58,
			Dropped: 5, DroppedBy: map[string]uint64{"sshd": 1, "init": 4}}},
		Phases: []control.Phase{{Name: "onboot", Start: time.Second, End: 2500 * time.Millisecond}, {Name: "going", Start: 3 * time.Second}},
		Init:   control.InitMemory{RSSBytes: 8 << 20, HeapBytes: 3 << 20, Goroutines: 17},
	}
}

// The names, labels and order are what dashboards and alerts are written
// against: a change shows here first.
func TestMetricsAreStable(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, snapshot()); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "metrics.golden")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("metrics differ from %s (go test -update to accept):\n%s", golden, b.String())
	}
}

// What is written is what a Prometheus server reads back, values and
// awkward label values included.
func TestMetricsParseBack(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, snapshot()); err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("Prometheus cannot read the metrics: %v\n%s", err, b.String())
	}
	find := func(family string, labels map[string]string) (float64, bool) {
		f := fams[family]
		if f == nil {
			return 0, false
		}
	metric:
		for _, m := range f.Metric {
			got := map[string]string{}
			for _, l := range m.Label {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue metric
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue(), true
			}
			return m.Gauge.GetValue(), true
		}
		return 0, false
	}
	for _, c := range []struct {
		family string
		labels map[string]string
		want   float64
	}{
		{"minikit_service_restarts_total", map[string]string{"service": "crasher"}, 3},
		{"minikit_service_state", map[string]string{"service": "crasher", "state": "backoff"}, 1},
		{"minikit_service_state", map[string]string{"service": "crasher", "state": "running"}, 0},
		{"minikit_service_last_exit_code", map[string]string{"service": `odd"name\`}, 137},
		{"minikit_service_cpu_seconds_total", map[string]string{"service": "sshd"}, 0.25},
		{"minikit_logship_dropped_lines_total", map[string]string{"log": "init"}, 4},
		{"minikit_boot_phase_seconds", map[string]string{"phase": "onboot"}, 1.5},
		{"minikit_init_goroutines", nil, 17},
	} {
		if v, ok := find(c.family, c.labels); !ok || v != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.family, c.labels, v, ok, c.want)
		}
	}
	if _, ok := find("minikit_boot_phase_seconds", map[string]string{"phase": "going"}); ok {
		t.Error("a phase still going has a duration")
	}
	if _, ok := find("minikit_service_last_exit_code", map[string]string{"service": "sshd"}); ok {
		t.Error("a service that never exited has a last exit code")
	}
}
