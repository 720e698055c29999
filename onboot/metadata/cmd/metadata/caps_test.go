package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A metadata server that sends more than any provider's user data may be
// is refused, by name, rather than cut short.
func TestHTTPBodiesAreCapped(t *testing.T) {
	base := server(t, nil, map[string]string{
		"GET /hetzner/v1/metadata/hostname": "cx22-1",
		"GET /hetzner/v1/userdata":          strings.Repeat("x", maxItem+1),
	})
	_, err := hetzner(base)(t.Context())
	if err == nil || !strings.Contains(err.Error(), base+"/hetzner/v1/userdata") {
		t.Errorf("err = %v, want one naming the user data's URL", err)
	}
	ok := server(t, nil, map[string]string{
		"GET /hetzner/v1/metadata/hostname": "cx22-1",
		"GET /hetzner/v1/userdata":          strings.Repeat("x", maxItem),
	})
	if md, err := hetzner(ok)(t.Context()); err != nil || len(md.userdata) != maxItem {
		t.Errorf("user data of exactly the cap: %v", err)
	}
}

// The CD-ROM's files are read whole up to a cap, and only if they are
// files on the CD-ROM: a link could point at a disk through /dev, a FIFO
// would block the boot.
func TestCDROMReadsOnlyItsOwnFilesUpToACap(t *testing.T) {
	tmp := t.TempDir()
	secret := filepath.Join(tmp, "secret")
	if err := os.WriteFile(secret, []byte("the host's disk"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(mnt string) error{
		"too big": func(mnt string) error {
			return os.WriteFile(filepath.Join(mnt, "config"), make([]byte, maxCDROMFile+1), 0o644)
		},
		"a link out": func(mnt string) error { return os.Symlink(secret, filepath.Join(mnt, "config")) },
		"a fifo":     func(mnt string) error { return syscall.Mkfifo(filepath.Join(mnt, "config"), 0o644) },
	}
	for name, make := range cases {
		t.Run(name, func(t *testing.T) {
			mnt := t.TempDir()
			if err := make(mnt); err != nil {
				t.Fatal(err)
			}
			data, err := readFirst(mnt, "/dev/sr7")
			if err == nil || !strings.Contains(err.Error(), "config on /dev/sr7") {
				t.Errorf("read %d bytes (%.20q), err = %v; want an error naming config on /dev/sr7", len(data), data, err)
			}
		})
	}
	mnt := t.TempDir()
	if err := os.WriteFile(filepath.Join(mnt, "user-data"), make([]byte, maxCDROMFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, err := readFirst(mnt, "/dev/sr7"); err != nil || len(data) != maxCDROMFile {
		t.Errorf("a file of exactly the cap: %d bytes, %v", len(data), err)
	}
}
