package promtext

import (
	"math"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var families = []Family{
	{Name: "minikit_service_restarts_total", Help: "Restarts of each service since boot.", Type: Counter, Samples: []Sample{
		{Labels: L("service", "sshd"), Value: 3},
		{Labels: L("service", `odd "name"\with
newline`), Value: 0},
	}},
	{Name: "minikit_init_goroutines", Help: "Goroutines in PID 1,\nand a backslash \\.", Type: Gauge, Samples: []Sample{{Value: 42}}},
	{Name: "minikit_boot_phase_seconds", Type: Gauge, Samples: []Sample{
		{Labels: L("phase", "root mount"), Value: 0.381},
		{Labels: L("phase", "never"), Value: math.Inf(1)},
	}},
}

const golden = `# HELP minikit_service_restarts_total Restarts of each service since boot.
# TYPE minikit_service_restarts_total counter
minikit_service_restarts_total{service="sshd"} 3
minikit_service_restarts_total{service="odd \"name\"\\with\nnewline"} 0
# HELP minikit_init_goroutines Goroutines in PID 1,\nand a backslash \\.
# TYPE minikit_init_goroutines gauge
minikit_init_goroutines 42
# TYPE minikit_boot_phase_seconds gauge
minikit_boot_phase_seconds{phase="root mount"} 0.381
minikit_boot_phase_seconds{phase="never"} +Inf
`

func TestWriteMatchesTheGoldenText(t *testing.T) {
	var b strings.Builder
	if err := Write(&b, families); err != nil {
		t.Fatal(err)
	}
	if b.String() != golden {
		t.Errorf("got\n%s\nwant\n%s", b.String(), golden)
	}
}

// Prometheus' own parser reads back every family, label and value.
func TestPrometheusReadsWhatIsWritten(t *testing.T) {
	var b strings.Builder
	if err := Write(&b, families); err != nil {
		t.Fatal(err)
	}
	// The legacy names, the strictest scheme: what every scraper reads.
	parser := expfmt.NewTextParser(model.LegacyValidation)
	parsed, err := parser.TextToMetricFamilies(strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("expfmt refuses it: %v\n%s", err, b.String())
	}
	r := parsed["minikit_service_restarts_total"]
	if r == nil || len(r.Metric) != 2 || r.Metric[1].Label[0].GetValue() != "odd \"name\"\\with\nnewline" || r.Metric[0].Counter.GetValue() != 3 {
		t.Errorf("restarts read back as %v", r)
	}
	if g := parsed["minikit_init_goroutines"]; g.GetHelp() != "Goroutines in PID 1,\nand a backslash \\." || g.Metric[0].Gauge.GetValue() != 42 {
		t.Errorf("goroutines read back as %v", g)
	}
	if p := parsed["minikit_boot_phase_seconds"]; !math.IsInf(p.Metric[1].Gauge.GetValue(), 1) {
		t.Errorf("phases read back as %v", p)
	}
}

func TestWriteRefusesWhatIsNoName(t *testing.T) {
	for _, f := range []Family{
		{Name: "", Type: Gauge},
		{Name: "9lives", Type: Gauge},
		{Name: "a-b", Type: Gauge},
		{Name: "ok", Type: "histogram"},
		{Name: "ok", Type: Gauge, Samples: []Sample{{Labels: L("bad-label", "x")}}},
		{Name: "ok", Type: Gauge, Samples: []Sample{{Labels: L("a:b", "x")}}},
	} {
		if err := Write(&strings.Builder{}, []Family{f}); err == nil {
			t.Errorf("%+v was written", f)
		}
	}
}
