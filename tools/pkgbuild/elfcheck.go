package pkgbuild

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// libraryDirs are where the dynamic loader looks without an ld.so.cache:
// glibc's trusted directories, with Debian's multiarch ones first. Images
// carry no ld.so.cache, so a library anywhere else is not found at run
// time unless an RUNPATH names its directory.
var libraryDirs = []string{
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
	"/lib64", "/usr/lib64", "/lib", "/usr/lib",
}

// MissingLibrary is one dependency an ELF file of the image cannot meet.
type MissingLibrary struct {
	File    string // the ELF file, as a path in the image
	Library string // a soname, or the interpreter's path
	Hint    string // the Debian package that has it on the build host, if known
}

func (m MissingLibrary) String() string {
	s := fmt.Sprintf("%s needs %s, which the image lacks", m.File, m.Library)
	if m.Hint != "" {
		s += " (on this build host it comes with Debian package " + m.Hint + ")"
	}
	return s
}

// MissingLibrariesError lists every unmet dependency of an image.
type MissingLibrariesError struct{ Missing []MissingLibrary }

func (e *MissingLibrariesError) Error() string {
	lines := make([]string, len(e.Missing))
	for i, m := range e.Missing {
		lines[i] = m.String()
	}
	return "shared libraries missing from the image (add their packages to debian:):\n  " + strings.Join(lines, "\n  ")
}

// CheckLibraries reads every ELF executable and shared object under root
// and returns a *MissingLibrariesError naming each file whose interpreter
// (PT_INTERP) or needed library (DT_NEEDED) is not in the image, searched
// as the dynamic loader would: RUNPATH (or RPATH) with $ORIGIN, then the
// trusted library directories. Paths are resolved inside root, absolute
// symlinks included. Static programs and kernel modules need nothing.
func CheckLibraries(root string) error {
	var missing []MissingLibrary
	found := map[string]bool{} // "dir\x00soname" → present
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		inImage := "/" + filepath.ToSlash(rel)
		needs, err := elfNeeds(p)
		if err != nil {
			return fmt.Errorf("check libraries of %s: %w", inImage, err)
		}
		if needs == nil {
			return nil
		}
		if needs.interp != "" && !existsIn(root, needs.interp) {
			missing = append(missing, MissingLibrary{File: inImage, Library: needs.interp})
		}
		dirs := make([]string, 0, len(needs.runpath)+len(libraryDirs))
		for _, rp := range needs.runpath {
			dirs = append(dirs, strings.ReplaceAll(strings.ReplaceAll(rp, "${ORIGIN}", "$ORIGIN"), "$ORIGIN", path.Dir(inImage)))
		}
		dirs = append(dirs, libraryDirs...)
		for _, lib := range needs.libs {
			if strings.Contains(lib, "/") {
				if !existsIn(root, path.Join(path.Dir(inImage), lib)) {
					missing = append(missing, MissingLibrary{File: inImage, Library: lib})
				}
				continue
			}
			ok := slices.ContainsFunc(dirs, func(dir string) bool {
				key := dir + "\x00" + lib
				if have, seen := found[key]; seen {
					return have
				}
				found[key] = existsIn(root, path.Join(dir, lib))
				return found[key]
			})
			if !ok {
				missing = append(missing, MissingLibrary{File: inImage, Library: lib})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(missing) == 0 {
		return nil
	}
	hints := map[string]string{} // dpkg-query takes a while: once per library
	for i, m := range missing {
		if _, ok := hints[m.Library]; !ok {
			hints[m.Library] = hostPackage(m.Library)
		}
		missing[i].Hint = hints[m.Library]
	}
	return &MissingLibrariesError{Missing: missing}
}

// elfDeps is what loading one ELF file needs.
type elfDeps struct {
	interp  string
	libs    []string
	runpath []string
}

// elfNeeds reads an ELF file's dependencies; nil for a file that is no
// ELF executable or shared object.
func elfNeeds(p string) (*elfDeps, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil || !bytes.Equal(magic, []byte(elf.ELFMAG)) {
		return nil, nil
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, nil // ELF magic but not an ELF we can read: not ours to judge
	}
	if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
		return nil, nil
	}
	deps := &elfDeps{}
	for _, prog := range ef.Progs {
		if prog.Type == elf.PT_INTERP {
			b, err := io.ReadAll(prog.Open())
			if err != nil {
				return nil, fmt.Errorf("read PT_INTERP: %w", err)
			}
			deps.interp = string(bytes.TrimRight(b, "\x00"))
		}
	}
	if ef.Section(".dynamic") == nil && deps.interp == "" {
		return deps, nil
	}
	if deps.libs, err = ef.DynString(elf.DT_NEEDED); err != nil {
		return nil, fmt.Errorf("read DT_NEEDED: %w", err)
	}
	runpath, _ := ef.DynString(elf.DT_RUNPATH)
	if len(runpath) == 0 {
		runpath, _ = ef.DynString(elf.DT_RPATH)
	}
	for _, rp := range runpath {
		deps.runpath = append(deps.runpath, strings.Split(rp, ":")...)
	}
	return deps, nil
}

// existsIn reports whether name exists inside root, following symlinks
// as they would resolve with root as /.
func existsIn(root, name string) bool {
	_, err := resolveIn(root, name)
	return err == nil
}

// resolveIn resolves name inside root as if root were /: symlinks are
// followed, an absolute target starts again at root, and ".." stops at
// root. It returns the resolved path in the image.
func resolveIn(root, name string) (string, error) {
	parts := strings.Split(name, "/")
	resolved := "/"
	for links := 0; len(parts) > 0; {
		part := parts[0]
		parts = parts[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			resolved = path.Dir(resolved)
			continue
		}
		next := path.Join(resolved, part)
		fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(next)))
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			resolved = next
			continue
		}
		if links++; links > 40 {
			return "", fmt.Errorf("%s: too many levels of symbolic links", name)
		}
		target, err := os.Readlink(filepath.Join(root, filepath.FromSlash(next)))
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			resolved = "/"
		}
		parts = append(strings.Split(target, "/"), parts...)
	}
	return resolved, nil
}

// hostPackage names the Debian package that holds lib on the build host,
// or "" when dpkg does not know: a hint for the error, never a decision.
func hostPackage(lib string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "dpkg-query", "--search", "*/"+path.Base(lib)).Output()
	if err != nil {
		return ""
	}
	var pkgs []string
	for line := range strings.Lines(string(out)) {
		names, _, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		for n := range strings.SplitSeq(names, ", ") {
			n, _, _ = strings.Cut(n, ":") // libc6:amd64 → libc6
			if !slices.Contains(pkgs, n) {
				pkgs = append(pkgs, n)
			}
		}
	}
	return strings.Join(pkgs, " or ")
}

// CheckStatic refuses a program that needs a dynamic loader or shared
// libraries, which could not run where there is no libc: an initrd, or
// an image that carries nothing but the program.
func CheckStatic(path string) error {
	deps, err := elfNeeds(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if deps == nil {
		return fmt.Errorf("%s is not an ELF executable", path)
	}
	if deps.interp != "" || len(deps.libs) > 0 {
		return fmt.Errorf("%s is dynamically linked (interpreter %q, libraries %v)", path, deps.interp, deps.libs)
	}
	return nil
}
