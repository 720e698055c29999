package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// metadata is what a provider told about this instance.
type metadata struct {
	provider string
	hostname string
	sshKeys  []string
	userdata []byte
}

// Bounds on the tree that user data may ask for. Configuration is a
// handful of files a few levels deep; these are far beyond that, and low
// enough that hostile user data cannot fill /run's tmpfs with inodes nor
// make each write walk thousands of directories.
const (
	maxEntries = 10000
	maxDepth   = 32
)

// write replaces dir with md's layout, all of it or nothing: the whole
// tree is built in a new directory beside dir and exchanged with dir in
// one rename, so that a reader (or a second run) finds the last complete
// config, never a part of one, and a run that fails leaves the last one
// as it was. The tree is new, so nothing already in dir (a link planted
// there, files of an earlier run) is followed or kept, and dir itself is
// replaced, never followed, when it is a link.
func (md *metadata) write(dir string) error {
	files, err := md.layout()
	if err != nil {
		return err
	}
	dir = filepath.Clean(dir)
	err = replaceBeside(dir, files)
	if errors.Is(err, errMountPoint) {
		// The metadata container is given /run/config alone, as a bind:
		// its parent is the image's read-only /run and a mount point
		// cannot be renamed. Swap what the directory holds instead.
		err = replaceInside(dir, files)
	}
	if err != nil {
		return err
	}
	if md.hostname == "" {
		// As in LinuxKit, user data names the host when the provider
		// does not (a CD-ROM never does).
		if f, ok := files["hostname"]; ok && !f.dir {
			md.hostname = cleanHostname(string(f.content))
		}
	}
	return nil
}

// errMountPoint says that the config directory cannot be replaced by a
// rename of its own: it is a mount point, or its parent is not writable.
var errMountPoint = errors.New("the config directory is a mount point")

// replaceBeside builds the new tree beside dir and swaps it in with one
// rename: readers see the old config or the new one, never a part.
func replaceBeside(dir string, files map[string]*node) error {
	parentDir, base := filepath.Dir(dir), filepath.Base(dir)
	if base == "." || base == ".." || base == string(filepath.Separator) {
		return fmt.Errorf("%s: the config directory must be named, to be replaced whole", dir)
	}
	if err := os.MkdirAll(parentDir, 0o755); err != nil {
		return err
	}
	parent, err := os.OpenRoot(parentDir)
	if err != nil {
		return err
	}
	defer parent.Close()
	stage := "." + base + ".new-" + rand.Text()
	if err := parent.Mkdir(stage, 0o700); err != nil {
		if errors.Is(err, unix.EROFS) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			return errMountPoint
		}
		return err
	}
	swapped := false
	defer func() {
		// Before the swap this is the unfinished tree; after it, the
		// tree of the run before.
		if err := parent.RemoveAll(stage); err != nil && swapped {
			slog.Warn("remove the previous config: "+err.Error(), "dir", filepath.Join(parentDir, stage))
		}
	}()
	if err := build(parent, stage, files); err != nil {
		return err
	}
	if err := swap(parent, stage, base); err != nil {
		if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EXDEV) {
			return errMountPoint
		}
		return fmt.Errorf("replace %s: %w", dir, err)
	}
	swapped = true
	return nil
}

