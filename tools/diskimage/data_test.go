package diskimage

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/testenv"
)

// The data ISO holds the data under both names and is the same bytes for
// the same data.
func TestDataISO(t *testing.T) {
	if _, err := exec.LookPath("xorriso"); err != nil {
		testenv.Unavailable(t, testenv.RequireRootEnv, "no xorriso (Debian package xorriso)")
	}
	dir := t.TempDir()
	var isos [][]byte
	for i, name := range []string{"a.iso", "b.iso"} {
		out := filepath.Join(dir, name)
		if err := DataISO(t.Context(), out, []byte(`{"x": {"content": "y"}}`), time.Unix(1700000000, 0)); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		isos = append(isos, data)
		if i == 0 {
			listing, err := exec.Command("xorriso", "-indev", out, "-ls", "/").CombinedOutput()
			if err != nil || !bytes.Contains(listing, []byte("'config'")) || !bytes.Contains(listing, []byte("'user-data'")) {
				t.Errorf("the ISO holds:\n%s (%v)", listing, err)
			}
			if string(data[16*2048+1:16*2048+6]) != "CD001" {
				t.Error("no ISO 9660 signature in sector 16")
			}
		}
		time.Sleep(1100 * time.Millisecond) // a clock that leaked in would differ
	}
	if !bytes.Equal(isos[0], isos[1]) {
		t.Error("the same data gave two different ISOs")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("left behind: %v", entries)
	}
}
