package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestApplyWritesEveryKnobAndSkipsOptionalMissingOnes(t *testing.T) {
	dir := t.TempDir()
	procSys := filepath.Join(dir, "proc")
	for _, knob := range []string{"kernel/kptr_restrict", "net/ipv4/ip_forward", "fs/protected_fifos"} {
		os.MkdirAll(filepath.Dir(filepath.Join(procSys, knob)), 0o755)
		os.WriteFile(filepath.Join(procSys, knob), []byte("0\n"), 0o644)
	}
	conf := filepath.Join(dir, "10-test.conf")
	os.WriteFile(conf, []byte(`# comment
; another
kernel.kptr_restrict = 2
net/ipv4/ip_forward=1
-kernel.io_uring_disabled = 2
fs.protected_fifos = 2
vm.no_such_knob = 1
`), 0o644)
	settings, err := parseFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	failed := apply(procSys, settings, slog.New(slog.DiscardHandler))
	if failed != 1 {
		t.Errorf("failed = %d, want 1 (vm.no_such_knob only)", failed)
	}
	for knob, want := range map[string]string{"kernel/kptr_restrict": "2", "net/ipv4/ip_forward": "1", "fs/protected_fifos": "2"} {
		got, _ := os.ReadFile(filepath.Join(procSys, knob))
		if strings.TrimSpace(string(got)) != want {
			t.Errorf("%s = %q, want %q", knob, got, want)
		}
	}
}

func TestParseErrorNamesFileAndLine(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "bad.conf")
	os.WriteFile(conf, []byte("kernel.a = 1\nthis line has no equals sign\n"), 0o644)
	_, err := parseFile(conf)
	if err == nil || !strings.Contains(err.Error(), "bad.conf:2:") {
		t.Fatalf("err = %v, want one naming bad.conf:2", err)
	}
}

// The defaults shipped in the image parse, and only knobs newer than
// Debian 12's kernel are optional.
func TestShippedDefaultsParse(t *testing.T) {
	files, err := confFiles([]string{"../../etc/sysctl.d"})
	if err != nil || len(files) == 0 {
		t.Fatalf("confFiles = %v, %v", files, err)
	}
	for _, f := range files {
		settings, err := parseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(settings) < 10 {
			t.Errorf("%s: %d settings; the KSPP list has more", f, len(settings))
		}
	}
}

func TestConfFilesInNameOrder(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"20-b.conf", "10-a.conf", "README"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	files, err := confFiles([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || filepath.Base(files[0]) != "10-a.conf" || filepath.Base(files[1]) != "20-b.conf" {
		t.Errorf("files = %v, want 10-a.conf then 20-b.conf", files)
	}
}
