package imagespec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// FuzzParse feeds arbitrary bytes to Parse, and what parses to OCISpec:
// neither may panic or hang, every problem must be an *Error with a
// position in the file, and a spec that parses must translate or fail
// with an error. CI runs it with -fuzztime=30s; the pauses at 0 execs/sec
// in its output are the fuzzer minimising a new input, not a hang.
func FuzzParse(f *testing.F) {
	f.Add([]byte(service("    capabilities: [all]\n    binds: [\"/a:/b:ro\"]\n    net: new\n")))
	f.Add([]byte("kernel: {image: k:1, modules: [a]}\nfiles:\n  - {path: a, contents: x, mode: \"0644\"}\n"))
	f.Add([]byte("services:\n  - &a {name: a, image: b}\n  - <<: *a\n    name: c\n    dependsOn: [a]\n"))
	f.Add([]byte("a: *b\n"))
	f.Add([]byte("services: [\n"))
	if files, _ := filepath.Glob(filepath.Join("testdata", "*.yml")); len(files) > 0 {
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A hang would only stall the fuzzer; crash instead so that the
		// input is saved under testdata/fuzz.
		watchdog := time.AfterFunc(10*time.Second, func() {
			panic(fmt.Sprintf("Parse or OCISpec still running after 10s on %q", data))
		})
		defer watchdog.Stop()
		s, warns, err := Parse("fuzz.yml", data)
		for _, w := range warns {
			if !strings.HasPrefix(w.Pos, "fuzz.yml") {
				t.Errorf("warning without the file's position: %s", w)
			}
		}
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is not a non-empty Errors: %#v", err)
			}
			for _, e := range errs {
				if !strings.HasPrefix(e.Pos, "fuzz.yml") || e.Msg == "" {
					t.Errorf("error without a position or a message: %#v", e)
				}
			}
			return
		}
		for _, sec := range []struct {
			kind    string
			entries []*Container
		}{{KindOnboot, s.Onboot}, {KindOnshutdown, s.Onshutdown}, {KindService, s.Services}} {
			for _, c := range sec.entries {
				spec, _, err := s.OCISpec(c, v1.Config{Cmd: []string{"/bin/sh"}}, sec.kind)
				if err == nil && (spec.Process == nil || len(spec.Process.Args) == 0 || spec.Root.Path != "rootfs") {
					t.Errorf("translation gave an unusable spec: %+v", spec)
				}
			}
		}
		if _, err := s.YAML(); err != nil {
			t.Errorf("a parsed spec cannot be written back: %v", err)
		}
	})
}
