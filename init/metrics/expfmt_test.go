package metrics

import (
	"bytes"
	"math"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"

	"github.com/minikit/minikit/internal/control"
)

// expfmtText writes s through Prometheus' own encoder, the output Write
// must match.
func expfmtText(t *testing.T, s control.Metrics) string {
	t.Helper()
	var b bytes.Buffer
	for _, f := range families(s) {
		if len(f.samples) == 0 {
			continue
		}
		if !model.LegacyValidation.IsValidMetricName(f.name) {
			t.Fatalf("%q is no name every parser reads: Write does not quote names", f.name)
		}
		d := &dto.MetricFamily{Name: proto.String(f.name), Help: proto.String(f.help)}
		switch f.typ {
		case "counter":
			d.Type = dto.MetricType_COUNTER.Enum()
		case "gauge":
			d.Type = dto.MetricType_GAUGE.Enum()
		default:
			t.Fatalf("family %s: type %q", f.name, f.typ)
		}
		for _, s := range f.samples {
			m := &dto.Metric{}
			for i := 0; i+1 < len(s.labels); i += 2 {
				if !model.LegacyValidation.IsValidLabelName(s.labels[i]) {
					t.Fatalf("label name %q: Write does not quote names", s.labels[i])
				}
				m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(s.labels[i]), Value: proto.String(s.labels[i+1])})
			}
			if f.typ == "counter" {
				m.Counter = &dto.Counter{Value: proto.Float64(s.value)}
			} else {
				m.Gauge = &dto.Gauge{Value: proto.Float64(s.value)}
			}
			d.Metric = append(d.Metric, m)
		}
		if _, err := expfmt.MetricFamilyToText(&b, d); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func checkMatchesExpfmt(t *testing.T, s control.Metrics) {
	t.Helper()
	var got strings.Builder
	if err := Write(&got, s); err != nil {
		t.Fatal(err)
	}
	if want := expfmtText(t, s); got.String() != want {
		t.Errorf("Write and expfmt differ:\n--- Write\n%s--- expfmt\n%s", got.String(), want)
	}
}

// Write is held to Prometheus' encoder, byte for byte: the escapes of
// label values, the spellings of numbers, the order of lines.
func TestWriteMatchesExpfmt(t *testing.T) {
	checkMatchesExpfmt(t, snapshot())
	checkMatchesExpfmt(t, control.Metrics{})
	odd := snapshot()
	for i, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 1, -1, 0.1, 1e-300, 1e21, 123456789012345678, 5e-324} {
		odd.Services = append(odd.Services, control.Service{Name: "v" + string(rune('a'+i)), UptimeSeconds: v})
	}
	odd.Services = append(odd.Services, control.Service{Name: "new\nline \"quoted\" back\\slash ü \x00"})
	checkMatchesExpfmt(t, odd)
}

func FuzzWriteMatchesExpfmt(f *testing.F) {
	f.Add("sshd", 12.5, "init", uint64(3))
	f.Add(`odd"name\`, math.Inf(-1), "a\nb", uint64(0))
	f.Fuzz(func(t *testing.T, service string, uptime float64, log string, lines uint64) {
		checkMatchesExpfmt(t, control.Metrics{
			Services: []control.Service{{Name: service, UptimeSeconds: uptime, State: control.StateRunning,
				Usage: &control.Usage{MemoryBytes: lines, CPUMicros: lines}}},
			Logs:     []control.LogVolume{{Name: log, Lines: lines, Bytes: lines * 7}},
			Shipping: []control.ShipStats{{Destination: service, DroppedBy: map[string]uint64{log: lines}}},
		})
	})
}
