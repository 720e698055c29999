package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseArgsTakesLinuxKitsCommandLines(t *testing.T) {
	o, err := parseArgs([]string{"--path", "/var/external/swap", "--size", "1G", "--encrypt"})
	if err != nil || o.path != "/var/external/swap" || o.size != 1<<30 || !o.encrypt {
		t.Errorf("swap.yml's command: %+v, %v", o, err)
	}
	o, err = parseArgs([]string{"--path", "/var/lib/swap", "--size", "1024M", "--condition", "part:/var/lib:true", "--condition", "partsize:/var/lib:100G"})
	if err != nil || o.size != 1<<30 || len(o.conditions) != 2 {
		t.Fatalf("%+v, %v", o, err)
	}
	if c := o.conditions[0]; c.kind != "part" || c.path != "/var/lib" || !c.required {
		t.Errorf("part condition = %+v", c)
	}
	if c := o.conditions[1]; c.kind != "partsize" || c.minSize != 100<<30 || c.required {
		t.Errorf("partsize condition = %+v", c)
	}
}

func TestParseArgsRefusesWhatSwapShRefuses(t *testing.T) {
	for _, args := range [][]string{
		{"--size", "1G"},                             // no path
		{"--path", "/tmp/swap", "--size", "1G"},      // not under /var
		{"--path", "/var/", "--size", "1G"},          // no file name
		{"--path", "/var/swap"},                      // no size
		{"--path", "/var/swap", "--size", "1T"},      // unknown unit
		{"--path", "/var/swap", "--size", "-5"},      // negative
		{"--path", "/var/swap", "--size", "1G", "x"}, // stray argument
		{"--path", "/var/swap", "--size", "1G", "--condition", "nfs:/var"},
		{"--path", "/var/swap", "--size", "1G", "--condition", "partsize:/var"},
		{"--path", "/var/swap", "--size", "1G", "--bogus"},
	} {
		if _, err := parseArgs(args); err == nil {
			t.Errorf("parseArgs(%q) accepted", args)
		}
	}
}

type fakeSystem struct {
	mountPoints map[string]bool
	fsSize      int64
	swapped     []string
	mapped      string // MapEncrypted's device, a file of the test's
}

func (f *fakeSystem) IsMountPoint(p string) (bool, error)  { return f.mountPoints[p], nil }
func (f *fakeSystem) FilesystemSize(string) (int64, error) { return f.fsSize, nil }
func (f *fakeSystem) Swapon(device string) error           { f.swapped = append(f.swapped, device); return nil }
func (f *fakeSystem) MapEncrypted(file string) (string, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return "", err
	}
	return f.mapped, os.WriteFile(f.mapped, make([]byte, fi.Size()), 0o600)
}

func newSwapper(t *testing.T, sys *fakeSystem, args ...string) (*swapper, string) {
	dir := t.TempDir()
	path := filepath.Join(dir, "swap")
	o, err := parseArgs(append([]string{"--path", "/var/swap"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	o.path = path // parseArgs insists on /var; the test's file is elsewhere
	sys.mapped = filepath.Join(dir, "mapper-swapfile")
	return &swapper{opts: o, sys: sys, log: slog.New(slog.DiscardHandler)}, path
}

func TestRunMakesTheFileWritesAHeaderAndEnablesIt(t *testing.T) {
	sys := &fakeSystem{}
	s, path := newSwapper(t, sys, "--size", "64K")
	if err := s.run(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != 64<<10 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("swap file: %v, %v; want 64 KiB, 0600", fi, err)
	}
	b, _ := os.ReadFile(path)
	if !bytes.Equal(b[pageSize-10:pageSize], []byte("SWAPSPACE2")) {
		t.Error("no SWAPSPACE2 signature")
	}
	if v, last := binary.LittleEndian.Uint32(b[1024:]), binary.LittleEndian.Uint32(b[1028:]); v != 1 || last != 15 {
		t.Errorf("header version %d, last_page %d; want 1, 15", v, last)
	}
	if len(sys.swapped) != 1 || sys.swapped[0] != path {
		t.Errorf("swapon %v, want %s", sys.swapped, path)
	}

	// The next boot finds it ready: no new header (its UUID stays).
	uuid := append([]byte(nil), b[1036:1052]...)
	if err := s.run(); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	if !bytes.Equal(b[1036:1052], uuid) {
		t.Error("a ready swap file was made again")
	}
}

func TestEncryptedSwapGetsAHeaderEveryBoot(t *testing.T) {
	sys := &fakeSystem{}
	s, _ := newSwapper(t, sys, "--size", "64K", "--encrypt")
	for boot := 0; boot < 2; boot++ {
		if err := s.run(); err != nil {
			t.Fatal(err)
		}
		if !hasSwapHeader(sys.mapped) {
			t.Fatalf("boot %d: the mapped device has no swap header", boot)
		}
		os.WriteFile(sys.mapped, make([]byte, 64<<10), 0o600) // a new key: noise
	}
	if len(sys.swapped) != 2 || sys.swapped[0] != sys.mapped {
		t.Errorf("swapon %v, want the mapped device twice", sys.swapped)
	}
}

func TestConditionsDecideQuietlyOrLoudly(t *testing.T) {
	var unmet *unmetError
	sys := &fakeSystem{mountPoints: map[string]bool{"/var/external": true}, fsSize: 1 << 30}

	s, path := newSwapper(t, sys, "--size", "64K", "--condition", "part:/var/lib")
	if err := s.run(); !errors.As(err, &unmet) || unmet.required {
		t.Errorf("unmet part condition: %v, want a quiet one", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("a swap file was made though a condition failed")
	}
	s, _ = newSwapper(t, sys, "--size", "64K", "--condition", "partsize:/var/external:2G:true")
	if err := s.run(); !errors.As(err, &unmet) || !unmet.required || !strings.Contains(err.Error(), "fewer than") {
		t.Errorf("unmet required partsize: %v", err)
	}
	s, _ = newSwapper(t, sys, "--size", "64K", "--condition", "part:/var/external:true", "--condition", "partsize:/var/external:512M")
	if err := s.run(); err != nil || len(sys.swapped) != 1 {
		t.Errorf("conditions that hold: %v, swapon %v", err, sys.swapped)
	}
}

func TestTooSmallForSwap(t *testing.T) {
	s, _ := newSwapper(t, &fakeSystem{}, "--size", "8K")
	if err := s.run(); err == nil || !strings.Contains(err.Error(), "too small") {
		t.Errorf("run = %v, want too small", err)
	}
}
