package images

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// testRegistry serves an in-memory registry on 127.0.0.1, which
// go-containerregistry talks to over plain HTTP.
func testRegistry(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return srv
}

func push(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

func TestResolvePullsFromARegistryAndCachesIt(t *testing.T) {
	srv := testRegistry(t)
	ref := strings.TrimPrefix(srv.URL, "http://") + "/minikit/pulled:v1"
	img := randomImage(t, "pulled")
	push(t, ref, img)
	s := openStore(t)
	var progress strings.Builder
	s.Progress = &progress

	got, err := s.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if digestOf(t, got) != digestOf(t, img) {
		t.Errorf("pulled %s, pushed %s", digestOf(t, got), digestOf(t, img))
	}
	if !strings.Contains(progress.String(), "pull "+ref) {
		t.Errorf("no progress was drawn: %q", progress.String())
	}

	srv.Close()
	again, err := s.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatalf("second resolve with the registry gone: %v", err)
	}
	dest := t.TempDir()
	if err := Unpack(again, dest, UnpackOptions{IgnoreOwners: true}); err != nil {
		t.Fatalf("unpack the cached image with the registry gone: %v", err)
	}
}

func TestResolvePrefersTheStoreToTheRegistry(t *testing.T) {
	srv := testRegistry(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	local, remoteImg := randomImage(t, "local"), randomImage(t, "remote")
	push(t, host+"/minikit/both:v1", remoteImg)
	push(t, host+"/minikit/remote-only:v1", remoteImg)
	s := openStore(t)
	if err := s.Add(host+"/minikit/both:v1", local); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		ref  string
		want v1.Image
	}{
		{host + "/minikit/both:v1", local},
		{host + "/minikit/remote-only:v1", remoteImg},
	}
	for _, tt := range tests {
		got, err := s.Resolve(context.Background(), tt.ref)
		if err != nil {
			t.Fatal(err)
		}
		if digestOf(t, got) != digestOf(t, tt.want) {
			t.Errorf("Resolve(%s) = %s, want %s", tt.ref, digestOf(t, got), digestOf(t, tt.want))
		}
	}
}

func TestResolveNamesWhatItTried(t *testing.T) {
	srv := testRegistry(t)
	ref := strings.TrimPrefix(srv.URL, "http://") + "/minikit/missing:v1"
	s := openStore(t)
	_, err := s.Resolve(context.Background(), ref)
	if err == nil {
		t.Fatal("resolved an image that is nowhere")
	}
	for _, want := range []string{ref, "not in store " + s.Dir(), "pull from"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestResolveDigestPins(t *testing.T) {
	srv := testRegistry(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	stored, pushed := randomImage(t, "stored"), randomImage(t, "pushed")
	push(t, host+"/minikit/pinned:v1", pushed)
	s := openStore(t)
	if err := s.Add(host+"/minikit/pinned:v1", stored); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("minikit/local:v1", stored); err != nil {
		t.Fatal(err)
	}
	nowhere := digestOf(t, randomImage(t, "nowhere"))

	t.Run("a pin of the stored digest resolves from the store", func(t *testing.T) {
		got, err := s.Resolve(context.Background(), "minikit/local:v1@"+digestOf(t, stored).String())
		if err != nil {
			t.Fatal(err)
		}
		if digestOf(t, got) != digestOf(t, stored) {
			t.Errorf("got %s", digestOf(t, got))
		}
	})
	t.Run("a pin the store does not match is pulled by digest", func(t *testing.T) {
		got, err := s.Resolve(context.Background(), host+"/minikit/pinned:v1@"+digestOf(t, pushed).String())
		if err != nil {
			t.Fatal(err)
		}
		if digestOf(t, got) != digestOf(t, pushed) {
			t.Errorf("got %s, want the pushed %s", digestOf(t, got), digestOf(t, pushed))
		}
	})
	t.Run("a pin nobody has is a mismatch naming both digests", func(t *testing.T) {
		srv.Close()
		_, err := s.Resolve(context.Background(), host+"/minikit/pinned:v1@"+nowhere.String())
		if !errors.Is(err, ErrDigestMismatch) {
			t.Fatalf("err = %v, want ErrDigestMismatch", err)
		}
		for _, want := range []string{nowhere.String(), digestOf(t, stored).String()} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %s", err, want)
			}
		}
	})
}

// writeLayout writes an OCI layout holding images under the given ref
// names and returns its directory.
func writeLayout(t *testing.T, named map[string]v1.Image) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for n, img := range named {
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{RefNameAnnotation: n})); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestResolveOCILayout(t *testing.T) {
	a, b := randomImage(t, "a"), randomImage(t, "b")
	single := writeLayout(t, map[string]v1.Image{"v1": a})
	several := writeLayout(t, map[string]v1.Image{"example.com/a:v1": a, "example.com/b:v2": b})
	colon := filepath.Join(t.TempDir(), "odd:name")
	if _, err := layout.Write(colon, empty.Index); err != nil {
		t.Fatal(err)
	}
	if err := layout.Path(colon).AppendImage(b); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, ref string
		want      v1.Image
	}{
		{"without a tag, the only image", "oci:" + single, a},
		{"a tag equal to the annotation", "oci:" + single + ":v1", a},
		{"a tag the annotation ends in", "oci:" + several + ":v2", b},
		{"a full annotation", "oci:" + several + ":example.com/a:v1", a},
		{"a directory with a colon in its name", "oci:" + colon, b},
		{"a pin that matches", "oci:" + several + ":v2@" + digestOf(t, b).String(), b},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := openStore(t).Resolve(context.Background(), tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			if digestOf(t, got) != digestOf(t, tt.want) {
				t.Errorf("Resolve(%s) = %s, want %s", tt.ref, digestOf(t, got), digestOf(t, tt.want))
			}
		})
	}

	failures := []struct {
		name, ref, want string
		is              error
	}{
		{"several images and no tag", "oci:" + several, "holds 2 images", nil},
		{"a tag nobody has", "oci:" + several + ":v3", `no image named "v3"`, nil},
		{"a pin that does not match", "oci:" + several + ":v1@" + digestOf(t, b).String(), "pinned", ErrDigestMismatch},
		{"a directory that is no layout", "oci:" + t.TempDir(), "read OCI layout", nil},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			_, err := openStore(t).Resolve(context.Background(), tt.ref)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.ref) {
				t.Fatalf("Resolve(%s) = %v, want an error naming the ref and saying %q", tt.ref, err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
}

func TestResolveDockerArchive(t *testing.T) {
	a, b := randomImage(t, "a"), randomImage(t, "b")
	one := filepath.Join(t.TempDir(), "one.tar")
	tagA, _ := name.NewTag("example.com/a:v1")
	if err := tarball.WriteToFile(one, tagA, a); err != nil {
		t.Fatal(err)
	}
	two := filepath.Join(t.TempDir(), "two.tar")
	tagB, _ := name.NewTag("example.com/b:v1")
	if err := tarball.MultiWriteToFile(two, map[name.Tag]v1.Image{tagA: a, tagB: b}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, ref string
		want      v1.Image
	}{
		{"a single image", "docker-archive:" + one, a},
		{"one of several by name", "docker-archive:" + two + ":example.com/b:v1", b},
		{"a pin that matches", "docker-archive:" + one + "@" + digestOf(t, a).String(), a},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := openStore(t).Resolve(context.Background(), tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			if digestOf(t, got) != digestOf(t, tt.want) {
				t.Errorf("Resolve(%s) = %s, want %s", tt.ref, digestOf(t, got), digestOf(t, tt.want))
			}
		})
	}

	t.Run("a pin that does not match", func(t *testing.T) {
		_, err := openStore(t).Resolve(context.Background(), "docker-archive:"+one+"@"+digestOf(t, b).String())
		if !errors.Is(err, ErrDigestMismatch) {
			t.Fatalf("err = %v, want ErrDigestMismatch", err)
		}
	})
	t.Run("a missing file", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "missing.tar")
		_, err := openStore(t).Resolve(context.Background(), "docker-archive:"+missing)
		if err == nil || !strings.Contains(err.Error(), missing) {
			t.Fatalf("err = %v, want one naming %s", err, missing)
		}
	})
}

