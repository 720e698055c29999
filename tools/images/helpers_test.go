package images

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// testTime is the mtime the test layers give their entries.
var testTime = time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)

func dirEntry(name string, mode int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: testTime}
}

func symlinkEntry(name, target string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: testTime}
}

func hardLinkEntry(name, target string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, ModTime: testTime}
}

// fileEntry is a header for a regular file; tarBytes fills in its size
// from the content that follows it.
func fileEntry(name string, mode int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, ModTime: testTime}
}

// tarBytes builds a tar stream from headers, each regular file followed by
// its content as a string.
func tarBytes(t testing.TB, items ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < len(items); i++ {
		hdr := *items[i].(*tar.Header)
		var content string
		if hdr.Typeflag == tar.TypeReg {
			if i+1 < len(items) {
				if s, ok := items[i+1].(string); ok {
					content = s
					i++
				}
			}
			hdr.Size = int64(len(content))
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatalf("write header %s: %v", hdr.Name, err)
		}
		if _, err := io.WriteString(tw, content); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tarLayer(t testing.TB, items ...any) v1.Layer {
	t.Helper()
	return tarLayerOf(t, tarBytes(t, items...))
}

func imageOf(t testing.TB, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// randomImage is an image with one small layer whose content is seed, so
// different seeds give different digests.
func randomImage(t testing.TB, seed string) v1.Image {
	t.Helper()
	return imageOf(t, tarLayer(t, fileEntry("seed", 0o644), seed))
}

func digestOf(t testing.TB, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func openStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.Progress = nil
	return s
}

// snapshot lists every path under dir with its size and mode, to show that
// nothing outside a destination changed.
func snapshot(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, p+" "+fi.Mode().String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// sparseTar is a tar stream of a file of size bytes that is one hole but
// for data at its very end, encoded as GNU tar writes sparse files in the
// PAX format 1.0: an extended header naming the real name and size, then
// an entry whose content is the sparse map followed by the data. Go's
// tar.Writer refuses GNU.sparse.* records, so the extended header is
// written as a plain file and its type flag changed afterwards.
func sparseTar(t testing.TB, name string, size int64, data string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	records := paxRecord("GNU.sparse.major", "1") + paxRecord("GNU.sparse.minor", "0") +
		paxRecord("GNU.sparse.name", name) + paxRecord("GNU.sparse.realsize", strconv.FormatInt(size, 10))
	start := buf.Len()
	writeEntry(t, tw, &tar.Header{Typeflag: tar.TypeReg, Name: "PaxHeaders/" + name, Mode: 0o644, Size: int64(len(records)), Format: tar.FormatUSTAR}, records)
	setTypeflag(buf.Bytes()[start:start+512], tar.TypeXHeader)

	sparseMap := fmt.Sprintf("1\n%d\n%d\n", size-int64(len(data)), len(data))
	sparseMap += strings.Repeat("\x00", 512-len(sparseMap))
	writeEntry(t, tw, &tar.Header{Typeflag: tar.TypeReg, Name: "GNUSparseFile.0/" + name, Mode: 0o644, Size: int64(len(sparseMap) + len(data)), ModTime: testTime, Format: tar.FormatUSTAR}, sparseMap+data)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeEntry(t testing.TB, tw *tar.Writer, hdr *tar.Header, content string) {
	t.Helper()
	if err := tw.WriteHeader(hdr); err != nil {
		t.Fatalf("write header %s: %v", hdr.Name, err)
	}
	if _, err := io.WriteString(tw, content); err != nil {
		t.Fatal(err)
	}
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
}

// paxRecord is one "LEN key=value\n" record, LEN counting itself.
func paxRecord(key, value string) string {
	body := " " + key + "=" + value + "\n"
	n := len(body) + 1
	for len(strconv.Itoa(n))+len(body) != n {
		n++
	}
	return strconv.Itoa(n) + body
}

// setTypeflag changes the type flag of a ustar header block and fixes its
// checksum, the byte sum of the block with the checksum field as spaces.
func setTypeflag(block []byte, flag byte) {
	block[156] = flag
	copy(block[148:156], "        ")
	sum := 0
	for _, b := range block {
		sum += int(b)
	}
	copy(block[148:156], fmt.Sprintf("%06o\x00 ", sum))
}

// tarLayerOf is a layer holding the tar stream b as it is.
func tarLayerOf(t testing.TB, b []byte) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// concatTars joins tar streams into one, dropping the end-of-archive
// blocks of all but the last.
func concatTars(t testing.TB, streams ...[]byte) []byte {
	t.Helper()
	var out []byte
	for i, s := range streams {
		if i < len(streams)-1 {
			s = bytes.TrimRight(s, "\x00")
			s = s[:(len(s)+511)/512*512]
		}
		out = append(out, s...)
	}
	return out
}

func appendLayer(t testing.TB, img v1.Image, l v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(img, l)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
