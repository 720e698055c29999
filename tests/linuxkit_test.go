package tests

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedExamples finds LinuxKit's example specs, kept beside the
// repository.
func sharedExamples(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "linuxkit-examples")
	if d := os.Getenv("MINIKIT_SHARED"); d != "" {
		dir = filepath.Join(d, "linuxkit-examples")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("LinuxKit's examples are not at %s (set MINIKIT_SHARED)", dir)
	}
	return dir
}

// LinuxKit's own specs build unchanged: their package images are replaced
// by minikit's.
func TestLinuxKitExamplesBuild(t *testing.T) {
	dir := sharedExamples(t)
	for _, name := range []string{"minimal", "getty", "sshd"} {
		t.Run(name, func(t *testing.T) {
			prefix := build(t, name, filepath.Join(dir, name+".yml"))
			for _, suffix := range []string{"-kernel", "-initrd.img", "-cmdline"} {
				if fi, err := os.Stat(prefix + suffix); err != nil || fi.Size() == 0 {
					t.Errorf("%s%s: %v", name, suffix, err)
				}
			}
		})
	}
}
