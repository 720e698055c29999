package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minikit/minikit/internal/testenv"
)

// fakeTools stands for sfdisk -J (the table given), e2fsck (status
// fsckStatus) and resize2fs, recording what ran.
type fakeTools struct {
	table      string
	fsckStatus int
	ran        []string
}

func (f *fakeTools) run(name string, args ...string) error {
	f.ran = append(f.ran, name+" "+strings.Join(args, " "))
	if name == "e2fsck" && f.fsckStatus != 0 {
		return exec.Command("sh", "-c", fmt.Sprintf("exit %d", f.fsckStatus)).Run()
	}
	return nil
}

func (f *fakeTools) output(name string, args ...string) ([]byte, error) {
	if f.table == "" {
		return nil, fmt.Errorf("sfdisk: no partition table")
	}
	return []byte(f.table), nil
}

// diskImage is a sparse file of size bytes standing for a disk.
func diskImage(t *testing.T, size int64) string {
	p := filepath.Join(t.TempDir(), "disk")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, size); err != nil {
		t.Fatal(err)
	}
	return p
}

func newExtender(f *fakeTools) (*extender, *[]string) {
	var reread []string
	e := &extender{run: f.run, output: f.output, log: slog.New(slog.DiscardHandler),
		reread: func(d string) error { reread = append(reread, d); return nil }}
	return e, &reread
}

func dosTable(node string, sizeSectors int64, typ string) string {
	return fmt.Sprintf(`{"partitiontable": {"label": "dos", "sectorsize": 512, "partitions": [{"node": %q, "start": 2048, "size": %d, "type": %q}]}}`, node, sizeSectors, typ)
}

func TestASingleFullPartitionIsLeftAlone(t *testing.T) {
	disk := diskImage(t, 64<<20)
	f := &fakeTools{table: dosTable(disk+"1", 64<<11-2048, "83")}
	e, reread := newExtender(f)
	if err := e.extend(disk, false); err != nil {
		t.Fatal(err)
	}
	if len(f.ran) > 0 || len(*reread) > 0 {
		t.Errorf("ran %v on a disk with no space to gain", f.ran)
	}
}

func TestDisksThatAreNotOneLinuxPartition(t *testing.T) {
	disk := diskImage(t, 64<<20)
	two := `{"partitiontable": {"label": "dos", "partitions": [{"node": "a1", "start": 2048, "size": 10, "type": "83"}, {"node": "a2", "start": 4096, "size": 10, "type": "83"}]}}`
	for _, tt := range []struct {
		name, table string
		auto, err   bool
	}{
		{"two partitions: skipped", two, false, false},
		{"not Linux's type: an error", dosTable(disk+"1", 2048, "7"), false, true},
		{"no table, named: an error", "", false, true},
		{"no table, found by looking: skipped", "", true, false},
	} {
		f := &fakeTools{table: tt.table}
		e, _ := newExtender(f)
		err := e.extend(disk, tt.auto)
		if (err != nil) != tt.err || len(f.ran) > 0 {
			t.Errorf("%s: err %v, ran %v", tt.name, err, f.ran)
		}
	}
}

func TestAFilesystemThatAsksForARebootIsNotGrown(t *testing.T) {
	disk := diskImage(t, 64<<20)
	f := &fakeTools{table: dosTable(disk, 2048, "83"), fsckStatus: 2}
	e, _ := newExtender(f)
	if err := e.extend(disk, false); err == nil || !strings.Contains(err.Error(), "reboot") {
		t.Errorf("extend = %v, want e2fsck's reboot request", err)
	}
	for _, r := range f.ran {
		if strings.HasPrefix(r, "resize2fs") {
			t.Errorf("grew a filesystem e2fsck had to fix: %v", f.ran)
		}
	}
}

// The whole sequence on a disk image with a real partition table: the
// partition ends where the disk does, then the filesystem is grown.
func TestExtendGrowsThePartitionThenTheFilesystem(t *testing.T) {
	testenv.Tools(t, testenv.RequireRootEnv, "sfdisk (apt-get install fdisk)")
	for _, label := range []string{"dos", "gpt"} {
		t.Run(label, func(t *testing.T) {
			disk := diskImage(t, 32<<20)
			mk := exec.Command("sfdisk", "-q", disk)
			mk.Stdin = strings.NewReader("label: " + label + "\n2048,8M,L\n")
			if out, err := mk.CombinedOutput(); err != nil {
				t.Fatalf("sfdisk: %v\n%s", err, out)
			}
			if err := os.Truncate(disk, 64<<20); err != nil { // the disk grew
				t.Fatal(err)
			}
			f := &fakeTools{}
			e, reread := newExtender(f)
			e.output = commandOutput // the real sfdisk -J
			e.partitionWait = 1
			node := disk + "1"
			os.WriteFile(node, nil, 0o600) // sfdisk names it; waitFor looks for it
			if err := e.extend(disk, false); err != nil {
				t.Fatal(err)
			}
			want := []string{"e2fsck -p " + node, "e2fsck -p -f " + node, "resize2fs " + node, "e2fsck -p " + node}
			if strings.Join(f.ran, "\n") != strings.Join(want, "\n") || len(*reread) != 1 {
				t.Errorf("ran %q, reread %v; want %q and one reread", f.ran, *reread, want)
			}
			out, err := exec.Command("sfdisk", "-J", disk).Output()
			if err != nil {
				t.Fatal(err)
			}
			end := int64(64<<11 - 1) // the last sector
			if label == "gpt" {
				end -= 33
			}
			if !strings.Contains(string(out), fmt.Sprintf(`"size": %d`, end-2048+1)) {
				t.Errorf("the partition does not end at sector %d:\n%s", end, out)
			}
		})
	}
}
