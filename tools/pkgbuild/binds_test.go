package pkgbuild

import (
	"encoding/json"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// No image of ours binds all of /run, which holds sshd's host keys, runc's
// and init's state, and the control socket; and only sshd binds the host
// keys' directory. The system's root is bound (mount's /hostroot, as
// LinuxKit's) only with its /run masked, and as a slave, so that the mask
// cannot propagate back over the system's /run.
func TestNoImageBindsAllOfRun(t *testing.T) {
	dirs := recipeDirs(t)
	services, err := filepath.Glob(filepath.Join("../../services", "*", RecipeFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range services {
		dirs = append(dirs, filepath.Dir(f))
	}
	for _, dir := range dirs {
		r, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if r.Config == "" {
			continue
		}
		var label struct{ Binds, MaskedPaths []string }
		if err := json.Unmarshal([]byte(r.Config), &label); err != nil {
			t.Fatalf("%s: label: %v", r.File, err)
		}
		for _, b := range label.Binds {
			parts := strings.Split(b, ":")
			src := path.Clean(parts[0])
			switch {
			case src == "/" && len(parts) == 3 && strings.Contains(","+parts[2]+",", ",rslave,") &&
				slices.Contains(label.MaskedPaths, path.Join(parts[1], "run")):
				// The root, its /run hidden.
			case src == "/run" || src == "/":
				t.Errorf("%s binds %s: all of the system's /run", r.File, b)
			case (src == "/run/ssh" || strings.HasPrefix(src, "/run/ssh/")) && r.Image != "minikit/sshd":
				t.Errorf("%s binds %s: sshd's host keys", r.File, b)
			case src == "/run/init" || strings.HasPrefix(src, "/run/init/"):
				t.Errorf("%s binds %s: init's private state", r.File, b)
			}
		}
	}
}
