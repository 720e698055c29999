package images

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Image files named by oci: and docker-archive: refs.

const (
	ociPrefix     = "oci:"
	archivePrefix = "docker-archive:"
)

// pinSuffix matches a trailing "@algorithm:hex" digest pin.
var pinSuffix = regexp.MustCompile(`@(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$`)

// resolveLayout reads oci:PATH[:TAG][@DIGEST].
func resolveLayout(ref string) (v1.Image, error) {
	spec, pin, err := cutPin(strings.TrimPrefix(ref, ociPrefix))
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", ref, err)
	}
	dir, tag := splitPathAndName(spec, func(p string) bool {
		fi, err := os.Stat(filepath.Join(p, "index.json"))
		return err == nil && fi.Mode().IsRegular()
	})
	index, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: read OCI layout %s: %w", ref, dir, err)
	}
	m, err := index.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("resolve %s: read OCI layout %s: %w", ref, dir, err)
	}
	var names []string
	var exact, suffix []v1.Descriptor
	for _, d := range m.Manifests {
		n := d.Annotations[RefNameAnnotation]
		names = append(names, fmt.Sprintf("%q", n))
		switch {
		case tag == "" || n == tag:
			exact = append(exact, d)
		case strings.HasSuffix(n, ":"+tag):
			suffix = append(suffix, d)
		}
	}
	found := exact
	if len(found) == 0 {
		found = suffix
	}
	switch {
	case len(found) == 0 && tag == "":
		return nil, fmt.Errorf("resolve %s: OCI layout %s holds no image", ref, dir)
	case len(found) == 0:
		return nil, fmt.Errorf("resolve %s: OCI layout %s has no image named %q (it has %s)", ref, dir, tag, strings.Join(names, ", "))
	case len(found) > 1 && tag == "":
		return nil, fmt.Errorf("resolve %s: OCI layout %s holds %d images (%s); name one as oci:%s:NAME", ref, dir, len(found), strings.Join(names, ", "), dir)
	case len(found) > 1:
		return nil, fmt.Errorf("resolve %s: OCI layout %s has %d images matching %q (%s)", ref, dir, len(found), tag, strings.Join(names, ", "))
	}
	img, _, err := imageFor(index, found[0])
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", ref, err)
	}
	if err := checkPin(img, found[0].Digest, pin); err != nil {
		return nil, fmt.Errorf("resolve %s: %w", ref, err)
	}
	return img, nil
}

// resolveArchive reads docker-archive:FILE[:NAME][@DIGEST].
func resolveArchive(ref string) (v1.Image, error) {
	spec, pin, err := cutPin(strings.TrimPrefix(ref, archivePrefix))
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", ref, err)
	}
	file, tagName := splitPathAndName(spec, func(p string) bool {
		fi, err := os.Stat(p)
		return err == nil && fi.Mode().IsRegular()
	})
	var tag *name.Tag
	if tagName != "" {
		t, err := name.NewTag(tagName)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", ref, err)
		}
		tag = &t
	}
	img, err := tarball.ImageFromPath(file, tag)
	if err == nil {
		_, err = img.Manifest() // the tarball is read lazily; fail here, not mid-unpack
	}
	if err != nil {
		return nil, fmt.Errorf("resolve %s: read docker archive %s: %w", ref, file, err)
	}
	if err := checkPin(img, v1.Hash{}, pin); err != nil {
		return nil, fmt.Errorf("resolve %s: %w", ref, err)
	}
	return img, nil
}

// cutPin splits a trailing digest pin off a source spec.
func cutPin(spec string) (string, v1.Hash, error) {
	loc := pinSuffix.FindStringSubmatchIndex(spec)
	if loc == nil {
		if strings.Contains(spec, "@sha") {
			return "", v1.Hash{}, errors.New("malformed digest pin")
		}
		return spec, v1.Hash{}, nil
	}
	h, err := v1.NewHash(spec[loc[2]:loc[3]])
	return spec[:loc[0]], h, err
}

// splitPathAndName splits "PATH[:NAME]" where PATH may itself hold colons:
// the whole spec is a path when exists says so, else PATH is the shortest
// prefix before a colon that exists.
func splitPathAndName(spec string, exists func(string) bool) (path, ref string) {
	if exists(spec) {
		return spec, ""
	}
	for i, c := range spec {
		if c == ':' && exists(spec[:i]) {
			return spec[:i], spec[i+1:]
		}
	}
	return spec, "" // let the reader report the missing path
}

// checkPin verifies an image against a pinned digest, which may also be the
// digest of the index the image was chosen from.
func checkPin(img v1.Image, chosenFrom, pin v1.Hash) error {
	if pin == (v1.Hash{}) {
		return nil
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	if !slices.Contains([]v1.Hash{digest, chosenFrom}, pin) {
		return fmt.Errorf("image is %s, pinned %s: %w", digest, pin, ErrDigestMismatch)
	}
	return nil
}
