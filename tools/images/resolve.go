package images

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// targetPlatform is the platform minikit builds for; multi-platform images and
// indexes resolve to their image for it.
var targetPlatform = v1.Platform{OS: "linux", Architecture: "amd64"}

// Resolve finds the image ref names, for linux/amd64.
//
// Two prefixes name files, read where they are and not copied into the store:
//
//   - oci:PATH[:TAG] — the OCI layout directory PATH; with TAG the image
//     whose ref-name annotation is TAG or ends in ":TAG", else its only image;
//   - docker-archive:FILE[:NAME] — a `docker save` tarball, holding one
//     image or an image tagged NAME.
//
// Any other ref is an image name: it is looked up in the store by its
// normalised name (see NormalizeName), and failing that pulled from the
// registry it names and added to the store under that name, so later builds
// work offline.
//
// Every form may end in "@sha256:…" to pin a digest, of the image or of the
// multi-platform index it was chosen from; an image with another digest is
// an error wrapping ErrDigestMismatch. A pinned name is satisfied from the
// store by an entry of the same repository with that digest or pin, and
// otherwise pulled by digest.
func (s *Store) Resolve(ctx context.Context, ref string) (v1.Image, error) {
	switch {
	case strings.HasPrefix(ref, ociPrefix):
		return resolveLayout(ref)
	case strings.HasPrefix(ref, archivePrefix):
		return resolveArchive(ref)
	}
	r, err := parseReference(ref)
	if err != nil {
		return nil, err
	}
	img, stale, pulled, err := s.lookup(r)
	if err != nil {
		return nil, fmt.Errorf("resolve %s in store %s: %w", ref, s.dir, err)
	}
	refresh := s.Refresh && pulled && !r.pinned()
	if img != nil && !refresh {
		return img, nil
	}
	pullErr := s.pull(ctx, r)
	if pullErr == nil {
		img, _, _, err := s.lookup(r)
		if err == nil && img == nil {
			err = errors.New("pulled image vanished from the store")
		}
		if err != nil {
			return nil, fmt.Errorf("resolve %s: read back from store %s: %w", ref, s.dir, err)
		}
		return img, nil
	}
	registry := r.remote.Context().RegistryStr()
	if refresh {
		return nil, fmt.Errorf("resolve %s: pull it again (-pull) from %s: %w", ref, registry, pullErr)
	}
	if stale != nil {
		return nil, fmt.Errorf("resolve %s: %w: store %s has %s at %s, not the pinned %s; pull from %s: %w",
			ref, ErrDigestMismatch, s.dir, r.unpinned(), *stale, r.pin, registry, pullErr)
	}
	return nil, fmt.Errorf("resolve %s: not in store %s; pull from %s: %w", ref, s.dir, registry, pullErr)
}

// lookup finds r in the store. It returns no image and no error when r is
// not there; for a pinned name whose tag is stored at another digest, stale
// is that digest. pulled says the image came from its registry.
func (s *Store) lookup(r reference) (img v1.Image, stale *v1.Hash, pulled bool, err error) {
	index, err := s.layout.ImageIndex()
	if err != nil {
		return nil, nil, false, err
	}
	m, err := index.IndexManifest()
	if err != nil {
		return nil, nil, false, err
	}
	for _, d := range m.Manifests {
		n := entryName(d)
		if n == "" {
			continue
		}
		if n == r.String() {
			img, stale, err := imageFor(index, d)
			return img, stale, d.Annotations[PulledAnnotation] == "true", err
		}
		if !r.pinned() {
			continue
		}
		// Another name in the same repository may hold the pinned image:
		// stored by that digest, or pulled under the same pin (an index
		// digest, whose platform image has a digest of its own).
		if e, err := parseReference(n); err == nil && e.repo == r.repo && (d.Digest == r.pin || e.pin == r.pin) {
			img, stale, err := imageFor(index, d)
			return img, stale, false, err
		}
		if n == r.unpinned() {
			stale = &d.Digest
		}
	}
	return nil, stale, false, nil
}

// imageFor returns the image a descriptor of index names, choosing the
// target platform's image when it names an index.
func imageFor(index v1.ImageIndex, d v1.Descriptor) (v1.Image, *v1.Hash, error) {
	if !d.MediaType.IsIndex() {
		img, err := index.Image(d.Digest)
		if err != nil {
			return nil, nil, fmt.Errorf("image %s: %w", d.Digest, err)
		}
		return img, nil, nil
	}
	child, err := index.ImageIndex(d.Digest)
	if err != nil {
		return nil, nil, fmt.Errorf("index %s: %w", d.Digest, err)
	}
	m, err := child.IndexManifest()
	if err != nil {
		return nil, nil, fmt.Errorf("index %s: %w", d.Digest, err)
	}
	var seen []string
	for _, c := range m.Manifests {
		if c.Platform != nil && c.Platform.Satisfies(targetPlatform) {
			return imageFor(child, c)
		}
		if c.Platform != nil {
			seen = append(seen, c.Platform.String())
		}
	}
	return nil, nil, fmt.Errorf("index %s has no image for %s (it has %s)", d.Digest, targetPlatform, strings.Join(seen, ", "))
}

// pull fetches r from its registry and adds it to the store under r's name.
func (s *Store) pull(ctx context.Context, r reference) error {
	desc, err := remote.Get(r.remote,
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithPlatform(targetPlatform))
	if err != nil {
		return err
	}
	if r.pinned() && desc.Digest != r.pin {
		return fmt.Errorf("registry served %s: %w", desc.Digest, ErrDigestMismatch)
	}
	img, err := desc.Image() // the target platform's image when desc is an index
	if err != nil {
		return err
	}
	progress := newPullProgress(s.Progress, r.String(), img)
	err = s.add(r, img, progress, map[string]string{PulledAnnotation: "true"})
	progress.done(err)
	return err
}
