// Package testenv decides, in one place, whether a test that needs
// something this machine may lack (root, a tool, qemu, the LinuxKit
// examples) runs, skips or fails.
//
// On a developer's machine a missing need skips the test and says why. CI
// sets MINIKIT_REQUIRE_ROOT=1 and MINIKIT_REQUIRE_QEMU=1 (make test does):
// there the same miss fails the test, so that a broken setup can never
// pass by skipping what it was meant to run.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The environment variables that turn skips into failures.
const (
	RequireRootEnv = "MINIKIT_REQUIRE_ROOT"
	RequireQEMUEnv = "MINIKIT_REQUIRE_QEMU"
)

// Required reports whether env is set to 1, that is whether the tests it
// guards must run here.
func Required(env string) bool { return os.Getenv(env) == "1" }

// Unavailable skips t with the reason, or fails it when env requires the
// test to run.
func Unavailable(t testing.TB, env, format string, args ...any) {
	t.Helper()
	why := fmt.Sprintf(format, args...)
	if Required(env) {
		t.Fatalf("%s=1 but this test cannot run: %s", env, why)
	}
	t.Skip(why)
}

// Root makes sure the test runs as root with each of tools on PATH (a tool
// may be written "NAME (apt-get install PACKAGE)": only NAME is looked up,
// the rest is the hint shown when it is missing).
func Root(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, RequireRootEnv, "needs root")
	}
	Tools(t, RequireRootEnv, tools...)
}

// Tools makes sure each of tools is on PATH, failing instead of skipping
// when env requires the test.
func Tools(t testing.TB, env string, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		name, hint := tool, ""
		for i := range len(tool) {
			if tool[i] == ' ' {
				name, hint = tool[:i], tool[i:]
				break
			}
		}
		if _, err := exec.LookPath(name); err != nil {
			Unavailable(t, env, "needs %s%s", name, hint)
		}
	}
}

// QEMU makes sure the test may boot a guest: not under -short, and with
// MINIKIT_REQUIRE_QEMU deciding whether a miss fails.
func QEMU(t testing.TB) {
	t.Helper()
	if testing.Short() {
		Unavailable(t, RequireQEMUEnv, "booting a guest in qemu is not a short test")
	}
}

// SharedEnv names the folder that holds linuxkit-examples/, when it is not
// a shared/ folder beside the checkout or above it.
const SharedEnv = "MINIKIT_SHARED"

// LinuxKitExamples returns the folder of LinuxKit's example specs, which
// minikit must read unchanged: $MINIKIT_SHARED/linuxkit-examples, or the
// first shared/linuxkit-examples found going up from the test's
// directory. CI has them beside its clone, so there (under either
// MINIKIT_REQUIRE_*) a miss fails.
func LinuxKitExamples(t testing.TB) string {
	t.Helper()
	env := RequireQEMUEnv
	if Required(RequireRootEnv) {
		env = RequireRootEnv
	}
	if shared := os.Getenv(SharedEnv); shared != "" {
		dir := filepath.Join(shared, "linuxkit-examples")
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			Unavailable(t, env, "LinuxKit's examples are not at %s (%s=%s)", dir, SharedEnv, shared)
		}
		return dir
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		dir := filepath.Join(d, "shared", "linuxkit-examples")
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return dir
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	Unavailable(t, env, "LinuxKit's examples (shared/linuxkit-examples) are not beside or above %s; set %s to the folder that holds them", wd, SharedEnv)
	return ""
}
