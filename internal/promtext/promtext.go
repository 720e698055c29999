// Package promtext writes metrics in Prometheus' text exposition format
// (version 0.0.4), which every Prometheus server and most agents scrape.
//
// Prometheus' own encoder (prometheus/common/expfmt) works on its
// protobuf data model and brings the protobuf runtime with it: 4 MB more
// in PID 1, whose size the project keeps under 8 MiB. The format is a few
// lines of text, written here; its tests parse what it writes with
// expfmt's parser, so that it stays what Prometheus reads.
package promtext

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// The metric types the format names.
const (
	Counter = "counter"
	Gauge   = "gauge"
)

// Family is one metric: its name, help text, type and samples.
type Family struct {
	Name    string
	Help    string
	Type    string // Counter or Gauge
	Samples []Sample
}

// Sample is one value of a family, with its labels, in the order given.
type Sample struct {
	Labels []Label
	Value  float64
}

// Label is one name="value" pair.
type Label struct{ Name, Value string }

// L makes labels from name, value pairs.
func L(pairs ...string) []Label {
	var out []Label
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, Label{pairs[i], pairs[i+1]})
	}
	return out
}

// Write writes the families in the order given. A name that the format
// does not allow is an error, and nothing after it is written.
func Write(w io.Writer, families []Family) error {
	bw := bufio.NewWriter(w)
	for _, f := range families {
		if !validName(f.Name, true) {
			return fmt.Errorf("promtext: %q is not a metric name", f.Name)
		}
		if f.Type != Counter && f.Type != Gauge {
			return fmt.Errorf("promtext: %s: unknown type %q", f.Name, f.Type)
		}
		if f.Help != "" {
			fmt.Fprintf(bw, "# HELP %s %s\n", f.Name, escapeHelp(f.Help))
		}
		fmt.Fprintf(bw, "# TYPE %s %s\n", f.Name, f.Type)
		for _, s := range f.Samples {
			bw.WriteString(f.Name)
			if len(s.Labels) > 0 {
				bw.WriteByte('{')
				for i, l := range s.Labels {
					if !validName(l.Name, false) {
						return fmt.Errorf("promtext: %s: %q is not a label name", f.Name, l.Name)
					}
					if i > 0 {
						bw.WriteByte(',')
					}
					bw.WriteString(l.Name)
					bw.WriteString(`="`)
					bw.WriteString(escapeValue(l.Value))
					bw.WriteByte('"')
				}
				bw.WriteByte('}')
			}
			bw.WriteByte(' ')
			bw.WriteString(formatValue(s.Value))
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

// validName checks a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or a label
// name (the same without ':').
func validName(s string, metric bool) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (metric && c == ':') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeValue(s string) string { return valueEscaper.Replace(s) }

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, +1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
