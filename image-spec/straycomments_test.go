package imagespec

import (
	"strings"
	"testing"
)

func TestStrayCommentInABlockScalarIsReadAsText(t *testing.T) {
	spec := "files:\n  - path: etc/resolv.conf\n    contents: |\n#      domain test.local\n      nameserver 10.0.0.1\n"
	s, warns, err := Parse("x.yml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := *s.Files[0].Contents, "#      domain test.local\nnameserver 10.0.0.1\n"; got != want {
		t.Errorf("contents = %q, want %q", got, want)
	}
	if len(warns) != 1 || !strings.HasPrefix(warns[0].String(), "x.yml:4:1:") {
		t.Errorf("warnings = %v, want one at x.yml:4:1", warns)
	}
}

func TestBrokenYAMLStaysAnErrorAfterTheRepairIsTried(t *testing.T) {
	spec := "onboot:\n  - name: a\n#  note\n    image: [unclosed\n"
	if _, _, err := Parse("y.yml", []byte(spec)); err == nil || !strings.Contains(err.Error(), "y.yml:") {
		t.Fatalf("got %v, want a positioned error", err)
	}
}
