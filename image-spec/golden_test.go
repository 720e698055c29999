package imagespec

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// nginxConfig is an image config like nginx:alpine's, with a label giving
// defaults that the representative entry partly overrides.
var nginxConfig = v1.Config{
	Entrypoint: []string{"/docker-entrypoint.sh"},
	Cmd:        []string{"nginx", "-g", "daemon off;"},
	Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NGINX_VERSION=1.27.0"},
	WorkingDir: "/",
	User:       "101:101",
	Labels: map[string]string{LabelKey: `{
		"capabilities": ["CAP_CHOWN", "CAP_DAC_OVERRIDE"],
		"binds": ["/etc/ssl:/etc/ssl:ro"],
		"runtime": {"cgroups": ["web"]},
		"stopTimeout": 5
	}`},
}

// The config.json and runtime.json of a representative entry are exactly
// what we expect. Run with -update after a deliberate change, and read the
// diff.
func TestGoldenConfig(t *testing.T) {
	s, _, err := ParseFiles(filepath.Join("testdata", "representative.yml"))
	if err != nil {
		t.Fatal(err)
	}
	spec, rt, err := s.OCISpec(s.Services[0], nginxConfig, KindService)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{"representative.config.json": spec, "representative.runtime.json": rt} {
		got, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		golden := filepath.Join("testdata", name+".golden")
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -run TestGoldenConfig -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (run with -update if the change is meant):\n%s", name, golden, lineDiff(string(want), string(got)))
		}
	}
}

// lineDiff shows the first lines that differ, enough to see what changed.
func lineDiff(want, got string) string {
	w, g := bytes.Split([]byte(want), []byte("\n")), bytes.Split([]byte(got), []byte("\n"))
	var out bytes.Buffer
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl []byte
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if !bytes.Equal(wl, gl) {
			out.WriteString("line " + strconv.Itoa(i+1) + ":\n  want " + string(wl) + "\n  got  " + string(gl) + "\n")
			shown++
		}
	}
	return out.String()
}
