package supervisor

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/bundle"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func writeTestBundle(t *testing.T, annotations map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	spec := specs.Spec{Root: &specs.Root{Path: "rootfs"}, Process: &specs.Process{Args: []string{"/bin/true"}}, Annotations: annotations}
	data, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestTheSupervisionPolicyComesFromTheAnnotations(t *testing.T) {
	cfg := LoadConfig("web", writeTestBundle(t, map[string]string{
		bundle.AnnotationRestart:     "on-failure",
		bundle.AnnotationStopSignal:  "SIGQUIT",
		bundle.AnnotationStopTimeout: "20",
		bundle.AnnotationDependsOn:   "db, cache",
		bundle.AnnotationNotify:      "true",
	}))
	if cfg.err != nil || cfg.restart.policy != restartOnFailure || cfg.stopSignal != unix.SIGQUIT ||
		cfg.stopTimeout != 20*time.Second || strings.Join(cfg.dependsOn, "+") != "db+cache" || !cfg.notify {
		t.Errorf("config: %+v", cfg)
	}

	def := LoadConfig("plain", writeTestBundle(t, nil))
	if def.err != nil || def.restart != defaultRestarter || def.stopSignal != unix.SIGTERM || def.stopTimeout != 10*time.Second || def.notify {
		t.Errorf("defaults: %+v", def)
	}

	bad := LoadConfig("bad", writeTestBundle(t, map[string]string{
		bundle.AnnotationRestart:     "sometimes",
		bundle.AnnotationStopSignal:  "SIGNOPE",
		bundle.AnnotationStopTimeout: "-1",
	}))
	for _, want := range []string{"sometimes", "SIGNOPE", `"-1"`} {
		if bad.err == nil || !strings.Contains(bad.err.Error(), want) {
			t.Errorf("a bad bundle's error %v does not name %s", bad.err, want)
		}
	}
	if missing := LoadConfig("gone", t.TempDir()); missing.err == nil {
		t.Error("a bundle without config.json loads without error")
	}
}
