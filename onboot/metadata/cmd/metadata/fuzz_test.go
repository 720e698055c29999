package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// FuzzWriteUserData writes user data as a provider would give it, over the
// config of an earlier run, and checks what lands on disk: on success
// exactly the provider's files and the user data's tree, the provider's
// as the provider gave them; on failure the earlier config untouched;
// either way nothing beside the config directory.
func FuzzWriteUserData(f *testing.F) {
	for _, seed := range []string{
		`{"ssh": {"entries": {"sshd_config": {"perm": "0600", "content": "PermitRootLogin no"}}}}`,
		`{"ssh": {"entries": {"authorized_keys": {"content": "ssh-ed25519 AAAAstranger"}}}}`,
		`{"ssh": {"perm": "0777", "entries": {}}}`,
		`{"hostname": {"content": "box"}, "app": {"perm": "0500", "entries": {"conf": {"perm": "0400", "content": "x"}}}}`,
		`{"..": {"entries": {"etc": {"content": "x"}}}}`,
		`{"a": {"content": "1"}, "b/c": {"content": "2"}}`,
		`{"provider": {"content": "aws"}}`,
		`{"userdata": {"entries": {}}}`,
		`{"x": {"perm": "4755", "content": "a"}}`,
		`{"d": {"entries": {"e": {"entries": {"f": {"content": ""}}}}}}`,
		`#cloud-config` + "\nusers: []\n",
		`[1, 2]`,
		`{"kubernetes": {"server": "https://k:6443", "token": "abcdef.0123456789abcdef"}}`,
	} {
		f.Add([]byte(seed), true, true)
		f.Add([]byte(seed), false, false)
	}
	f.Fuzz(func(t *testing.T, userdata []byte, keys, hostname bool) {
		tmp := t.TempDir()
		t.Cleanup(func() { makeReadable(tmp) })
		config := filepath.Join(tmp, "config")
		earlier := &metadata{provider: "earlier", userdata: []byte(`{"kept": {"content": "from before"}}`)}
		if err := earlier.write(config); err != nil {
			t.Fatal(err)
		}
		before := listing(t, config)

		md := &metadata{provider: "fuzz", userdata: userdata}
		if keys {
			md.sshKeys = []string{"ssh-ed25519 AAAAprovider"}
		}
		if hostname {
			md.hostname = "provider-host"
		}
		err := md.write(config)
		if entries, _ := os.ReadDir(tmp); len(entries) != 1 || entries[0].Name() != "config" {
			t.Fatalf("beside the config directory: %v", entries)
		}
		got := listing(t, config)
		if err != nil {
			if !maps.Equal(got, before) {
				t.Fatalf("write failed (%v) and changed the config:\n%v\nwas\n%v", err, got, before)
			}
			return
		}
		want := expected(keys, hostname, userdata)
		if !maps.Equal(got, want) {
			t.Fatalf("the config holds\n%v\nwant\n%v", show(got), show(want))
		}
		if mode, _ := parseMode(got["ssh"]); keys && mode&0o022 != 0 {
			t.Fatalf("the provider's keys are in a directory %v", got["ssh"])
		}
	})
}

// expected is what the config should hold for a provider that gave
// keys and a hostname, or not, and userdata, by the rules the
// README gives user data: a file per content, a directory per entries,
// perm or 0644/0755, and the provider's files as the provider gave them.
func expected(keys, hostname bool, userdata []byte) map[string]string {
	want := map[string]string{
		".":        "drwxr-xr-x",
		"provider": "-rw-r--r-- fuzz\n",
		"userdata": "-rw-r--r-- " + string(userdata),
	}
	if keys {
		want["ssh"] = "drwxr-xr-x"
		want["ssh/authorized_keys"] = "-rw------- ssh-ed25519 AAAAprovider\n"
	}
	if hostname {
		want["hostname"] = "-rw-r--r-- provider-host"
	}
	// Only an object of LinuxKit's fields alone is a tree; any other
	// user data stays as it is, for its own reader.
	var tree map[string]entry
	dec := json.NewDecoder(bytes.NewReader(userdata))
	dec.DisallowUnknownFields()
	if dec.Decode(&tree) != nil {
		return want
	}
	providers := maps.Clone(want)
	var add func(dir string, entries map[string]entry)
	add = func(dir string, entries map[string]entry) {
		for name, e := range entries {
			p := path.Join(dir, name)
			if mode, ok := providers[p]; ok && !strings.HasPrefix(mode, "d") {
				continue // the provider's, whatever user data says
			}
			mode := os.FileMode(0o644)
			if e.Entries != nil {
				mode = 0o755 | fs.ModeDir
			}
			if e.Perm != "" {
				n, _ := strconv.ParseUint(e.Perm, 8, 32)
				mode = mode.Type() | os.FileMode(n)
			}
			if e.Content != nil {
				want[p] = mode.String() + " " + *e.Content
				continue
			}
			if _, ok := want[p]; !ok || e.Perm != "" {
				want[p] = mode.String()
			}
			add(p, e.Entries)
		}
	}
	add("", tree)
	return want
}

// listing is every file under dir, by slash path: its mode, and a regular
// file's content. Directories are made readable on the way, since user
// data may make them 0000 and the fuzzer need not run as root.
func listing(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = fi.Mode().String()
		switch {
		case fi.IsDir():
			return os.Chmod(p, fi.Mode().Perm()|0o700)
		case fi.Mode().IsRegular():
			if err := os.Chmod(p, fi.Mode().Perm()|0o600); err != nil {
				return err
			}
			data, err := os.ReadFile(p)
			out[filepath.ToSlash(rel)] += " " + string(data)
			return err
		default:
			return fmt.Errorf("%s is a %v: the config holds only files and directories", rel, fi.Mode().Type())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// Put the modes back, deepest first, as they were listed.
	for _, rel := range slices.Backward(slices.Sorted(maps.Keys(out))) {
		mode, _, _ := strings.Cut(out[rel], " ")
		if perm, ok := parseMode(mode); ok {
			os.Chmod(filepath.Join(dir, rel), perm)
		}
	}
	return out
}

// parseMode reads back the permission bits of FileMode.String's form.
func parseMode(s string) (os.FileMode, bool) {
	if len(s) < 9 {
		return 0, false
	}
	var m os.FileMode
	for i, c := range s[len(s)-9:] {
		if c != '-' {
			m |= 1 << (8 - i)
		}
	}
	return m, true
}

func makeReadable(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
}

func show(m map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "%s %.60q\n", k, m[k])
	}
	return b.String()
}
