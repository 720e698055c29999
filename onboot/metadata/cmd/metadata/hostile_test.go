package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minikit/minikit/internal/testenv"
	"golang.org/x/sys/unix"
)

const (
	providerKey = "ssh-ed25519 AAAAprovider provider@cloud"
	strangerKey = "ssh-ed25519 AAAAstranger stranger@elsewhere"
)

// The keys the provider gives are the provider's: user data, which more
// people can often edit than the instance's keys, may not replace them.
func TestUserDataCannotReplaceTheProvidersKeys(t *testing.T) {
	for _, ud := range []string{
		`{"ssh": {"entries": {"authorized_keys": {"perm": "0644", "content": "` + strangerKey + `"}}}}`,
		`{"ssh": {"content": "` + strangerKey + `"}}`,
		`{"ssh": {"perm": "0777", "entries": {"sshd_config": {"content": "x"}}}}`,
	} {
		config := filepath.Join(t.TempDir(), "config")
		md := &metadata{provider: "aws", hostname: "box", sshKeys: []string{providerKey}, userdata: []byte(ud)}
		err := md.write(config)
		if err == nil || !strings.Contains(err.Error(), "userdata.ssh") {
			t.Errorf("user data %s: err = %v, want one naming userdata.ssh", ud, err)
		}
		if keys, _ := os.ReadFile(filepath.Join(config, "ssh", "authorized_keys")); strings.Contains(string(keys), "stranger") {
			t.Errorf("user data %s replaced the provider's keys with %q", ud, keys)
		}
		if fi, err := os.Stat(filepath.Join(config, "ssh")); err == nil && fi.Mode().Perm()&0o022 != 0 {
			t.Errorf("user data %s made the keys' directory %v", ud, fi.Mode())
		}
	}
	// Beside the provider's keys user data may still configure sshd.
	config := filepath.Join(t.TempDir(), "config")
	md := &metadata{provider: "aws", sshKeys: []string{providerKey}, userdata: []byte(
		`{"ssh": {"perm": "0700", "entries": {"sshd_config": {"content": "PermitRootLogin no\n"}}}}`)}
	if err := md.write(config); err != nil {
		t.Fatal(err)
	}
	wantFile(t, config, "ssh/authorized_keys", providerKey+"\n", 0o600)
	wantFile(t, config, "ssh/sshd_config", "PermitRootLogin no\n", 0o644)
	// Without keys from the provider (a CD-ROM), the user data's are the
	// only ones, as in LinuxKit.
	config = filepath.Join(t.TempDir(), "config")
	md = &metadata{provider: "cdrom", userdata: []byte(
		`{"ssh": {"entries": {"authorized_keys": {"perm": "0600", "content": "` + strangerKey + `"}}}}`)}
	if err := md.write(config); err != nil {
		t.Fatal(err)
	}
	wantFile(t, config, "ssh/authorized_keys", strangerKey, 0o600)
}

// Whatever links the config directory holds, or is, the files go in it
// and nowhere else.
func TestWriteNeverFollowsLinks(t *testing.T) {
	tmp := t.TempDir()
	outside := filepath.Join(tmp, "outside")
	if err := os.Mkdir(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(tmp, "secret")
	if err := os.WriteFile(secret, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(tmp, "config")
	if err := os.Mkdir(config, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"app": outside, "motd": secret} {
		if err := os.Symlink(target, filepath.Join(config, name)); err != nil {
			t.Fatal(err)
		}
	}
	md := &metadata{provider: "cdrom", userdata: []byte(`{
		"app": {"perm": "0777", "entries": {"conf": {"content": "x"}}},
		"motd": {"content": "hello"}
	}`)}
	if err := md.write(config); err != nil {
		t.Fatal(err)
	}
	wantFile(t, config, "app/conf", "x", 0o644)
	wantFile(t, config, "motd", "hello", 0o644)
	wantUntouched(t, outside, secret)

	// The config directory itself a link: replaced, not followed.
	linked := filepath.Join(tmp, "linked")
	if err := os.Symlink(outside, linked); err != nil {
		t.Fatal(err)
	}
	if err := md.write(linked); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(linked); err != nil || !fi.IsDir() {
		t.Errorf("%s is not a directory: %v, %v", linked, fi, err)
	}
	wantFile(t, linked, "app/conf", "x", 0o644)
	wantUntouched(t, outside, secret)
}

func wantUntouched(t *testing.T, outside, secret string) {
	t.Helper()
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("files were written outside the config directory: %v", entries)
	}
	if fi, err := os.Stat(outside); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the directory outside is now %v (%v), want 0700", fi.Mode(), err)
	}
	if data, _ := os.ReadFile(secret); string(data) != "keep" {
		t.Errorf("the file outside now holds %q", data)
	}
}