func TestResolveChoosesThePlatformImageOfAnIndex(t *testing.T) {
	amd, arm := randomImage(t, "amd64"), randomImage(t, "arm64")
	index := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	srv := testRegistry(t)
	ref := strings.TrimPrefix(srv.URL, "http://") + "/minikit/multi:v1"
	r, _ := name.ParseReference(ref)
	if err := remote.WriteIndex(r, index); err != nil {
		t.Fatal(err)
	}
	indexDigest, err := index.Digest()
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t)
	// Pinned by the index digest, as multi-platform specs are.
	pinned := ref + "@" + indexDigest.String()
	got, err := s.Resolve(context.Background(), pinned)
	if err != nil {
		t.Fatal(err)
	}
	if digestOf(t, got) != digestOf(t, amd) {
		t.Errorf("got %s, want the amd64 image %s", digestOf(t, got), digestOf(t, amd))
	}
	srv.Close()
	for _, again := range []string{pinned, strings.TrimSuffix(ref, ":v1") + "@" + indexDigest.String()} {
		if _, err := s.Resolve(context.Background(), again); err != nil {
			t.Errorf("an index-pinned image is not found again offline as %s: %v", again, err)
		}
	}
}

// TestRefreshPullsAMovedTagAgain: with Refresh, an image pulled earlier is
// pulled again, so a tag moved since is seen, as linuxkit build -pull
// does; an image added here under a name a registry also serves is not.
func TestRefreshPullsAMovedTagAgain(t *testing.T) {
	srv := testRegistry(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	pulledRef, localRef := host+"/minikit/moving:v1", host+"/minikit/local:v1"
	first, second, local := randomImage(t, "first"), randomImage(t, "second"), randomImage(t, "local")
	push(t, pulledRef, first)
	push(t, localRef, second)
	s := openStore(t)
	if err := s.Add(localRef, local); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(context.Background(), pulledRef); err != nil {
		t.Fatal(err)
	}
	push(t, pulledRef, second) // the tag moves

	resolve := func(ref string) v1.Image {
		t.Helper()
		img, err := s.Resolve(context.Background(), ref)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	if digestOf(t, resolve(pulledRef)) != digestOf(t, first) {
		t.Error("without Refresh the store's image was not used")
	}
	s.Refresh = true
	if digestOf(t, resolve(pulledRef)) != digestOf(t, second) {
		t.Error("with Refresh the moved tag was not pulled again")
	}
	if digestOf(t, resolve(localRef)) != digestOf(t, local) {
		t.Error("with Refresh an image added here was replaced by the registry's")
	}
	srv.Close()
	if _, err := s.Resolve(context.Background(), pulledRef); err == nil || !strings.Contains(err.Error(), "pull it again") {
		t.Errorf("with Refresh and the registry gone, Resolve = %v, want an error saying the pull failed", err)
	}
}
