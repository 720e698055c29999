package imagespec

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/minikit/minikit/internal/testenv"
)

// repairedExamples are examples that are not valid YAML as written, and
// the warning minikit gives as it reads them the way their authors meant.
var repairedExamples = map[string]string{
	// A comment line at column 0 inside a "|" block scalar.
	"static-ip.yml": "static-ip.yml:27:1: a comment at column 0 inside a block scalar",
}

// Every LinuxKit example must validate, with warnings only for what minikit
// deliberately ignores.
func TestLinuxKitExamplesValidate(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testenv.LinuxKitExamples(t), "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example specs found: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			s, warns, err := ParseFiles(file)
			if err != nil {
				t.Fatalf("does not validate:\n%v", err)
			}
			repair, repaired := repairedExamples[filepath.Base(file)]
			sawRepair := false
			for _, w := range warns {
				switch {
				case repaired && strings.Contains(w.String(), repair):
					sawRepair = true
				case !strings.Contains(w.Msg, "unused"):
					t.Errorf("unexpected warning: %s", w)
				}
			}
			if repaired && !sawRepair {
				t.Errorf("no warning %q", repair)
			}
			if len(s.Onboot)+len(s.Services) == 0 {
				t.Errorf("read no containers")
			}
		})
	}
}
