package images

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

func TestDefaultDir(t *testing.T) {
	tests := []struct {
		name                   string
		store, xdg, home, want string
	}{
		{"MINIKIT_STORE wins", "/s", "/x", "/h", "/s"},
		{"then the XDG cache", "", "/x", "/h", "/x/minikit"},
		{"then ~/.cache", "", "", "/h", "/h/.cache/minikit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("MINIKIT_STORE", tt.store)
			t.Setenv("XDG_CACHE_HOME", tt.xdg)
			t.Setenv("HOME", tt.home)
			if got := DefaultDir(); got != tt.want {
				t.Errorf("DefaultDir() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOpenCreatesAnOCILayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "store")
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	index, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("store is not an OCI layout: %v", err)
	}
	m, err := index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 0 {
		t.Errorf("new store holds %d images", len(m.Manifests))
	}
}

func TestStoreRoundTrip(t *testing.T) {
	s := openStore(t)
	img := randomImage(t, "one")
	if err := s.Add("docker.io/minikit/busybox:dev", img); err != nil {
		t.Fatal(err)
	}

	// A second Open sees what the first wrote: it is all on disk.
	again, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	got, err := again.Resolve(context.Background(), "minikit/busybox:dev")
	if err != nil {
		t.Fatal(err)
	}
	if digestOf(t, got) != digestOf(t, img) {
		t.Errorf("resolved %s, added %s", digestOf(t, got), digestOf(t, img))
	}
	layers, err := got.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers = %d, %v", len(layers), err)
	}

	// And other OCI tools find it by its annotation.
	index, err := layout.ImageIndexFromPath(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	m, _ := index.IndexManifest()
	if len(m.Manifests) != 1 || m.Manifests[0].Annotations[RefNameAnnotation] != "minikit/busybox:dev" {
		t.Errorf("index = %+v, want one entry named minikit/busybox:dev", m.Manifests)
	}
}

func TestAddReplacesTheImageOfTheSameName(t *testing.T) {
	s := openStore(t)
	first, second := randomImage(t, "first"), randomImage(t, "second")
	if err := s.Add("minikit/init:dev", first); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("minikit/other:dev", first); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("docker.io/minikit/init:dev", second); err != nil {
		t.Fatal(err)
	}
	entries, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"minikit/init:dev":  digestOf(t, second).String(),
		"minikit/other:dev": digestOf(t, first).String(),
	}
	if len(entries) != len(want) {
		t.Fatalf("store holds %d entries (%+v), want %d", len(entries), entries, len(want))
	}
	for _, e := range entries {
		if want[e.Name] != e.Digest.String() {
			t.Errorf("%s is %s, want %s", e.Name, e.Digest, want[e.Name])
		}
	}
}

func TestAddRefusesAPinThatIsNotTheImage(t *testing.T) {
	s := openStore(t)
	img := randomImage(t, "pinned")
	wrong := digestOf(t, randomImage(t, "other"))
	err := s.Add("minikit/x:dev@"+wrong.String(), img)
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("Add with a wrong pin: %v, want ErrDigestMismatch", err)
	}
	if err := s.Add("minikit/x:dev@"+digestOf(t, img).String(), img); err != nil {
		t.Fatalf("Add with the right pin: %v", err)
	}
}

func TestConcurrentAddsKeepEveryName(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A Store per writer, as two processes would have.
			s, err := Open(dir)
			if err == nil {
				err = s.Add(fmt.Sprintf("minikit/img%d:dev", i), randomImage(t, fmt.Sprint(i)))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s, _ := Open(dir)
	entries, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != n {
		t.Errorf("store holds %d entries after %d concurrent adds: %+v", len(entries), n, entries)
	}
}

func TestAddLeavesNoTemporaryFiles(t *testing.T) {
	s := openStore(t)
	if err := s.Add("minikit/x:dev", randomImage(t, "x")); err != nil {
		t.Fatal(err)
	}
	err := filepath.Walk(s.Dir(), func(p string, fi os.FileInfo, err error) error {
		if strings.Contains(filepath.Base(p), ".tmp") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestWriteBlobRefusesContentThatIsNotItsDigest(t *testing.T) {
	s := openStore(t)
	claimed := digestOf(t, randomImage(t, "claimed"))
	err := s.writeBlob(claimed, 5, bytesOpener([]byte("bogus")))
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("writeBlob of wrong content: %v, want ErrDigestMismatch", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "blobs", "sha256", claimed.Hex)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a blob with the wrong content reached its final name (stat: %v)", err)
	}
}

func TestListPrintsTableAndJSON(t *testing.T) {
	s := openStore(t)
	img := randomImage(t, "listed")
	if err := s.Add("minikit/listed:v1", img); err != nil {
		t.Fatal(err)
	}
	entries, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Size <= 0 {
		t.Fatalf("entries = %+v, want one with a size", entries)
	}
	var table, js strings.Builder
	if err := WriteTable(&table, entries); err != nil {
		t.Fatal(err)
	}
	short := "sha256:" + digestOf(t, img).Hex[:12]
	for _, want := range []string{"NAME", "DIGEST", "SIZE", "CREATED", "minikit/listed:v1", short} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if err := WriteJSON(&js, entries); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"name": "minikit/listed:v1"`) || !strings.Contains(js.String(), digestOf(t, img).String()) {
		t.Errorf("JSON lacks the name or full digest:\n%s", js.String())
	}
}
