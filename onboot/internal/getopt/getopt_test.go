package getopt

import (
	"reflect"
	"testing"
)

var loopy = []Option{{Short: 'c', Long: "create"}, {Short: 's', Long: "size", Value: true}, {Short: 'd', Long: "dev", Value: true}, {Short: 'h', Long: "help"}}

func TestParseReadsWhatGetoptReads(t *testing.T) {
	tests := []struct {
		args     []string
		options  map[string][]string
		operands []string
	}{
		{[]string{"--create", "/var/f"}, map[string][]string{"create": {""}}, []string{"/var/f"}},
		{[]string{"-cs", "20", "f"}, map[string][]string{"create": {""}, "size": {"20"}}, []string{"f"}},
		{[]string{"-s20", "f", "--dev=/dev/loop1", "--size", "30"}, map[string][]string{"size": {"20", "30"}, "dev": {"/dev/loop1"}}, []string{"f"}},
		{[]string{"-c", "--", "-f", "--size"}, map[string][]string{"create": {""}}, []string{"-f", "--size"}},
		{[]string{"-", "f"}, map[string][]string{}, []string{"-", "f"}},
	}
	for _, tt := range tests {
		r, err := Parse(tt.args, loopy)
		if err != nil || !reflect.DeepEqual(r.Options, tt.options) || !reflect.DeepEqual(r.Operands, tt.operands) {
			t.Errorf("Parse(%q) = %v %q, %v; want %v %q", tt.args, r.Options, r.Operands, err, tt.options, tt.operands)
		}
	}
}

func TestParseRefusesWhatGetoptRefuses(t *testing.T) {
	for _, args := range [][]string{{"-x"}, {"--bogus"}, {"-s"}, {"--size"}, {"-cs"}, {"--create=yes"}} {
		if _, err := Parse(args, loopy); err == nil {
			t.Errorf("Parse(%q) accepted", args)
		}
	}
}

func TestHasAndLast(t *testing.T) {
	r, _ := Parse([]string{"-s", "1", "-s", "2"}, loopy)
	if !r.Has("size") || r.Has("create") || r.Last("size", "10") != "2" || r.Last("dev", "/dev/loop0") != "/dev/loop0" {
		t.Errorf("Has/Last wrong on %v", r.Options)
	}
}
