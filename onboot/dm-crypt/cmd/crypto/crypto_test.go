package main

import (
	"encoding/binary"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeCryptsetup records the commands run and stands for cryptsetup:
// isLuks exits 1 unless luks is set, open makes the mapping a file of
// 1 MiB (holding ext4's magic when fs is set), mkfs.ext4 writes it.
type fakeCryptsetup struct {
	t        *testing.T
	mapper   string
	luks, fs bool
	ran      []string
}

func (f *fakeCryptsetup) run(name string, args ...string) error {
	line := name + " " + strings.Join(args, " ")
	f.ran = append(f.ran, line)
	switch {
	case strings.HasSuffix(line, "isLuks /dev/vdb"):
		if !f.luks {
			return exec.Command("false").Run() // an *exec.ExitError, status 1
		}
	case strings.Contains(line, " open "):
		img := make([]byte, 1<<20)
		if f.fs {
			binary.LittleEndian.PutUint16(img[1024+0x38:], 0xEF53)
		}
		return os.WriteFile(filepath.Join(f.mapper, args[len(args)-1]), img, 0o600)
	}
	return nil
}

func newCrypt(t *testing.T, fake *fakeCryptsetup, luks bool) *crypt {
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	os.WriteFile(key, []byte("abcdefghijklmnopqrstuvwxyz123456"), 0o600)
	fake.t, fake.mapper = t, dir
	return &crypt{name: "secure", device: "/dev/vdb", luks: luks, keyFile: key, mapper: dir, lockDir: filepath.Join(dir, "lock"), run: fake.run, log: slog.New(slog.DiscardHandler)}
}

func TestPlainMappingWithoutFilesystemIsZeroedAndGivenExt4(t *testing.T) {
	fake := &fakeCryptsetup{}
	c := newCrypt(t, fake, false)
	if err := c.open(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"cryptsetup --key-file " + c.keyFile + " --cipher aes-cbc-essiv:sha256 open --type plain /dev/vdb secure",
		"mkfs.ext4 -q " + filepath.Join(c.mapper, "secure"),
	}
	if strings.Join(fake.ran, "\n") != strings.Join(want, "\n") {
		t.Errorf("ran:\n%s\nwant:\n%s", strings.Join(fake.ran, "\n"), strings.Join(want, "\n"))
	}
}

func TestAMappingWithAFilesystemIsLeftAlone(t *testing.T) {
	fake := &fakeCryptsetup{fs: true, luks: true}
	c := newCrypt(t, fake, true)
	if err := c.open(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(fake.ran, "\n")
	if strings.Contains(got, "mkfs") || strings.Contains(got, "luksFormat") {
		t.Errorf("formatted a device that holds data:\n%s", got)
	}
	if !strings.Contains(got, "open --type luks /dev/vdb secure") {
		t.Errorf("did not open the LUKS device:\n%s", got)
	}
}

func TestLUKSFormatsADeviceWithoutHeader(t *testing.T) {
	fake := &fakeCryptsetup{}
	c := newCrypt(t, fake, true)
	if err := c.open(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(fake.ran, "\n")
	if !strings.Contains(got, "luksFormat /dev/vdb") || !strings.Contains(got, "--cipher aes-cbc-essiv:sha256") {
		t.Errorf("no luksFormat with LinuxKit's cipher:\n%s", got)
	}
}

func TestAMissingKeyOpensNothing(t *testing.T) {
	fake := &fakeCryptsetup{}
	c := newCrypt(t, fake, false)
	c.keyFile += ".missing"
	if err := c.open(); err == nil || !strings.Contains(err.Error(), "no key file") {
		t.Errorf("open = %v, want a missing key", err)
	}
	if len(fake.ran) > 0 {
		t.Errorf("ran %v without a key", fake.ran)
	}
}

func TestKeyPath(t *testing.T) {
	if got := keyPath("/etc/dm-crypt", "key"); got != "/etc/dm-crypt/key" {
		t.Errorf("keyPath(key) = %s", got)
	}
	if got := keyPath("/etc/dm-crypt", "/some/other/enc_key"); got != "/some/other/enc_key" {
		t.Errorf("keyPath(/some/other/enc_key) = %s", got)
	}
}

func TestFillZerosCoversTheDevice(t *testing.T) {
	p := filepath.Join(t.TempDir(), "dev")
	os.WriteFile(p, []byte(strings.Repeat("x", 5<<20+7)), 0o600)
	n, err := fillZeros(p)
	if err != nil || n != 5<<20+7 {
		t.Fatalf("fillZeros = %d, %v", n, err)
	}
	b, _ := os.ReadFile(p)
	if len(b) != 5<<20+7 || strings.Trim(string(b), "\x00") != "" {
		t.Errorf("the device is %d bytes, not all zeros", len(b))
	}
}
