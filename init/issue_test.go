package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestShowIssue(t *testing.T) {
	dir := t.TempDir()
	issue := filepath.Join(dir, "issue")
	if err := os.WriteFile(issue, []byte("\nWelcome to minikit\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	long := filepath.Join(dir, "long")
	if err := os.WriteFile(long, []byte(strings.Repeat("x", 3*maxIssue)), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       []string
	}{
		{"the file is shown as it is", issue, []string{"\nWelcome to minikit\n\n"}},
		{"a missing file shows nothing", filepath.Join(dir, "none"), nil},
		{"a FIFO is not read, so nothing waits for a writer", fifo, nil},
		{"a directory shows nothing", dir, nil},
		{"a long file is cut", long, []string{strings.Repeat("x", maxIssue)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var shown []string
			done := make(chan struct{})
			go func() {
				showIssue(tt.path, func(s string) { shown = append(shown, s) })
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second): // a hang guard, not a measure
				t.Fatal("showIssue waits")
			}
			if strings.Join(shown, "|") != strings.Join(tt.want, "|") || len(shown) != len(tt.want) {
				t.Errorf("shown %q, want %q", shown, tt.want)
			}
		})
	}
}
