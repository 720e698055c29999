package images

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/minikit/minikit/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// RefNameAnnotation names an image in an OCI layout's index.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// PulledAnnotation marks an index entry pulled from its registry, which
// Store.Refresh pulls again; images added here (built by minikit pkg
// build, imported) lack it.
const PulledAnnotation = "org.minikit.pulled"

// lockName is the file that serialises index updates between processes.
const lockName = "index.lock"

// Store is minikit's local image store: an OCI image layout in one directory.
//
// Blobs are written to a temporary name and renamed into place once their
// digest has been checked, and index.json is replaced by rename, so an
// interrupted Add leaves at most stray temporary files behind, never a
// truncated blob or index. Index updates take an exclusive flock on
// index.lock, so two processes may add images to the same store at once;
// the last Add of a given name wins. Nothing ever deletes blobs, so there is
// no collection for a concurrent Add to race with.
type Store struct {
	dir    string
	layout layout.Path

	// Progress receives pull progress when it is not nil. Open sets it to
	// standard error when that is a terminal, so builds in CI stay quiet.
	Progress io.Writer
	// Refresh makes Resolve pull again an image named by a tag that the
	// store holds from an earlier pull, as linuxkit build -pull does:
	// the tag may have moved. Images made here are never pulled, even
	// if a registry has one of that name.
	Refresh bool
}

// DefaultDir is the store minikit uses unless told otherwise:
// $MINIKIT_STORE when set, else $XDG_CACHE_HOME/minikit, else
// ~/.cache/minikit. Without a home directory it falls back to the system's
// temporary directory.
func DefaultDir() string {
	if dir := os.Getenv("MINIKIT_STORE"); dir != "" {
		return dir
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "minikit")
	}
	return filepath.Join(cache, "minikit")
}

// Open opens the store in dir, creating an empty OCI layout there when dir
// holds none yet.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open image store: %w", err)
	}
	s := &Store{dir: dir, layout: layout.Path(dir)}
	if isTerminal(os.Stderr) {
		s.Progress = os.Stderr
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
		return s, nil
	}
	err := s.locked(func() error {
		if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
			return nil // another process created it while we waited
		}
		if err := atomicfile.Write(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
			return err
		}
		return s.writeIndex(empty.Index)
	})
	if err != nil {
		return nil, fmt.Errorf("create image store in %s: %w", dir, err)
	}
	return s, nil
}

// Dir is the directory holding the store's OCI layout.
func (s *Store) Dir() string { return s.dir }

// Add writes img into the store under ref, replacing whatever image had that
// name. ref is normalised as NormalizeName describes; if it pins a digest,
// img must have that digest.
func (s *Store) Add(ref string, img v1.Image) error {
	r, err := parseReference(ref)
	if err != nil {
		return err
	}
	if r.pinned() {
		digest, err := img.Digest()
		if err != nil {
			return fmt.Errorf("add %s: %w", r, err)
		}
		if digest != r.pin {
			return fmt.Errorf("add %s: image has digest %s: %w", r, digest, ErrDigestMismatch)
		}
	}
	return s.add(r, img, nil, nil)
}

// add stores img under r without checking r's pin: a pull checks it against
// what the registry served, which may be the index img was chosen from.
func (s *Store) add(r reference, img v1.Image, progress *pullProgress, annotations map[string]string) error {
	if err := s.writeBlobs(img, progress); err != nil {
		return fmt.Errorf("add %s: %w", r, err)
	}
	desc, err := partial.Descriptor(img)
	if err != nil {
		return fmt.Errorf("add %s: %w", r, err)
	}
	desc.Annotations = map[string]string{RefNameAnnotation: r.String()}
	maps.Copy(desc.Annotations, annotations)
	if cfg, err := img.ConfigFile(); err == nil && cfg.OS != "" {
		desc.Platform = cfg.Platform()
	}
	err = s.locked(func() error {
		index, err := s.layout.ImageIndex()
		if err != nil {
			return err
		}
		sameName := func(d v1.Descriptor) bool { return entryName(d) == r.String() }
		return s.writeIndex(mutate.AppendManifests(mutate.RemoveManifests(index, sameName),
			mutate.IndexAddendum{Add: img, Descriptor: *desc}))
	})
	if err != nil {
		return fmt.Errorf("add %s to index of %s: %w", r, s.dir, err)
	}
	return nil
}

// entryName is the normalised name of an index entry, or "" when it has
// none. Names written by other tools in another spelling still match.
func entryName(d v1.Descriptor) string {
	raw := d.Annotations[RefNameAnnotation]
	if raw == "" {
		return ""
	}
	if n, err := NormalizeName(raw); err == nil {
		return n
	}
	return raw
}

// writeBlobs copies every blob of img into the layout: layers, config, then
// the manifest, so a manifest is never present without what it refers to.
func (s *Store) writeBlobs(img v1.Image, progress *pullProgress) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		digest, err := l.Digest()
		if err != nil {
			return err
		}
		size, err := l.Size()
		if err != nil {
			return fmt.Errorf("layer %s: %w", digest, err)
		}
		err = s.writeBlob(digest, size, func() (io.ReadCloser, error) {
			rc, err := l.Compressed()
			if err != nil || progress == nil {
				return rc, err
			}
			return progress.track(rc), nil
		})
		if err != nil {
			return fmt.Errorf("layer %s: %w", digest, err)
		}
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	if err := s.writeBlob(cfgName, int64(len(cfg)), bytesOpener(cfg)); err != nil {
		return fmt.Errorf("config %s: %w", cfgName, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	if err := s.writeBlob(digest, int64(len(manifest)), bytesOpener(manifest)); err != nil {
		return fmt.Errorf("manifest %s: %w", digest, err)
	}
	return nil
}

func bytesOpener(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// writeBlob stores one blob unless a blob of that digest and size is already
// there. The content is hashed on the way in; a blob whose bytes do not
// match its digest never reaches its final name.
func (s *Store) writeBlob(digest v1.Hash, size int64, open func() (io.ReadCloser, error)) error {
	dir := filepath.Join(s.dir, "blobs", digest.Algorithm)
	final := filepath.Join(dir, digest.Hex)
	if fi, err := os.Stat(final); err == nil && fi.Mode().IsRegular() && fi.Size() == size {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(dir, ".tmp-"+digest.Hex+"-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	got, n, err := v1.SHA256(io.TeeReader(rc, tmp))
	if err != nil {
		tmp.Close()
		return err
	}
	if got != digest || n != size {
		tmp.Close()
		return fmt.Errorf("content is %s (%d bytes), want %s (%d bytes): %w", got, n, digest, size, ErrDigestMismatch)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), final)
}

// writeIndex replaces index.json with the manifest of index. Callers hold
// the lock.
func (s *Store) writeIndex(index v1.ImageIndex) error {
	m, err := index.IndexManifest()
	if err != nil {
		return err
	}
	raw, err := json.MarshalIndent(m, "", "   ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(s.dir, "index.json"), raw, 0o644)
}

// locked runs fn holding the store's exclusive lock.
func (s *Store) locked(fn func() error) error {
	f, err := os.OpenFile(filepath.Join(s.dir, lockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return fn()
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
