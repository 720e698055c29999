package diskimage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/testenv"
	"github.com/minikit/minikit/internal/verity"
)

func needRootImageTools(t *testing.T) {
	t.Helper()
	testenv.Tools(t, testenv.RequireRootEnv, "mksquashfs (apt-get install squashfs-tools)", "veritysetup (apt-get install cryptsetup-bin)")
}

// writeTree writes the same small tree into dir, with times that differ
// from one call to the next.
func writeTree(t *testing.T, dir string, payload []byte) {
	t.Helper()
	for _, d := range []string{"sbin", "containers/onboot/000-a/rootfs/bin", "containers/services/a/rootfs/bin"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string][]byte{
		"sbin/init": []byte("#!init\n"),
		"containers/onboot/000-a/rootfs/bin/prog": payload,
		"containers/services/a/rootfs/bin/prog":   payload,
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
		mtime := time.Now().Add(-time.Duration(len(name)) * time.Hour)
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// Two builds of one tree, in different directories at different times,
// write the same bytes, hash tree and root hash included.
func TestRootImageIsReproducible(t *testing.T) {
	needRootImageTools(t)
	payload := randomBytes(t, 300<<10)
	epoch := time.Unix(1700000000, 0)
	var images [2][]byte
	var hashes [2][]byte
	for i := range images {
		dir := t.TempDir()
		writeTree(t, filepath.Join(dir, "root"), payload)
		img, err := WriteRootImage(context.Background(), filepath.Join(dir, "root"), filepath.Join(dir, "root.img"), epoch, true)
		if err != nil {
			t.Fatal(err)
		}
		if images[i], err = os.ReadFile(img.Path); err != nil {
			t.Fatal(err)
		}
		hashes[i] = img.Verity.RootHash
		time.Sleep(1100 * time.Millisecond) // a different second for any time that leaks
	}
	if !bytes.Equal(images[0], images[1]) {
		t.Error("two builds of the same tree differ")
	}
	if !bytes.Equal(hashes[0], hashes[1]) {
		t.Errorf("root hashes differ: %x, %x", hashes[0], hashes[1])
	}
}

// A file that two containers carry (the same image used by two entries)
// is stored once.
func TestRootImageStoresIdenticalFilesOnce(t *testing.T) {
	needRootImageTools(t)
	// Random bytes do not compress: what the image holds is what it stores.
	payload := randomBytes(t, 2<<20)
	dir := t.TempDir()
	writeTree(t, filepath.Join(dir, "root"), payload)
	img, err := WriteRootImage(context.Background(), filepath.Join(dir, "root"), filepath.Join(dir, "root.img"), time.Unix(0, 0), false)
	if err != nil {
		t.Fatal(err)
	}
	if img.DataBytes >= 2*int64(len(payload)) {
		t.Errorf("the image is %d bytes for two copies of a %d-byte file: stored twice", img.DataBytes, len(payload))
	}
	if img.DataBytes < int64(len(payload)) {
		t.Errorf("the image is %d bytes, less than the %d-byte file it holds", img.DataBytes, len(payload))
	}
	if img.Verity != nil || img.HashBytes != 0 {
		t.Errorf("written without verity, yet it has %d bytes of hash tree (%v)", img.HashBytes, img.Verity)
	}
}

// The hash tree is the one veritysetup checks against the root hash, and
// a flipped byte anywhere in the data fails that check.
func TestRootImageHashTreeChecksEveryByte(t *testing.T) {
	needRootImageTools(t)
	dir := t.TempDir()
	writeTree(t, filepath.Join(dir, "root"), randomBytes(t, 64<<10))
	img, err := WriteRootImage(context.Background(), filepath.Join(dir, "root"), filepath.Join(dir, "root.img"), time.Unix(0, 0), true)
	if err != nil {
		t.Fatal(err)
	}
	p := img.Verity
	if img.DataBytes != p.HashOffset() || img.HashBytes <= 0 {
		t.Fatalf("data %d bytes, hash tree %d bytes at %d", img.DataBytes, img.HashBytes, p.HashOffset())
	}
	verify := func() error {
		return exec.Command("veritysetup", "verify", "--no-superblock",
			"--data-blocks="+strconv.FormatUint(p.DataBlocks, 10), "--hash-offset="+strconv.FormatInt(p.HashOffset(), 10),
			"--salt="+hex.EncodeToString(p.Salt), img.Path, img.Path, hex.EncodeToString(p.RootHash)).Run()
	}
	if err := verify(); err != nil {
		t.Fatalf("veritysetup refuses the image it was told to hash: %v", err)
	}
	data, err := os.ReadFile(img.Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int64{0, img.DataBytes / 2, img.DataBytes - 1} {
		flipped := bytes.Clone(data)
		flipped[at] ^= 0x01
		if err := os.WriteFile(img.Path, flipped, 0o644); err != nil {
			t.Fatal(err)
		}
		if verify() == nil {
			t.Errorf("a byte flipped at %d of %d passes verification", at, img.DataBytes)
		}
	}
	if _, err := verity.Parse(p.String()); err != nil {
		t.Errorf("the parameters do not read back: %v", err)
	}
}
