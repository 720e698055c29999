package main

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// fakeBinfmt stands for binfmt_misc: register takes a line and makes an
// entry of its name, or fails with EEXIST when there is one; writing -1
// to an entry removes it.
type fakeBinfmt struct {
	mount   string
	entries map[string]string
	writes  []string
}

func (f *fakeBinfmt) write(p, s string) error {
	f.writes = append(f.writes, filepath.Base(p)+" <- "+s)
	name := filepath.Base(p)
	if filepath.Dir(p) != f.mount {
		return &fs.PathError{Op: "open", Path: p, Err: syscall.ENOENT}
	}
	if name == "register" {
		entry := strings.Split(s[1:], s[:1])[0]
		if _, ok := f.entries[entry]; ok {
			return &fs.PathError{Op: "write", Path: p, Err: syscall.EEXIST}
		}
		f.entries[entry] = s
		return nil
	}
	if _, ok := f.entries[name]; !ok || s != "-1" {
		return &fs.PathError{Op: "write", Path: p, Err: syscall.EINVAL}
	}
	delete(f.entries, name)
	return nil
}

func useFake(t *testing.T, mount string, entries map[string]string) *fakeBinfmt {
	f := &fakeBinfmt{mount: mount, entries: entries}
	writeFile = f.write
	t.Cleanup(func() { writeFile = writeExisting })
	return f
}

func TestRunRegistersEveryLineAndReplacesOldEntries(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "00-a.conf"), []byte(`# comment
:qemu-aarch64:M::\x7fELF\x02:\xff\xff\xff\xff\xff:/usr/bin/qemu-aarch64:CF

:qemu-arm:M::\x7fELF\x01:\xff\xff\xff\xff\xff:/usr/bin/qemu-arm:CF
`), 0o644)
	os.WriteFile(filepath.Join(dir, "10-b"), []byte(",dos,E,,com,,/usr/bin/dosbox,\n"), 0o644)
	f := useFake(t, "/mnt", map[string]string{"qemu-arm": ":qemu-arm:old"})

	if failed := run(dir, "/mnt", slog.New(slog.DiscardHandler)); failed != 0 {
		t.Fatalf("failed = %d; writes %v", failed, f.writes)
	}
	for _, name := range []string{"qemu-aarch64", "qemu-arm", "dos"} {
		if !strings.Contains(f.entries[name], "/usr/bin/") {
			t.Errorf("entry %s = %q, not the file's line", name, f.entries[name])
		}
	}
	if !strings.Contains(strings.Join(f.writes, "\n"), "qemu-arm <- -1") {
		t.Errorf("the old qemu-arm entry was not removed first: %v", f.writes)
	}
}

func TestParseRefusesLinesThatNameNoEntry(t *testing.T) {
	for _, line := range []string{":register:M::\\x7f::/bin/x:", ":../x:M::\\x7f::/bin/x:", ":qemu:M:", "::M::\\x7f::/bin/x:"} {
		conf := filepath.Join(t.TempDir(), "bad.conf")
		os.WriteFile(conf, []byte("# ok\n"+line+"\n"), 0o644)
		if _, err := parseFile(conf); err == nil || !strings.Contains(err.Error(), "bad.conf:2:") {
			t.Errorf("%q: err = %v, want one naming bad.conf:2", line, err)
		}
	}
}

func TestAFailedRegistrationIsCountedAndTheRestStillDone(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.conf"), []byte(":one:M::\\x01::/bin/one:F\n"), 0o644)
	useFake(t, "/elsewhere", map[string]string{}) // register is not where run writes
	if failed := run(dir, "/mnt", slog.New(slog.DiscardHandler)); failed != 1 {
		t.Errorf("failed = %d, want 1", failed)
	}
}

// The registrations shipped in the image parse and name LinuxKit's
// emulators at the paths the recipe puts them.
func TestShippedRegistrations(t *testing.T) {
	regs, err := parseFile("../../etc/binfmt.d/00_linuxkit.conf")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range regs {
		names = append(names, r.Name)
		if !strings.HasSuffix(r.Line, ":/usr/bin/"+r.Name+":CF") {
			t.Errorf("%s: %s does not run /usr/bin/%s with flags CF", r.At, r.Name, r.Name)
		}
	}
	if got := strings.Join(names, " "); got != "qemu-aarch64 qemu-arm qemu-ppc64le qemu-s390x qemu-riscv64 qemu-loongarch64" {
		t.Errorf("registers %s", got)
	}
}
