package kmod

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// moduleELF builds a minimal x86-64 relocatable object whose .modinfo
// section holds the given key=value entries, NUL-terminated, the way the
// kernel's MODULE_INFO macros lay them out.
func moduleELF(modinfo []string) []byte {
	var info bytes.Buffer
	for _, e := range modinfo {
		info.WriteString(e)
		info.WriteByte(0)
	}
	shstrtab := []byte("\x00.modinfo\x00.shstrtab\x00")

	const ehsize, shentsize = 64, 64
	infoOff := uint64(ehsize)
	strOff := infoOff + uint64(info.Len())
	shOff := (strOff + uint64(len(shstrtab)) + 7) &^ 7

	var b bytes.Buffer
	hdr := elf.Header64{
		Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Shoff: shOff, Ehsize: ehsize, Shentsize: shentsize, Shnum: 3, Shstrndx: 2,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	binary.Write(&b, binary.LittleEndian, hdr)
	b.Write(info.Bytes())
	b.Write(shstrtab)
	b.Write(make([]byte, shOff-uint64(b.Len())))
	sections := []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_ALLOC), Off: infoOff, Size: uint64(info.Len()), Addralign: 1},
		{Name: 10, Type: uint32(elf.SHT_STRTAB), Off: strOff, Size: uint64(len(shstrtab)), Addralign: 1},
	}
	binary.Write(&b, binary.LittleEndian, sections)
	return b.Bytes()
}

// compress encodes data as a module file named name would be.
func compress(t testing.TB, name string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	switch compression(name) {
	case "":
		return data
	case ".gz":
		w := gzip.NewWriter(&b)
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case ".zst":
		w, err := zstd.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case ".xz":
		// The xz magic, enough for a reader to know what it is.
		b.Write([]byte{0xfd, '7', 'z', 'X', 'Z', 0})
	}
	return b.Bytes()
}

// writeModule writes a synthetic module to path, compressed as its name says.
func writeModule(t testing.TB, path string, modinfo ...string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, compress(t, path, moduleELF(modinfo)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeModule is one module of a synthetic tree: its path under the tree
// and its .modinfo entries.
type fakeModule struct {
	rel     string
	modinfo []string
}

// mod is shorthand for a module at kernel/NAME.ko with name= set and the
// given extra entries.
func mod(name string, modinfo ...string) fakeModule {
	return fakeModule{
		rel:     "kernel/" + strings.ReplaceAll(name, "_", "-") + ".ko",
		modinfo: append([]string{"name=" + name}, modinfo...),
	}
}

// writeTree lays out a synthetic lib/modules/VERSION tree and returns its
// path. builtin lists paths for modules.builtin, builtinModinfo entries for
// modules.builtin.modinfo.
func writeTree(t testing.TB, mods []fakeModule, builtin []string, builtinModinfo []string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "lib", "modules", "6.1.0-99-test")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		writeModule(t, filepath.Join(dir, m.rel), m.modinfo...)
	}
	if builtin != nil {
		data := strings.Join(builtin, "\n") + "\n"
		if err := os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if builtinModinfo != nil {
		data := strings.Join(builtinModinfo, "\x00") + "\x00"
		if err := os.WriteFile(filepath.Join(dir, "modules.builtin.modinfo"), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
