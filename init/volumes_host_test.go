package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/bundle"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// addVolume lays a volume out as the packer does, with files as its
// content.
func addVolume(t *testing.T, tree, name string, readonly bool, files map[string]string) {
	t.Helper()
	lower, merged := bundle.VolumePaths(tree, name)
	for _, d := range []string{lower, merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for f, content := range files {
		if err := os.WriteFile(filepath.Join(lower, f), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := json.Marshal(bundle.VolumeConfig{Readonly: readonly})
	if err := os.WriteFile(filepath.Join(filepath.Dir(lower), "volume.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// withVolume binds a volume read-write, as a spec's "NAME:/dest" does.
func withVolume(tree, name, dest string) func(*specs.Spec) {
	return func(s *specs.Spec) {
		_, merged := bundle.VolumePaths(tree, name)
		s.Mounts = append(s.Mounts, specs.Mount{Destination: dest, Type: "bind", Source: merged, Options: []string{"rbind", "rw"}})
	}
}

// Volumes as LinuxKit's volumes.yml uses them: a blank one that an
// onboot container writes and a service reads, a populated one whose
// image content stays untouched under what containers write, and a
// read-only one that refuses writes even through a read-write bind. A
// volume init cannot read is reported, and boot goes on.
func TestHostVolumes(t *testing.T) {
	needRoot(t)
	rootfs := fullRootfs(t)
	tree := newTree(t)
	addVolume(t, tree, "blank", false, nil)
	addVolume(t, tree, "data", false, map[string]string{"greeting": "hello from the image"})
	addVolume(t, tree, "frozen", true, map[string]string{"rule": "do not touch"})
	addVolume(t, tree, "broken", false, nil)
	if err := os.WriteFile(filepath.Join(tree, bundle.VolumesDir, "broken/volume.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}

	writer := bundleSpec(rootfs, false, nil, "/bin/sh", "-c", "echo from onboot > /blank/note && echo changed > /data/greeting && echo wrote")
	withVolume(tree, "blank", "/blank")(writer)
	withVolume(tree, "data", "/data")(writer)
	writeBundle(t, filepath.Join(tree, bundle.OnbootDir, "000-writer"), writer)

	hostService(t, tree, rootfs, "reader",
		`echo "blank: $(cat /shared/note)"; echo "data: $(cat /d/greeting)"; echo "frozen: $(cat /f/rule)"
		if echo x > /f/new; then echo "frozen: written"; else echo "frozen: write refused"; fi`,
		map[string]string{bundle.AnnotationRestart: "never"},
		withVolume(tree, "blank", "/shared"), withVolume(tree, "data", "/d"), withVolume(tree, "frozen", "/f"))

	h := startHostInit(t, tree)
	h.lineIndex(`volume broken: .*broken/volume.json: unexpected end of JSON input`, 1, time.Minute)
	h.lineIndex(`writer: wrote`, 1, time.Minute)
	h.lineIndex(`reader: blank: from onboot`, 1, time.Minute)
	h.lineIndex(`reader: data: changed`, 1, time.Minute)
	h.lineIndex(`reader: frozen: do not touch`, 1, time.Minute)
	h.lineIndex(`reader: frozen: write refused`, 1, time.Minute)
	if code := h.stop(time.Minute); code != 0 {
		t.Errorf("init exited %d after SIGTERM", code)
	}

	lower, _ := bundle.VolumePaths(tree, "data")
	if got, _ := os.ReadFile(filepath.Join(lower, "greeting")); string(got) != "hello from the image" {
		t.Errorf("the image's content of volume data changed to %q", got)
	}
	if _, err := os.Stat(filepath.Join(tree, "containers/volumes/frozen/lower/new")); !os.IsNotExist(err) {
		t.Errorf("a file was written into the read-only volume: %v", err)
	}
}
