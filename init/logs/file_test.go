package logs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLogFilesRotateBySizeAndKeepABoundedCount(t *testing.T) {
	dir := t.TempDir()
	f := newRotatingFile(filepath.Join(dir, "svc.log"))
	f.max, f.keep = 100, 2
	for i := range 20 {
		f.write([]byte(fmt.Sprintf("line %02d %s\n", i, strings.Repeat(".", 30)))) // 40 bytes
	}
	f.close()
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		info, _ := e.Info()
		if info.Size() > 100 {
			t.Errorf("%s has %d bytes, over the rotation size 100", e.Name(), info.Size())
		}
	}
	if fmt.Sprint(names) != "[svc.log svc.log.1 svc.log.2]" {
		t.Errorf("files: %v, want svc.log and two rotated ones", names)
	}
	cur, _ := os.ReadFile(filepath.Join(dir, "svc.log"))
	old, _ := os.ReadFile(filepath.Join(dir, "svc.log.1"))
	if !strings.HasPrefix(string(cur), "line 18") || !strings.HasPrefix(string(old), "line 16") {
		t.Errorf("svc.log starts %q, svc.log.1 starts %q: newest lines belong in svc.log", cur[:7], old[:7])
	}
}

func TestALogFileThatCannotBeOpenedIsRetriedLater(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not-yet")
	f := newRotatingFile(filepath.Join(dir, "svc.log"))
	f.write([]byte("lost\n"))
	if f.err == nil {
		t.Fatal("no error kept for a file that cannot be opened")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f.retryAt = f.retryAt.AddDate(-1, 0, 0) // time has come
	f.write([]byte("kept\n"))
	f.close()
	if data, _ := os.ReadFile(filepath.Join(dir, "svc.log")); string(data) != "kept\n" {
		t.Errorf("after the retry the file holds %q", data)
	}
}
