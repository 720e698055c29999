package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunWritesEverySettingAndCountsFailures(t *testing.T) {
	dir := t.TempDir()
	sys := filepath.Join(dir, "sys")
	for _, attr := range []string{"kernel/mm/transparent_hugepage/enabled", "block/vda/queue/scheduler"} {
		os.MkdirAll(filepath.Dir(filepath.Join(sys, attr)), 0o755)
		os.WriteFile(filepath.Join(sys, attr), []byte("always"), 0o644)
	}
	conf := filepath.Join(dir, "conf")
	os.MkdirAll(conf, 0o755)
	os.WriteFile(filepath.Join(conf, "10-a.conf"), []byte(`# comment
kernel/mm/transparent_hugepage/enabled = madvise

  # indented comment
kernel/no/such/attribute = 1
`), 0o644)
	os.WriteFile(filepath.Join(conf, "20-b"), []byte("/block/vda/queue/scheduler=none\n"), 0o644)

	failed := run(conf, sys, slog.New(slog.DiscardHandler))
	if failed != 1 {
		t.Errorf("failed = %d, want 1 (the missing attribute)", failed)
	}
	for attr, want := range map[string]string{"kernel/mm/transparent_hugepage/enabled": "madvise", "block/vda/queue/scheduler": "none"} {
		got, _ := os.ReadFile(filepath.Join(sys, attr))
		if string(got) != want {
			t.Errorf("%s = %q, want %q", attr, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(sys, "kernel/no/such/attribute")); err == nil {
		t.Error("a missing attribute was created")
	}
}

func TestParseRefusesPathsOutsideSysfsAndLinesWithoutValue(t *testing.T) {
	for _, line := range []string{"../../etc/passwd = x", "kernel/mm/transparent_hugepage/enabled", " = 1"} {
		conf := filepath.Join(t.TempDir(), "bad.conf")
		os.WriteFile(conf, []byte("# ok\n"+line+"\n"), 0o644)
		if _, err := parseFile(conf); err == nil || !strings.Contains(err.Error(), "bad.conf:2:") {
			t.Errorf("%q: err = %v, want one naming bad.conf:2", line, err)
		}
	}
}

func TestMissingConfigDirFails(t *testing.T) {
	if failed := run(filepath.Join(t.TempDir(), "none"), t.TempDir(), slog.New(slog.DiscardHandler)); failed != 1 {
		t.Errorf("failed = %d, want 1", failed)
	}
}

// The defaults shipped in the image parse.
func TestShippedDefaultsParse(t *testing.T) {
	settings, err := parseFile("../../etc/sysfs.d/00-moby.conf")
	if err != nil || len(settings) != 2 {
		t.Fatalf("parseFile = %v, %v; want LinuxKit's two settings", settings, err)
	}
}
