package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/minikit/minikit/internal/atomicfile"
)

// metadata is what a provider told about this instance.
type metadata struct {
	provider string
	hostname string
	sshKeys  []string
	userdata []byte
}

// write lays md out under dir. Each file is written whole through a
// temporary file, so a reader never sees half of one.
func (md *metadata) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, "provider"), []byte(md.provider+"\n"), 0o644); err != nil {
		return err
	}
	if md.hostname != "" {
		if err := atomicfile.Write(filepath.Join(dir, "hostname"), []byte(md.hostname), 0o644); err != nil {
			return err
		}
	}
	if len(md.sshKeys) > 0 {
		if err := os.MkdirAll(filepath.Join(dir, "ssh"), 0o755); err != nil {
			return err
		}
		keys := strings.Join(md.sshKeys, "\n") + "\n"
		if err := atomicfile.Write(filepath.Join(dir, "ssh", "authorized_keys"), []byte(keys), 0o600); err != nil {
			return err
		}
	}
	if md.userdata == nil {
		return nil
	}
	if err := atomicfile.Write(filepath.Join(dir, "userdata"), md.userdata, 0o644); err != nil {
		return err
	}
	var tree map[string]entry
	if json.Unmarshal(md.userdata, &tree) != nil {
		return nil // user data that is not LinuxKit's JSON form stays as it is
	}
	reserved := map[string]bool{"provider": true, "userdata": true, "hostname": md.hostname != ""}
	if err := writeTree(dir, tree, "userdata", reserved); err != nil {
		return fmt.Errorf("user data: %w", err)
	}
	// Without a hostname from the provider (a CD-ROM has none), user data
	// may give one, as a top-level file, as with LinuxKit.
	if md.hostname == "" {
		if name, err := os.ReadFile(filepath.Join(dir, "hostname")); err == nil {
			md.hostname = cleanHostname(string(name))
		}
	}
	return nil
}

// entry is one node of LinuxKit's JSON user data: a file (content) or a
// directory (entries), with an optional octal perm.
type entry struct {
	Perm    string           `json:"perm"`
	Content *string          `json:"content"`
	Entries map[string]entry `json:"entries"`
}

// writeTree writes the entries of one directory. Names are single path
// elements: user data comes from outside and must not write elsewhere
// (../, /etc/…), nor, at the top, over the reserved names that this
// program writes from the metadata itself.
func writeTree(dir string, entries map[string]entry, at string, reserved map[string]bool) error {
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		e := entries[name]
		where := at + "." + name
		switch {
		case name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00"):
			return fmt.Errorf("%s: %q is not a file name", where, name)
		case reserved[name]:
			return fmt.Errorf("%s: %q is written from the metadata itself", where, name)
		case (e.Content == nil) == (e.Entries == nil):
			return fmt.Errorf("%s: give either content (a file) or entries (a directory)", where)
		}
		mode := os.FileMode(0o644)
		if e.Entries != nil {
			mode = 0o755
		}
		if e.Perm != "" {
			n, err := strconv.ParseUint(e.Perm, 8, 32)
			if err != nil || n > 0o777 {
				return fmt.Errorf("%s: perm %q is not an octal mode up to 0777", where, e.Perm)
			}
			mode = os.FileMode(n)
		}
		p := filepath.Join(dir, name)
		if e.Content != nil {
			if err := atomicfile.Write(p, []byte(*e.Content), mode); err != nil {
				return err
			}
			continue
		}
		if err := os.Mkdir(p, mode); err != nil && !os.IsExist(err) {
			return err
		}
		if err := os.Chmod(p, mode); err != nil {
			return err
		}
		if err := writeTree(p, e.Entries, where, nil); err != nil {
			return err
		}
	}
	return nil
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
