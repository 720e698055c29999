package images

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// reference is an image name as minikit understands it: a repository, a tag
// and, optionally, a pinned digest.
type reference struct {
	repo   string  // familiar repository: "busybox", "minikit/init", "ghcr.io/x/y"
	tag    string  // empty only when the name is pinned by digest alone
	pin    v1.Hash // zero when the name does not pin a digest
	remote name.Reference
}

// NormalizeName returns the name under which the store keeps ref.
//
// Names are kept in the short form Docker prints: Docker Hub's registry
// (docker.io, index.docker.io) and its "library/" namespace are dropped and a
// missing tag becomes "latest", unless the name pins a digest and gives no tag.
// So "busybox", "busybox:latest" and "docker.io/library/busybox:latest" all
// become "busybox:latest"; "minikit/busybox:dev" stays as it is;
// "ghcr.io/x/y" becomes "ghcr.io/x/y:latest"; "busybox:1.36@sha256:…" keeps
// both its tag and its digest. The short form keeps names read by people
// (spec files, `minikit images`) the same as the ones they typed.
func NormalizeName(ref string) (string, error) {
	r, err := parseReference(ref)
	if err != nil {
		return "", err
	}
	return r.String(), nil
}

func parseReference(ref string) (reference, error) {
	base, digest, pinned := strings.Cut(ref, "@")
	var r reference
	if pinned {
		d, err := name.NewDigest(ref)
		if err != nil {
			return reference{}, fmt.Errorf("image name %q: %w", ref, err)
		}
		pin, err := v1.NewHash(digest)
		if err != nil {
			return reference{}, fmt.Errorf("image name %q: %w", ref, err)
		}
		r.pin, r.remote = pin, d
		if hasTag(base) {
			t, err := name.NewTag(base)
			if err != nil {
				return reference{}, fmt.Errorf("image name %q: %w", ref, err)
			}
			r.tag = t.TagStr()
		}
	} else {
		t, err := name.NewTag(ref)
		if err != nil {
			return reference{}, fmt.Errorf("image name %q: %w", ref, err)
		}
		r.tag, r.remote = t.TagStr(), t
	}
	r.repo = familiarRepository(r.remote.Context())
	return r, nil
}

// hasTag reports whether a name without digest spells out a tag; a colon
// before the last slash belongs to a registry's port.
func hasTag(base string) bool {
	return strings.Contains(base[strings.LastIndex(base, "/")+1:], ":")
}

func familiarRepository(repo name.Repository) string {
	path := repo.RepositoryStr()
	if repo.RegistryStr() != name.DefaultRegistry {
		return repo.RegistryStr() + "/" + path
	}
	if rest, ok := strings.CutPrefix(path, "library/"); ok && !strings.Contains(rest, "/") {
		return rest
	}
	return path
}

// String is the normalised name, the one kept in the store.
func (r reference) String() string {
	s := r.repo
	if r.tag != "" {
		s += ":" + r.tag
	}
	if r.pinned() {
		s += "@" + r.pin.String()
	}
	return s
}

// unpinned is the name without its digest: the entry a tag refers to.
func (r reference) unpinned() string {
	if r.tag == "" {
		return r.repo
	}
	return r.repo + ":" + r.tag
}

func (r reference) pinned() bool { return r.pin != (v1.Hash{}) }
