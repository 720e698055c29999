package rootfs

import (
	"errors"
	"strings"
	"testing"
)

type recordingMounter struct {
	done []string
	fail map[string]error
}

func (r *recordingMounter) Mount(m Mount) error {
	if err := r.fail[m.Target]; err != nil {
		return err
	}
	r.done = append(r.done, m.Target)
	return nil
}

func TestEarlyMountsComeBeforeWhatLivesOnThem(t *testing.T) {
	seen := map[string]int{}
	for i, m := range EarlyMounts {
		seen[m.Target] = i
	}
	for _, m := range EarlyMounts {
		for parent, i := range seen {
			if parent != m.Target && strings.HasPrefix(m.Target, parent+"/") && i > seen[m.Target] {
				t.Errorf("%s is mounted before its parent %s", m.Target, parent)
			}
		}
	}
	for _, want := range []string{"/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/run", "/tmp", "/var", "/sys/fs/cgroup"} {
		if _, ok := seen[want]; !ok {
			t.Errorf("early mounts lack %s", want)
		}
	}
}

func TestMountAllStopsAtARequiredFailure(t *testing.T) {
	boom := errors.New("boom")
	m := &recordingMounter{fail: map[string]error{"/dev/mqueue": boom, "/run": boom}}
	optional, err := MountAll(m, EarlyMounts)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "/run") {
		t.Fatalf("MountAll error = %v, want the /run failure", err)
	}
	if len(optional) != 1 || !strings.Contains(optional[0].Error(), "/dev/mqueue") {
		t.Errorf("optional failures = %v, want the /dev/mqueue one", optional)
	}
	for _, target := range m.done {
		if target == "/tmp" {
			t.Errorf("mounted /tmp after /run failed")
		}
	}
}

func TestRootIsInitramfs(t *testing.T) {
	tests := []struct {
		name      string
		mountinfo string
		want      bool
	}{
		{"kernel initramfs", "1 1 0:2 / / rw - rootfs rootfs rw\n", true},
		{"after the move to tmpfs", "1 1 0:2 / / rw - rootfs rootfs rw\n20 1 0:20 / / rw,relatime - tmpfs root rw\n", false},
		{"a disk root", "25 1 8:1 / / rw - ext4 /dev/sda1 rw\n26 25 0:22 / /proc rw - proc proc rw\n", false},
	}
	for _, tt := range tests {
		got, err := rootIsInitramfs(strings.NewReader(tt.mountinfo))
		if err != nil || got != tt.want {
			t.Errorf("%s: rootIsInitramfs = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

func TestKnownFilesystemsReadsProcFilesystems(t *testing.T) {
	known, err := KnownFilesystems(strings.NewReader("nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\tbinfmt_misc\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fs := range []string{"sysfs", "tmpfs", "ext4", "binfmt_misc"} {
		if !known[fs] {
			t.Errorf("%s not known", fs)
		}
	}
	if known["nodev"] || len(known) != 4 {
		t.Errorf("known = %v", known)
	}
}

// A module's filesystem is a convenience, never a reason to stop boot.
func TestModuleMountsAreOptional(t *testing.T) {
	for _, m := range ModuleMounts {
		if !m.Optional {
			t.Errorf("%s is required", m)
		}
	}
}
