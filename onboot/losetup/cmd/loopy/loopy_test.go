package main

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func TestParseArgsReadsLinuxKitsCommandLines(t *testing.T) {
	tests := []struct {
		args []string
		want options
	}{
		{[]string{"--create", "/var/external/storage_file"}, options{create: true, sizeMiB: 10, device: "/dev/loop0", file: "/var/external/storage_file"}},
		{[]string{"-c", "/var/test.img"}, options{create: true, sizeMiB: 10, device: "/dev/loop0", file: "/var/test.img"}},
		{[]string{"-cs", "20", "-d", "/dev/loop3", "f"}, options{create: true, sizeMiB: 20, device: "/dev/loop3", file: "f"}},
		{[]string{"f", "--size=64", "--dev", "/dev/loop1"}, options{sizeMiB: 64, device: "/dev/loop1", file: "f"}},
		{[]string{"-s64", "--", "-odd-name"}, options{sizeMiB: 64, device: "/dev/loop0", file: "-odd-name"}},
	}
	for _, tt := range tests {
		got, err := parseArgs(tt.args)
		if err != nil || got != tt.want {
			t.Errorf("parseArgs(%q) = %+v, %v; want %+v", tt.args, got, err, tt.want)
		}
	}
}

func TestParseArgsRefusesWhatGetoptWould(t *testing.T) {
	for _, args := range [][]string{{}, {"-x", "f"}, {"--size"}, {"-s", "ten", "f"}, {"-s", "0", "f"}, {"a", "b"}, {"--bogus", "f"}} {
		if _, err := parseArgs(args); err == nil {
			t.Errorf("parseArgs(%q) accepted", args)
		}
	}
	if _, err := parseArgs([]string{"-h"}); !errors.Is(err, errHelp) {
		t.Errorf("-h: %v, want help", err)
	}
}

func TestCreateFileIsAllocatedZeros(t *testing.T) {
	p := filepath.Join(t.TempDir(), "backing")
	if err := createFile(p, 3<<20); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || len(b) != 3<<20 {
		t.Fatalf("read %d bytes, %v; want 3 MiB", len(b), err)
	}
	for _, c := range b {
		if c != 0 {
			t.Fatal("the file holds something other than zeros")
		}
	}
	if err := createFile(p, 1<<20); err == nil {
		t.Error("createFile overwrote an existing file")
	}
}

func TestAMissingDeviceOrFileIsExitStatusTwo(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	var missing *missingError
	for _, dev := range []string{filepath.Join(dir, "loop0"), "/dev/null"} { // none, a character device
		if err := attach(options{device: dev, file: filepath.Join(dir, "f"), create: true}, log); !errors.As(err, &missing) {
			t.Errorf("device %s: %v, want a missingError", dev, err)
		}
	}
	f := filepath.Join(dir, "f")
	if err := ensureFile(options{file: f}, log); !errors.As(err, &missing) {
		t.Errorf("missing file without --create: %v, want a missingError", err)
	}
	if _, err := os.Stat(f); err == nil {
		t.Error("the file was created without --create")
	}
	if err := ensureFile(options{file: f, create: true, sizeMiB: 1}, log); err != nil {
		t.Errorf("--create: %v", err)
	}
	if fi, err := os.Stat(f); err != nil || fi.Size() != 1<<20 {
		t.Errorf("--create -s 1 made %v, %v; want 1 MiB", fi, err)
	}
	if err := ensureFile(options{file: f}, log); err != nil {
		t.Errorf("an existing file: %v", err)
	}
}
