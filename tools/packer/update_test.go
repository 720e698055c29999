package packer

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	imagespec "github.com/minikit/minikit/image-spec"
	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/internal/update"
)

func buildSigned(t *testing.T, text string, key ed25519.PrivateKey, formats ...Format) (*Result, error) {
	t.Helper()
	spec, _, err := imagespec.Parse("test.yml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	return Build(context.Background(), Options{
		Spec: spec, Name: "test", OutDir: out, Store: testStore(t), CacheDir: filepath.Join(out, "..", "cache"),
		Formats: formats, SignKey: key, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

func TestAnUpdateBundleNeedsAKey(t *testing.T) {
	_, err := buildSigned(t, testSpec, nil, Update)
	if err == nil || !strings.Contains(err.Error(), "-sign") {
		t.Errorf("format update without a key: %v, want it to ask for -sign", err)
	}
}

func TestAnUpdateBundleNeedsAVerifiedRootImage(t *testing.T) {
	requireRoot(t)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	// The test kernel has no modules: the root is files in the initrd.
	_, err := buildSigned(t, testSpec, key, Update)
	if err == nil || !strings.Contains(err.Error(), "root image checked by dm-verity") {
		t.Errorf("format update with a tmpfs root: %v", err)
	}
}

// TestTheKeyAndSettingsGoIntoTheRoot: a signed build carries the public
// key and the update settings where init reads them.
func TestTheKeyAndSettingsGoIntoTheRoot(t *testing.T) {
	requireRoot(t)
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	res, err := buildSigned(t, testSpec+"update:\n  version: v9\n  grace: 2m\n", key, Tar)
	if err != nil {
		t.Fatal(err)
	}
	files := tarFiles(t, res.Images[Tar])
	got, err := update.ParsePublicKey([]byte(files[strings.TrimPrefix(bundle.UpdateKey, "/")]))
	if err != nil || !got.Equal(pub) {
		t.Errorf("the image's %s: %v", bundle.UpdateKey, err)
	}
	var settings bundle.UpdateSettings
	if err := json.Unmarshal([]byte(files[strings.TrimPrefix(bundle.UpdateConfig, "/")]), &settings); err != nil {
		t.Fatal(err)
	}
	if settings.Version != "v9" || settings.GraceSeconds != 120 {
		t.Errorf("update settings %+v", settings)
	}
	// Without a key, no key: such a system refuses every update.
	res, err = buildSigned(t, testSpec, nil, Tar)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tarFiles(t, res.Images[Tar])[strings.TrimPrefix(bundle.UpdateKey, "/")]; ok {
		t.Error("an unsigned build carries an update key")
	}
}
