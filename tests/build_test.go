package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/minikit/minikit/internal/testenv"
)

// minikit returns the path of the built minikit binary, skipping the test
// when it is missing (failing instead under MINIKIT_REQUIRE_QEMU=1, as in
// CI, where a skip would hide a broken build).
func minikit(t testing.TB) string {
	t.Helper()
	bin, err := filepath.Abs("../bin/minikit")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		testenv.Unavailable(t, testenv.RequireQEMUEnv, "%s is missing: run make first", bin)
	}
	return bin
}

// build runs `minikit build` on specs (paths relative to this package)
// into a temporary directory and returns DIR/NAME.
func build(t testing.TB, name string, specs ...string) string {
	t.Helper()
	out := t.TempDir()
	args := append([]string{"build", "-o", out, "-name", name}, specs...)
	cmd := exec.Command(minikit(t), args...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		testenv.Unavailable(t, testenv.RequireQEMUEnv, "minikit build %v failed (are the base images in the store? run make images): %v\n%s", specs, err, msg)
	}
	return filepath.Join(out, name)
}

func TestBuildIsReproducible(t *testing.T) {
	a := build(t, "smoke", "images/smoke.yml")
	b := build(t, "smoke", "images/smoke.yml")
	for _, suffix := range []string{"-kernel", "-initrd.img", "-cmdline"} {
		da, err := os.ReadFile(a + suffix)
		if err != nil {
			t.Fatal(err)
		}
		db, err := os.ReadFile(b + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if string(da) != string(db) {
			t.Errorf("two builds of images/smoke.yml give different %s files", suffix)
		}
	}
}
