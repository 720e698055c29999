package update

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"
)

// Write writes a bundle of the files at paths (part name to file) to w,
// signed with key: the manifest, its signature, then each part. Every
// entry is stamped with mtime and owned by root, so the same files and
// key give the same bytes (ed25519 signatures are deterministic).
func Write(w io.Writer, version, spec string, paths map[string]string, key ed25519.PrivateKey, mtime time.Time) error {
	m := &Manifest{Format: Format, Version: version, Spec: spec}
	for _, name := range Parts {
		f, err := os.Open(paths[name])
		if err != nil {
			return fmt.Errorf("bundle part %s: %w", name, err)
		}
		p, err := HashFile(name, f)
		f.Close()
		if err != nil {
			return err
		}
		m.Parts = append(m.Parts, p)
	}
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	if _, err := ParseManifest(data); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	tw := tar.NewWriter(w)
	entry := func(name string, size int64, body io.Reader) error {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: mtime.UTC(), Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		n, err := io.Copy(tw, body)
		if err == nil && n != size {
			err = fmt.Errorf("%s changed while it was written (%d bytes, not %d)", name, n, size)
		}
		return err
	}
	if err := entry(ManifestName, int64(len(data)), bytes.NewReader(data)); err != nil {
		return err
	}
	sig := Sign(data, key)
	if err := entry(SignatureName, int64(len(sig)), bytes.NewReader(sig)); err != nil {
		return err
	}
	for _, p := range m.Parts {
		f, err := os.Open(paths[p.Name])
		if err != nil {
			return err
		}
		err = entry(p.Name, p.Size, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("bundle part %s: %w", p.Name, err)
		}
	}
	return tw.Close()
}

// Reader reads a bundle as a stream and checks it as it goes.
type Reader struct {
	// Manifest is the bundle's manifest, whose signature checked.
	Manifest *Manifest
	tr       *tar.Reader
}

// ErrBundle marks every way a bundle can be malformed.
var ErrBundle = errors.New("not a valid update bundle")

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBundle, fmt.Sprintf(format, args...))
}

// NewReader reads the manifest and its signature from the start of r and
// checks the signature with pub: nothing of the parts is read before.
func NewReader(r io.Reader, pub ed25519.PublicKey) (*Reader, error) {
	tr := tar.NewReader(r)
	manifest, err := readSmall(tr, ManifestName, MaxManifest)
	if err != nil {
		return nil, err
	}
	sig, err := readSmall(tr, SignatureName, ed25519.SignatureSize)
	if err != nil {
		return nil, err
	}
	if err := Verify(manifest, sig, pub); err != nil {
		return nil, err
	}
	m, err := ParseManifest(manifest)
	if err != nil {
		return nil, bad("%v", err)
	}
	return &Reader{Manifest: m, tr: tr}, nil
}

// next reads the next entry's header and checks that it is a plain file
// called name.
func next(tr *tar.Reader, name string) (*tar.Header, error) {
	hdr, err := tr.Next()
	if err == io.EOF {
		return nil, bad("it ends before %s", name)
	}
	if err != nil {
		return nil, bad("reading %s: %v", name, err)
	}
	if hdr.Name != name {
		return nil, bad("the entry %q is where %s should be", hdr.Name, name)
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil, bad("%s is not a plain file (type %q)", name, hdr.Typeflag)
	}
	return hdr, nil
}

func readSmall(tr *tar.Reader, name string, limit int64) ([]byte, error) {
	hdr, err := next(tr, name)
	if err != nil {
		return nil, err
	}
	if hdr.Size > limit {
		return nil, bad("%s is %d bytes, more than %d", name, hdr.Size, limit)
	}
	data, err := io.ReadAll(tr)
	if err != nil {
		return nil, bad("reading %s: %v", name, err)
	}
	return data, nil
}

// Each calls fn with each part, in the manifest's order, and a reader of
// its content. The reader returns an error instead of the content's end
// when the content does not hash to the manifest's SHA-256, so fn knows
// that what it read is good only once it read it all. fn must read each
// part to its end. After the last part the archive must end.
func (r *Reader) Each(fn func(Part, io.Reader) error) error {
	for _, p := range r.Manifest.Parts {
		hdr, err := next(r.tr, p.Name)
		if err != nil {
			return err
		}
		if hdr.Size != p.Size {
			return bad("%s is %d bytes in the archive and %d in the manifest", p.Name, hdr.Size, p.Size)
		}
		hr := &hashingReader{r: r.tr, h: sha256.New(), part: p}
		if err := fn(p, hr); err != nil {
			return err
		}
		if !hr.checked {
			return fmt.Errorf("%s was not read to its end", p.Name)
		}
	}
	if hdr, err := r.tr.Next(); err != io.EOF {
		if err != nil {
			return bad("after the last part: %v", err)
		}
		return bad("the entry %q follows the last part", hdr.Name)
	}
	return nil
}

// hashingReader reads a part and, at its end, checks its hash.
type hashingReader struct {
	r       io.Reader
	h       hash.Hash
	n       int64
	part    Part
	checked bool
}

// ErrHash says that a part is not what the signed manifest says.
var ErrHash = errors.New("does not match the signed manifest: the bundle was changed or damaged")

func (hr *hashingReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	hr.n += int64(n)
	if err == io.EOF {
		if sum := hex.EncodeToString(hr.h.Sum(nil)); hr.n != hr.part.Size || sum != hr.part.SHA256 {
			return n, fmt.Errorf("%s (%d bytes, SHA-256 %s) %w", hr.part.Name, hr.n, sum, ErrHash)
		}
		hr.checked = true
	} else if err != nil {
		err = bad("reading %s: %v", hr.part.Name, err)
	}
	return n, err
}
