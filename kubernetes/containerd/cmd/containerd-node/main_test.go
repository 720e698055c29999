package main

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func TestFindArchivesTakesEachDirectoryInNameOrder(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, p := range []string{filepath.Join(a, "z.tar"), filepath.Join(a, "b.tar"), filepath.Join(a, "notes.txt"), filepath.Join(b, "a.tar")} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	got := findArchives(log, []string{a, filepath.Join(a, "missing"), "", b})
	want := []string{filepath.Join(a, "b.tar"), filepath.Join(a, "z.tar"), filepath.Join(b, "a.tar")}
	if !slices.Equal(got, want) {
		t.Errorf("findArchives = %q, want %q", got, want)
	}
}

// containerd-node exits as containerd does, so the supervisor sees why.
func TestRunExitsAsContainerdDoes(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	for cmd, want := range map[string]int{"exit 0": 0, "exit 3": 3, "kill -TERM $$": 128 + 15} {
		if got := run(log, []string{"sh", "-c", cmd}, []string{dir}, filepath.Join(dir, "sock"), "ctr"); got != want {
			t.Errorf("containerd %q: exit %d, want %d", cmd, got, want)
		}
	}
	if got := run(log, []string{filepath.Join(dir, "missing")}, nil, "", ""); got != 1 {
		t.Errorf("a missing containerd: exit %d, want 1", got)
	}
}
