package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzUnpackTar unpacks arbitrary streams into a directory three levels
// down a scratch directory: whatever the stream holds, the unpack may fail
// but must not panic, and must leave the scratch directory as it was but
// for what is inside the destination.
func FuzzUnpackTar(f *testing.F) {
	f.Add(tarBytes(f, dirEntry("etc/", 0o755), fileEntry("etc/motd", 0o644), "hello", symlinkEntry("bin", "usr/bin"), hardLinkEntry("etc/issue", "etc/motd")))
	f.Add(tarBytes(f, fileEntry("../../../escaped", 0o644), "x"))
	f.Add(tarBytes(f, symlinkEntry("up", "../../.."), fileEntry("up/escaped", 0o644), "x"))
	f.Add(tarBytes(f, symlinkEntry("host", ".."), hardLinkEntry("victim", "host/../../victim")))
	f.Add(tarBytes(f, symlinkEntry("host", "../../.."), fileEntry("host/.wh.victim", 0o644), "", fileEntry("host/.wh..wh..opq", 0o644), ""))
	f.Add(sparseTar(f, "disk.img", 1<<40, "end"))
	f.Add(sparseTar(f, "small.img", 64<<10, "end"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tarBytes(f, fileEntry("a", 0o644), "a"))
	zw.Close()
	f.Add(gz.Bytes())

	f.Fuzz(func(t *testing.T, stream []byte) {
		scratch, dest, victim, before := fuzzScratch(t)

		// A small cap keeps each run short; what it refuses is an error
		// like any other here.
		_ = UnpackTar(bytes.NewReader(stream), dest, UnpackOptions{IgnoreOwners: true, MaxBytes: 1 << 20})
		checkOutside(t, scratch, dest, victim, before)
	})
}

// FuzzUnpackLayers is FuzzUnpackTar for well-formed layers, which random
// bytes seldom are: the input describes the layers' entries, one a line,
// so that the fuzzer spends its time on the combinations of names,
// symlinks, hard links and whiteouts that could lead outside, not on tar
// checksums. A line is a type letter and a name, with "=" and a target
// for a link: "f etc/motd", "d etc", "s lib=usr/lib", "h a=b", "p fifo";
// a line "-" starts the next layer.
func FuzzUnpackLayers(f *testing.F) {
	f.Add("d usr\ns usr/lib=../../..\nf usr/lib/escaped")
	f.Add("s up=..\n-\nf up/escaped\nf up/.wh.victim")
	f.Add("s a=b\ns b=c/d\nd c\ns c/d=../..\nf a/escaped")
	f.Add("s host=../../..\nh victim=host/victim\n-\nf host/.wh..wh..opq")
	f.Add("d etc\nf etc/motd\nh etc/issue=etc/motd\np fifo\n-\nf etc/.wh.motd\nd etc/motd")
	f.Fuzz(func(t *testing.T, spec string) {
		layers := layersOf(spec)
		if layers == nil {
			return
		}
		scratch, dest, victim, before := fuzzScratch(t)
		unpackStreams(t, layers, dest)
		checkOutside(t, scratch, dest, victim, before)
	})
}

// unpackStreams applies layers to dest as Unpack applies an image's,
// without the image: making one compresses every layer to digest it,
// which would take most of each run.
func unpackStreams(t *testing.T, layers [][]byte, dest string) {
	root, err := openBeneathRoot(dest)
	if err != nil {
		t.Fatal(err)
	}
	defer root.close()
	opts := UnpackOptions{IgnoreOwners: true, MaxBytes: 1 << 20}
	budget := newBudget(opts.MaxBytes)
	for i, l := range layers {
		if applyLayer(root, bytes.NewReader(l), fmt.Sprintf("layer %d", i), opts, budget) != nil {
			return
		}
	}
}

// layersOf reads FuzzUnpackLayers' description of layers; nil means it
// describes no entry that Go's tar writer would write.
func layersOf(spec string) [][]byte {
	var layers [][]byte
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	entries := 0
	flush := func() bool {
		if err := tw.Close(); err != nil {
			return false
		}
		if entries > 0 {
			layers = append(layers, bytes.Clone(buf.Bytes()))
		}
		buf.Reset()
		tw, entries = tar.NewWriter(&buf), 0
		return true
	}
	for line := range strings.Lines(spec) {
		line = strings.TrimSuffix(line, "\n")
		if line == "-" {
			if !flush() {
				return nil
			}
			continue
		}
		kind, rest, ok := strings.Cut(line, " ")
		if !ok || rest == "" || entries >= 64 {
			continue
		}
		name, target, _ := strings.Cut(rest, "=")
		var hdr *tar.Header
		switch kind {
		case "f":
			hdr = fileEntry(name, 0o644)
			hdr.Size = int64(len(name))
		case "d":
			hdr = dirEntry(name, 0o755)
		case "s":
			hdr = symlinkEntry(name, target)
		case "h":
			hdr = hardLinkEntry(name, target)
		case "p":
			hdr = &tar.Header{Typeflag: tar.TypeFifo, Name: name, Mode: 0o644, ModTime: testTime}
		default:
			continue
		}
		if tw.WriteHeader(hdr) != nil {
			return nil
		}
		if kind == "f" {
			if _, err := tw.Write([]byte(name)); err != nil {
				return nil
			}
		}
		entries++
	}
	if !flush() {
		return nil
	}
	return layers
}

// checkOutside fails t if anything outside dest differs from before, or
// fuzzScratch makes one run's destination, deep inside a scratch
// directory that also holds a file an escape would reach, and lists what
// is outside the destination before the unpack.
func fuzzScratch(t *testing.T) (scratch, dest, victim string, before []string) {
	t.Helper()
	scratch = t.TempDir()
	dest = filepath.Join(scratch, "a", "b", "dest")
	if err := os.MkdirAll(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	victim = filepath.Join(scratch, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	return scratch, dest, victim, outside(t, scratch, dest)
}

// the victim file beside it changed, or dest is no longer a directory.
func checkOutside(t *testing.T, scratch, dest, victim string, before []string) {
	t.Helper()
	if after := outside(t, scratch, dest); !slices.Equal(before, after) {
		t.Errorf("the unpack changed what is outside its destination:\nbefore %q\nafter  %q", before, after)
	}
	if got, err := os.ReadFile(victim); err != nil || string(got) != "precious" {
		t.Errorf("victim now holds %q (%v)", got, err)
	}
	if st := lstat(t, dest); st.Mode&0o170000 != 0o040000 {
		t.Errorf("the destination was replaced: mode %o", st.Mode)
	}
}

// outside is snapshot of dir leaving out what is beneath dest.
func outside(t *testing.T, dir, dest string) []string {
	t.Helper()
	return slices.DeleteFunc(snapshot(t, dir), func(p string) bool {
		return len(p) > len(dest) && p[:len(dest)] == dest && (p[len(dest)] == '/' || p[len(dest)] == ' ')
	})
}
