package tests

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/minikit/minikit/internal/testenv"
)

// LinuxKit's own specs build unchanged: their package images are replaced
// by minikit's.
func TestLinuxKitExamplesBuild(t *testing.T) {
	dir := testenv.LinuxKitExamples(t)
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
