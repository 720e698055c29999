package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/minikit/minikit/internal/control"
)

func TestCgroupUsageReadsTheGroupsFiles(t *testing.T) {
	mnt := t.TempDir()
	dir := filepath.Join(mnt, "minikit/sshd")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"memory.current": "5242880\n",
		"memory.max":     "67108864\n",
		"pids.current":   "3\n",
		"pids.max":       "max\n",
		"cpu.stat":       "usage_usec 81234\nuser_usec 60000\nsystem_usec 21234\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sshd, err := openCgroup(mnt, "/minikit/sshd")
	if err != nil {
		t.Fatal(err)
	}
	u, err := sshd.Usage()
	if err != nil {
		t.Fatal(err)
	}
	want := control.Usage{Cgroup: "/minikit/sshd", MemoryBytes: 5 << 20, MemoryLimit: 64 << 20, CPUMicros: 81234, Pids: 3}
	if *u != want {
		t.Errorf("usage %+v, want %+v", *u, want)
	}

	// A group whose controllers are not enabled has none of their files.
	if err := os.MkdirAll(filepath.Join(mnt, "bare"), 0o755); err != nil {
		t.Fatal(err)
	}
	bare, err := openCgroup(mnt, "/bare")
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	if u, err := bare.Usage(); err != nil || *u != (control.Usage{Cgroup: "/bare"}) {
		t.Errorf("bare group: %+v, %v", u, err)
	}
	if _, err := openCgroup(mnt, "/gone"); err == nil {
		t.Error("a group that does not exist opened")
	}

	// Once its container has ended, a group is let go.
	sshd.Close()
	if u, err := sshd.Usage(); err == nil {
		t.Errorf("a closed group read %+v", u)
	}
	sshd.Close() // twice is harmless
}