// replaceInside builds the new tree in a hidden directory inside dir,
// then moves the old entries aside and the new ones in. Nothing is
// touched until the whole new tree is written, so bad input still changes
// nothing; only a reader looking during the moves could see a mix, and
// the metadata entry runs before the services that read its files.
func replaceInside(dir string, files map[string]*node) error {
	if fi, err := os.Lstat(dir); err != nil {
		return err
	} else if !fi.IsDir() {
		return fmt.Errorf("%s is a mount point but not a directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	stage, old := ".new-"+rand.Text(), ".old-"+rand.Text()
	if err := root.Mkdir(stage, 0o700); err != nil {
		return err
	}
	defer root.RemoveAll(stage)
	if err := build(root, stage, files); err != nil {
		return err
	}
	if err := root.Mkdir(old, 0o700); err != nil {
		return err
	}
	defer root.RemoveAll(old)
	names := func(d string) ([]string, error) {
		f, err := root.Open(d)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return f.Readdirnames(-1)
	}
	current, err := names(".")
	if err != nil {
		return err
	}
	for _, n := range current {
		if n != stage && n != old {
			if err := root.Rename(n, old+"/"+n); err != nil {
				return fmt.Errorf("replace %s: move %s aside: %w", dir, n, err)
			}
		}
	}
	fresh, err := names(stage)
	if err != nil {
		return err
	}
	for _, n := range fresh {
		if err := root.Rename(stage+"/"+n, n); err != nil {
			return fmt.Errorf("replace %s: move %s in: %w", dir, n, err)
		}
	}
	st, err := root.Stat(stage)
	if err != nil {
		return err
	}
	return chmodDir(root, ".", st.Mode().Perm())
}

// node is one file or directory to write, at a slash-separated path
// under the config directory.
type node struct {
	dir     bool
	mode    os.FileMode
	content []byte
}

// layout is every file md gives, by path: the provider's own first, then
// user data in LinuxKit's JSON form, which may add to them but never
// replace them.
func (md *metadata) layout() (map[string]*node, error) {
	files := map[string]*node{
		"provider": {mode: 0o644, content: []byte(md.provider + "\n")},
	}
	if md.hostname != "" {
		files["hostname"] = &node{mode: 0o644, content: []byte(md.hostname)}
	}
	if len(md.sshKeys) > 0 {
		files["ssh"] = &node{dir: true, mode: 0o755}
		files["ssh/authorized_keys"] = &node{mode: 0o600, content: []byte(strings.Join(md.sshKeys, "\n") + "\n")}
	}
	if md.userdata == nil {
		return files, nil
	}
	files["userdata"] = &node{mode: 0o644, content: md.userdata}
	// User data that is not LinuxKit's JSON form stays as it is, for its
	// own reader: a shell script, cloud-init, or an object of other keys
	// (a Kubernetes node's "kubernetes" object). Only an object whose
	// every entry has LinuxKit's fields is written as files.
	var tree map[string]entry
	dec := json.NewDecoder(bytes.NewReader(md.userdata))
	dec.DisallowUnknownFields()
	if dec.Decode(&tree) != nil {
		return files, nil
	}
	count := 0
	if err := addTree(files, "", "userdata", tree, 0, &count); err != nil {
		return nil, fmt.Errorf("user data: %w", err)
	}
	return files, nil
}

// entry is one node of LinuxKit's JSON user data: a file (content) or a
// directory (entries), with an optional octal perm.
type entry struct {
	Perm    string           `json:"perm"`
	Content *string          `json:"content"`
	Entries map[string]entry `json:"entries"`
}

// addTree adds the entries of the directory at dir (where, in the user
// data, is at). Names are single path elements: user data comes from
// outside and must not write elsewhere (../, /etc/…).
func addTree(files map[string]*node, dir, at string, entries map[string]entry, depth int, count *int) error {
	if depth >= maxDepth {
		return fmt.Errorf("%s: more than %d directories deep", at, maxDepth)
	}
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		e := entries[name]
		where := at + "." + name
		if *count++; *count > maxEntries {
			return fmt.Errorf("%s: more than %d files and directories", where, maxEntries)
		}
		switch {
		case name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00"):
			return fmt.Errorf("%s: %q is not a file name", where, name)
		case (e.Content == nil) == (e.Entries == nil):
			return fmt.Errorf("%s: give either content (a file) or entries (a directory)", where)
		}
		mode, err := perm(e, where)
		if err != nil {
			return err
		}
		p := path.Join(dir, name)
		if old, ok := files[p]; ok {
			// Only the provider's files are there before user data.
			switch {
			case !old.dir || e.Entries == nil:
				return fmt.Errorf("%s: %q is written from the metadata itself", where, p)
			case e.Perm != "" && mode&0o022 != 0:
				// It holds the provider's keys: a directory others can
				// write to would let them replace them.
				return fmt.Errorf("%s: perm %s would let others write beside the provider's files", where, e.Perm)
			case e.Perm != "":
				old.mode = mode
			}
		} else {
			files[p] = &node{dir: e.Entries != nil, mode: mode}
			if e.Content != nil {
				files[p].content = []byte(*e.Content)
			}
		}
		if e.Entries != nil {
			if err := addTree(files, p, where, e.Entries, depth+1, count); err != nil {
				return err
			}
		}
	}
	return nil
}

// perm is an entry's mode: its perm, or LinuxKit's defaults.
func perm(e entry, where string) (os.FileMode, error) {
	if e.Perm == "" {
		if e.Entries != nil {
			return 0o755, nil
		}
		return 0o644, nil
	}
	n, err := strconv.ParseUint(e.Perm, 8, 32)
	if err != nil || n > 0o777 {
		return 0, fmt.Errorf("%s: perm %q is not an octal mode up to 0777", where, e.Perm)
	}
	return os.FileMode(n), nil
}

// build writes files into the new directory stage under parent, through
// an os.Root, which refuses any path that leads out of it. Directories
// stay private and writable until everything is in them; they get their
// modes last, deepest first, so that a read-only one (0500) can still be
// filled.
func build(parent *os.Root, stage string, files map[string]*node) error {
	root, err := parent.OpenRoot(stage)
	if err != nil {
		return err
	}
	defer root.Close()
	// In lexical order a directory comes before what it holds.
	paths := slices.Sorted(maps.Keys(files))
	for _, p := range paths {
		n := files[p]
		var err error
		if n.dir {
			err = root.Mkdir(p, 0o700)
		} else {
			err = writeFile(root, p, n)
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	slices.Reverse(paths)
	for _, p := range append(paths, ".") {
		mode := os.FileMode(0o755)
		if n := files[p]; n != nil {
			if !n.dir {
				continue
			}
			mode = n.mode
		}
		if err := chmodDir(root, p, mode); err != nil {
			return fmt.Errorf("chmod %s: %w", p, err)
		}
	}
	// No fsync: the config lives in /run's tmpfs and is rebuilt at
	// every boot, so a crash cannot leave a torn one to be read later,
	// and readers see the old tree or the new by the swap alone.
	return nil
}

func writeFile(root *os.Root, p string, n *node) error {
	f, err := root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(n.content)
	if err == nil {
		err = f.Chmod(n.mode) // the exact mode, whatever the umask
	}
	return errors.Join(err, f.Close())
}

// chmodDir sets a directory's mode through its descriptor: Root.Chmod
// works by name and could be raced onto a link.
func chmodDir(root *os.Root, p string, mode os.FileMode) error {
	d, err := root.OpenFile(p, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	return errors.Join(d.Chmod(mode), d.Close())
}

// swap puts stage in the place of name, both under parent, in one
// rename: exchanged with what is there (left at stage's name for the
// caller to remove), or renamed into place when nothing is.
func swap(parent *os.Root, stage, name string) error {
	d, err := parent.Open(".")
	if err != nil {
		return err
	}
	defer d.Close()
	c, err := d.SyscallConn()
	if err != nil {
		return err
	}
	var rerr error
	err = c.Control(func(fd uintptr) {
		dfd := int(fd)
		rerr = unix.Renameat2(dfd, stage, dfd, name, unix.RENAME_EXCHANGE)
		if errors.Is(rerr, unix.ENOENT) {
			// NOREPLACE: a config that appears meanwhile is an error
			// rather than silently lost.
			rerr = unix.Renameat2(dfd, stage, dfd, name, unix.RENAME_NOREPLACE)
		}
	})
	return errors.Join(err, rerr)
}

// cleanHostname is a hostname as the kernel takes it: at most 64 bytes,
// else its first label (an EC2 name is often longer, its first label
// never).
func cleanHostname(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 64 {
		s, _, _ = strings.Cut(s, ".")
	}
	if len(s) > 64 || strings.ContainsAny(s, " /\x00\n") {
		return ""
	}
	return s
}

// lines splits text into its non-empty lines.
func lines(s string) []string {
	var out []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
