package pkgbuild

import (
	"debug/elf"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dynamicProgram is a dynamically linked program of the build host and
// what it needs, or skips the test when the host has none.
func dynamicProgram(t *testing.T) (path string, deps *elfDeps) {
	t.Helper()
	for _, p := range []string{"/usr/bin/ls", "/bin/ls", "/usr/bin/env"} {
		deps, err := elfNeeds(p)
		if err == nil && deps != nil && deps.interp != "" && len(deps.libs) > 0 {
			return p, deps
		}
	}
	t.Skip("no dynamically linked program on this machine to test with")
	return "", nil
}

func copyFile(t *testing.T, src, dest string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	os.MkdirAll(filepath.Dir(dest), 0o755)
	out, err := os.Create(dest)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
}

// mergedRoot is an empty image tree with Debian's usrmerge links.
func mergedRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := usrMergeLinks(r); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestCheckLibrariesNamesTheProgramAndWhatItLacks(t *testing.T) {
	prog, deps := dynamicProgram(t)
	root := mergedRoot(t)
	copyFile(t, prog, filepath.Join(root, "usr/bin/prog"))

	err := CheckLibraries(root)
	var missing *MissingLibrariesError
	if !errors.As(err, &missing) {
		t.Fatalf("CheckLibraries = %v, want a MissingLibrariesError", err)
	}
	msg := err.Error()
	for _, want := range append([]string{deps.interp}, deps.libs...) {
		if !strings.Contains(msg, "/usr/bin/prog needs "+want+", which the image lacks") {
			t.Errorf("the error does not say that /usr/bin/prog needs %s:\n%s", want, msg)
		}
	}

	// Give it its loader and libraries, from the host, where the loader
	// would find them: the error goes away.
	copyFile(t, deps.interp, filepath.Join(root, deps.interp))
	for _, lib := range deps.libs {
		found := false
		for _, dir := range libraryDirs {
			if _, err := os.Stat(filepath.Join(dir, lib)); err == nil {
				copyFile(t, filepath.Join(dir, lib), filepath.Join(root, "usr/lib/x86_64-linux-gnu", lib))
				found = true
				break
			}
		}
		if !found {
			t.Skipf("the host's %s is not in a trusted directory", lib)
		}
	}
	if err := CheckLibraries(root); err != nil {
		// The host's libraries may need more libraries in turn: those
		// must be named, and nothing of prog's own.
		if strings.Contains(err.Error(), "/usr/bin/prog needs") {
			t.Fatalf("with its libraries present, prog is still reported:\n%v", err)
		}
	}
}

func TestCheckLibrariesPassesStaticProgramsAndOtherFiles(t *testing.T) {
	root := mergedRoot(t)
	// A static Go program, built as recipes build them.
	static := filepath.Join(t.TempDir(), "static")
	if err := goBuild(t.Context(), ".", "./cmd/busybox-links", static, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if f, err := elf.Open(static); err != nil || f.Section(".interp") != nil {
		t.Fatalf("CGO_ENABLED=0 build is not a static ELF: %v", err)
	}
	copyFile(t, static, filepath.Join(root, "usr/bin/static"))
	os.WriteFile(filepath.Join(root, "usr/bin/script"), []byte("#!/bin/sh\necho\n"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/bin/short"), []byte("\x7fEL"), 0o644)
	if err := CheckLibraries(root); err != nil {
		t.Fatalf("CheckLibraries = %v, want nil", err)
	}
}

func TestResolveInStaysInsideTheRoot(t *testing.T) {
	root := mergedRoot(t)
	os.MkdirAll(filepath.Join(root, "usr/lib/x86_64-linux-gnu"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"), nil, 0o755)
	os.MkdirAll(filepath.Join(root, "usr/lib64"), 0o755)
	// As libc6 ships it: an absolute link, through the /lib link.
	os.Symlink("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", filepath.Join(root, "usr/lib64/ld-linux-x86-64.so.2"))
	os.Symlink("/etc/passwd", filepath.Join(root, "usr/lib/escape"))
	os.Symlink("../../../../../etc/passwd", filepath.Join(root, "usr/lib/climb"))

	got, err := resolveIn(root, "/lib64/ld-linux-x86-64.so.2")
	if err != nil || got != "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" {
		t.Errorf("resolveIn(loader) = %q, %v", got, err)
	}
	for _, p := range []string{"/usr/lib/escape", "/usr/lib/climb"} {
		if existsIn(root, p) {
			t.Errorf("%s resolved to the build host's /etc/passwd", p)
		}
	}
	os.Symlink("loop", filepath.Join(root, "loop"))
	if existsIn(root, "/loop") {
		t.Error("a symlink loop resolved")
	}
}

func TestCheckStatic(t *testing.T) {
	static := filepath.Join(t.TempDir(), "static")
	if err := goBuild(t.Context(), ".", "./cmd/busybox-links", static, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := CheckStatic(static); err != nil {
		t.Errorf("a static Go program: %v", err)
	}
	// The test binary itself is linked as go test links it; the host's
	// sh is dynamic on every Debian.
	if err := CheckStatic("/bin/sh"); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("/bin/sh: %v, want dynamically linked", err)
	}
	script := filepath.Join(t.TempDir(), "script")
	os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755)
	if err := CheckStatic(script); err == nil || !strings.Contains(err.Error(), "not an ELF") {
		t.Errorf("a script: %v, want not an ELF executable", err)
	}
}
