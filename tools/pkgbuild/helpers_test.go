package pkgbuild

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/minikit/minikit/internal/testenv"
	"github.com/minikit/minikit/tools/images"
)

// needRootAndApt skips a test that downloads Debian packages and unpacks
// them as root when this machine cannot, or fails it when
// MINIKIT_REQUIRE_ROOT=1 says it must.
func needRootAndApt(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no Debian packages")
	}
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root (to unpack Debian packages with their owners and run chroot)"
	} else if _, err := exec.LookPath("apt-get"); err != nil {
		why = "needs apt-get and Debian's archive"
	} else if _, err := resolveDebs(t.Context(), []Package{{Name: "busybox-static"}}, slog.New(slog.DiscardHandler)); err != nil {
		why = "apt cannot resolve packages here: " + err.Error()
	}
	if why == "" {
		return
	}
	testenv.Unavailable(t, testenv.RequireRootEnv, "%s", why)
}

// recipeDir makes a recipe directory inside the module (so that its Go
// packages resolve) holding files, removed after the test. Its name starts
// with "_" so that the go tool ignores it should the test die.
func recipeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir, err := os.MkdirTemp(".", "_recipe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func openStore(t *testing.T) *images.Store {
	t.Helper()
	st, err := images.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func build(t *testing.T, dir string, st *images.Store, force bool) *Result {
	t.Helper()
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Build(t.Context(), r, Options{Store: st, Force: force, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// unpack returns the stored image's tree and config.
func unpack(t *testing.T, st *images.Store, ref string) (string, v1.Config) {
	t.Helper()
	img, err := st.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := images.Unpack(img, dir, images.UnpackOptions{IgnoreOwners: os.Geteuid() != 0}); err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return dir, cfg.Config
}
