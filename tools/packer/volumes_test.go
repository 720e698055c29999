package packer

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

const volumesSpec = testSpec + `volumes:
  - name: blank
  - name: data
    image: test/svc:1
  - name: layout
    image: test/svc:1
    format: oci
  - name: frozen
    image: test/svc:1
    readonly: true
`

// tarFiles reads every entry of a tarball, with the contents of files.
func tarFiles(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries := map[string]string{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		entries[strings.TrimSuffix(h.Name, "/")] = string(data)
	}
}

// Each kind of volume is laid out where init mounts it from, and a bind
// to a volume points at its merged directory.
func TestVolumesAreLaidOutForInit(t *testing.T) {
	requireRoot(t)
	text := strings.Replace(volumesSpec, `    command: ["/bin/server"]`,
		"    command: [\"/bin/server\"]\n    binds:\n      - blank:/blank\n      - frozen:/frozen:ro", 1)
	res := buildSpec(t, testStore(t), filepath.Join(t.TempDir(), "out"), text, Tar)
	got := tarFiles(t, res.Images[Tar])
	for _, want := range []string{
		"containers/volumes/blank/lower", "containers/volumes/blank/merged",
		"containers/volumes/data/lower/bin/server", "containers/volumes/data/merged",
		"containers/volumes/layout/lower/oci-layout", "containers/volumes/layout/lower/index.json",
		"containers/volumes/frozen/lower/bin/server",
	} {
		if _, ok := got[want]; !ok {
			t.Errorf("no %s in the image", want)
		}
	}
	for name := range got {
		if strings.HasPrefix(name, "containers/volumes/blank/lower/") {
			t.Errorf("the blank volume holds %s", name)
		}
	}
	for name, want := range map[string]string{"blank": "{}\n", "frozen": "{\"readonly\":true}\n"} {
		if v := got["containers/volumes/"+name+"/volume.json"]; v != want {
			t.Errorf("volume %s: volume.json = %q, want %q", name, v, want)
		}
	}
	if !strings.Contains(got["containers/volumes/layout/lower/index.json"], `"org.opencontainers.image.ref.name": "test/svc:1"`) {
		t.Errorf("the OCI layout does not name its image: %s", got["containers/volumes/layout/lower/index.json"])
	}
	var spec specs.Spec
	if err := json.Unmarshal([]byte(got["containers/services/svc/config.json"]), &spec); err != nil {
		t.Fatal(err)
	}
	binds := map[string]string{}
	for _, m := range spec.Mounts {
		binds[m.Destination] = m.Source + " " + strings.Join(m.Options, ",")
	}
	if b := binds["/blank"]; !strings.HasPrefix(b, "/containers/volumes/blank/merged ") {
		t.Errorf("bind of /blank: %q, want the volume's merged directory", b)
	}
	if b := binds["/frozen"]; !strings.HasPrefix(b, "/containers/volumes/frozen/merged ") || !strings.Contains(b, "ro") {
		t.Errorf("bind of /frozen: %q, want the volume's merged directory, read-only", b)
	}
}

func TestAVolumeOfAMissingImageIsNamed(t *testing.T) {
	requireRoot(t)
	spec := testSpec + "volumes:\n  - name: gone\n    image: test/nothing:1\n"
	_, err := buildSpecErr(t, testStore(t), filepath.Join(t.TempDir(), "out"), spec, Tar)
	if err == nil || !strings.Contains(err.Error(), "volume gone (test/nothing:1)") {
		t.Errorf("err = %v, want it to name the volume and its image", err)
	}
}
