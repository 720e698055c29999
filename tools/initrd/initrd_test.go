package initrd

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/u-root/u-root/pkg/cpio"
)

func makeTree(t *testing.T, mtime time.Time) string {
	t.Helper()
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "sbin"), 0o755))
	must(os.WriteFile(filepath.Join(root, "sbin/init"), []byte("#!init"), 0o755))
	must(os.Symlink("/sbin/init", filepath.Join(root, "init")))
	must(os.WriteFile(filepath.Join(root, "a"), []byte("hello"), 0o644))
	must(os.Link(filepath.Join(root, "a"), filepath.Join(root, "b")))
	for _, p := range []string{"sbin/init", "a", "sbin", "."} {
		must(os.Chtimes(filepath.Join(root, p), mtime, mtime))
	}
	return root
}

func records(t *testing.T, archive []byte) map[string]cpio.Record {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]cpio.Record{}
	for _, r := range recs {
		m[r.Name] = r
	}
	return m
}

func TestWriteIsReproducible(t *testing.T) {
	var a, b bytes.Buffer
	if err := Write(&a, makeTree(t, time.Unix(1000, 0)), Options{Extra: []cpio.Record{ConsoleDevice()}}); err != nil {
		t.Fatal(err)
	}
	if err := Write(&b, makeTree(t, time.Unix(999999, 0)), Options{Extra: []cpio.Record{ConsoleDevice()}}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two archives of the same tree differ")
	}
}

func TestWriteKeepsWhatTheKernelNeeds(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, makeTree(t, time.Now()), Options{Extra: []cpio.Record{ConsoleDevice()}}); err != nil {
		t.Fatal(err)
	}
	recs := records(t, buf.Bytes())
	if r, ok := recs["sbin/init"]; !ok || r.Mode&0o777 != 0o755 || r.MTime != 0 {
		t.Errorf("sbin/init = %+v, want mode 0755 and mtime 0", r.Info)
	}
	if r := recs["init"]; r.Mode&cpio.S_IFMT != cpio.S_IFLNK {
		t.Errorf("init is not a symlink: %+v", r.Info)
	}
	if r := recs["dev/console"]; r.Mode&cpio.S_IFMT != cpio.S_IFCHR || r.Rmajor != 5 || r.Rminor != 1 {
		t.Errorf("dev/console = %+v, want char device 5:1", r.Info)
	}
	if a, b := recs["a"], recs["b"]; a.Ino != b.Ino || a.NLink != 2 {
		t.Errorf("hard link lost: a=%+v b=%+v", a.Info, b.Info)
	}
}

func TestUnknownCompressionIsAnError(t *testing.T) {
	if err := Write(io.Discard, t.TempDir(), Options{Compression: "lz4"}); err == nil {
		t.Fatal("want an error for lz4")
	}
}
