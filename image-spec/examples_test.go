package imagespec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// examplesDir finds LinuxKit's example specs shared with the team.
func examplesDir(t *testing.T) string {
	t.Helper()
	candidates := []string{
		filepath.Join("..", "..", "..", "shared", "linuxkit-examples"),
		filepath.Join("..", "..", "shared", "linuxkit-examples"),
	}
	if shared := os.Getenv("MINIKIT_SHARED"); shared != "" {
		candidates = []string{filepath.Join(shared, "linuxkit-examples")}
	}
	for _, dir := range candidates {
		if _, err := os.Stat(dir); err == nil {
			return dir
		}
	}
	t.Skipf("LinuxKit examples not found at %s (set MINIKIT_SHARED to the folder holding linuxkit-examples)", strings.Join(candidates, " or "))
	return ""
}

// invalidExamples are examples that are not valid YAML, so LinuxKit cannot
// read them either (its yaml.v3 fails on them too). minikit must reject
// them with a precise position rather than guess what was meant.
var invalidExamples = map[string]string{
	// A comment line at column 0 inside a "|" block scalar ends the scalar;
	// the indented lines after it then belong to nothing.
	"static-ip.yml": "static-ip.yml:28:7: invalid YAML",
}

// Every LinuxKit example must validate, with warnings only for what minikit
// deliberately ignores.
func TestLinuxKitExamplesValidate(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examplesDir(t), "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example specs found: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			s, warns, err := ParseFiles(file)
			if want, invalid := invalidExamples[filepath.Base(file)]; invalid {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("got error %v, want one containing %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("does not validate:\n%v", err)
			}
			for _, w := range warns {
				if !strings.Contains(w.Msg, "unused") {
					t.Errorf("unexpected warning: %s", w)
				}
			}
			if len(s.Onboot)+len(s.Services) == 0 {
				t.Errorf("read no containers")
			}
		})
	}
}