// A run that fails leaves the config of the last run that succeeded, and
// one that succeeds leaves exactly what its metadata says.
func TestWriteIsAllOrNothing(t *testing.T) {
	tmp := t.TempDir()
	config := filepath.Join(tmp, "config")
	writeRunsAllOrNothing(t, config)
	if entries, _ := os.ReadDir(tmp); len(entries) != 1 {
		t.Errorf("beside the config directory: %v, want nothing left over", entries)
	}
}

// snapshot is a listing of every file under dir, with modes and contents.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		b.WriteString(rel + " " + fi.Mode().String())
		if d.Type().IsRegular() {
			data, _ := os.ReadFile(path)
			b.WriteString(" " + string(data))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func wantFile(t *testing.T, dir, name, content string, mode os.FileMode) {
	t.Helper()
	path := filepath.Join(dir, name)
	fi, err := os.Lstat(path)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	data, _ := os.ReadFile(path)
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != mode || string(data) != content {
		t.Errorf("%s: %v holding %q, want a file %v holding %q", name, fi.Mode(), data, mode, content)
	}
}

// User data may not ask for more files, or deeper, than configuration
// needs: each costs an inode of /run's tmpfs, that is memory.
func TestUserDataTreeIsBounded(t *testing.T) {
	deep := `{"content": ""}`
	for range maxDepth + 1 {
		deep = `{"entries": {"d": ` + deep + `}}`
	}
	var many strings.Builder
	many.WriteString("{")
	for i := range maxEntries + 1 {
		if i > 0 {
			many.WriteString(",")
		}
		fmt.Fprintf(&many, `"f%d": {"content": ""}`, i)
	}
	many.WriteString("}")
	for name, ud := range map[string]string{"too deep": `{"d": ` + deep + `}`, "too many": many.String()} {
		config := filepath.Join(t.TempDir(), "config")
		err := (&metadata{provider: "cdrom", userdata: []byte(ud)}).write(config)
		if err == nil || !strings.Contains(err.Error(), "more than") {
			t.Errorf("%s: err = %v, want one saying more than the bound", name, err)
		}
		if _, err := os.Stat(config); !os.IsNotExist(err) {
			t.Errorf("%s: the config was written (%v)", name, err)
		}
	}
}

// Inside its container the config directory is a bind mount, which no
// rename can replace: the run swaps what it holds instead, still all or
// nothing against bad user data.
func TestWriteIntoAMountPoint(t *testing.T) {
	testenv.Root(t) // to bind-mount the config directory onto itself
	tmp := t.TempDir()
	config := filepath.Join(tmp, "config")
	if err := os.Mkdir(config, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(config, config, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(config, unix.MNT_DETACH) })
	writeRunsAllOrNothing(t, config)
}

// writeRunsAllOrNothing writes a first config into config, fails a run
// on hostile user data, which must change nothing, and checks that a
// second good run leaves exactly what its metadata says.
func writeRunsAllOrNothing(t *testing.T, config string) {
	t.Helper()
	first := &metadata{provider: "hetzner", hostname: "first", sshKeys: []string{providerKey},
		userdata: []byte(`{"a": {"content": "one"}, "old": {"entries": {"f": {"content": "gone"}}}}`)}
	if err := first.write(config); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, config)
	bad := &metadata{provider: "hetzner", hostname: "second",
		userdata: []byte(`{"a": {"content": "two"}, "z": {"entries": {"..": {"content": "x"}}}}`)}
	if err := bad.write(config); err == nil || !strings.Contains(err.Error(), "userdata.z") {
		t.Errorf("err = %v, want one naming userdata.z", err)
	}
	if after := snapshot(t, config); after != before {
		t.Errorf("a failed run changed the config:\n%s\nwas:\n%s", after, before)
	}
	second := &metadata{provider: "hetzner", hostname: "second", userdata: []byte(`{"a": {"content": "two"}}`)}
	if err := second.write(config); err != nil {
		t.Fatal(err)
	}
	want := "a -rw-r--r-- two\nhostname -rw-r--r-- second\nprovider -rw-r--r-- hetzner\n\nuserdata -rw-r--r-- {\"a\": {\"content\": \"two\"}}\n"
	if got := snapshot(t, config); got != want {
		t.Errorf("after a second run the config holds\n%s\nwant\n%s", got, want)
	}
}
