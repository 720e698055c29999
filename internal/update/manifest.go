// Package update is the contract between `minikit build -format update`,
// which writes a signed update bundle, and init, which checks one and
// writes it into the slot it does not run from (internal/slots).
//
// A bundle is a tar archive, read as a stream: manifest.json first, then
// manifest.sig (the ed25519 signature of manifest.json's bytes), then the
// parts in the manifest's order: the kernel, its command line (with the
// root hash), the initrd and the root image with its hash tree. The
// manifest names each part's size and SHA-256, so that once its
// signature checks, every byte that follows is checked against it.
//
// Keys are ed25519, in the standard encodings: the private key as PKCS#8
// and the public key as PKIX, both PEM. A bundle's signature can be
// checked without minikit:
//
//	openssl pkeyutl -verify -pubin -inkey NAME.pub -rawin \
//	    -in manifest.json -sigfile manifest.sig
package update

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
)

// Format names the manifest's format, and is the first thing checked.
const Format = "minikit-update/1"

// The names of a bundle's entries.
const (
	ManifestName  = "manifest.json"
	SignatureName = "manifest.sig"
)

// The parts, in the order a bundle carries them.
const (
	PartKernel  = "kernel"
	PartCmdline = "cmdline"
	PartInitrd  = "initrd.img"
	PartRoot    = "root.img"
)

// Parts lists the parts in order.
var Parts = []string{PartKernel, PartCmdline, PartInitrd, PartRoot}

// Bounds on what a manifest may say, whatever the system it is applied
// to: a manifest is read into memory before its signature is checked.
const (
	MaxManifest = 64 << 10
	// MaxCmdline is the most a command line part may hold: the kernel's
	// own limit on x86.
	MaxCmdline = 2048
)

// Part is one part of a bundle: its name, size and SHA-256.
type Part struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex
}

// Manifest says what a bundle holds.
type Manifest struct {
	Format string `json:"format"`
	// Version is the spec's update.version; "" for none.
	Version string `json:"version,omitempty"`
	// Spec is the digest of the spec the system was built from,
	// "sha256:HEX".
	Spec  string `json:"spec"`
	Parts []Part `json:"parts"`
}

// Part returns the part called name.
func (m *Manifest) Part(name string) Part {
	for _, p := range m.Parts {
		if p.Name == name {
			return p
		}
	}
	return Part{}
}

// Total is the size of every part together.
func (m *Manifest) Total() int64 {
	var n int64
	for _, p := range m.Parts {
		n += p.Size
	}
	return n
}

var (
	hexSHA256  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	specDigest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	// VersionPattern is what a version may be: it is shown by svcctl and
	// written into a slot's boot script.
	VersionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}$`)
)

// ParseManifest reads a manifest and checks that it says what a bundle
// must: the format, a valid version and spec digest, and every part, in
// order, with a plausible size and a SHA-256.
func ParseManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if dec.More() {
		return nil, errors.New("manifest: more than one JSON value")
	}
	if m.Format != Format {
		return nil, fmt.Errorf("manifest: format %q, want %q (a bundle of another minikit?)", m.Format, Format)
	}
	if m.Version != "" && !VersionPattern.MatchString(m.Version) {
		return nil, fmt.Errorf("manifest: version %q is not a version", m.Version)
	}
	if !specDigest.MatchString(m.Spec) {
		return nil, fmt.Errorf("manifest: spec %q is not a sha256: digest", m.Spec)
	}
	var names []string
	for _, p := range m.Parts {
		names = append(names, p.Name)
		if p.Size <= 0 {
			return nil, fmt.Errorf("manifest: part %s has size %d", p.Name, p.Size)
		}
		if !hexSHA256.MatchString(p.SHA256) {
			return nil, fmt.Errorf("manifest: part %s: %q is not a hex SHA-256", p.Name, p.SHA256)
		}
	}
	if !slices.Equal(names, Parts) {
		return nil, fmt.Errorf("manifest: parts %v, want %v in that order", names, Parts)
	}
	if m.Part(PartCmdline).Size > MaxCmdline {
		return nil, fmt.Errorf("manifest: a command line of %d bytes (at most %d)", m.Part(PartCmdline).Size, MaxCmdline)
	}
	return &m, nil
}

// Marshal is the manifest's JSON, as it is signed and carried.
func (m *Manifest) Marshal() ([]byte, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// Sign signs a manifest's bytes.
func Sign(manifest []byte, key ed25519.PrivateKey) []byte {
	return ed25519.Sign(key, manifest)
}

// ErrSignature says that a bundle was not signed by the key the system
// trusts, or was changed since.
var ErrSignature = errors.New("the bundle's signature does not verify with this system's key: it was signed with another key, or changed since")

// Verify checks a manifest's signature.
func Verify(manifest, sig []byte, pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return errors.New("no valid public key to check the bundle with")
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, manifest, sig) {
		return ErrSignature
	}
	return nil
}

// HashFile returns the Part for the file r, read to its end.
func HashFile(name string, r io.Reader) (Part, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return Part{}, fmt.Errorf("%s: %w", name, err)
	}
	return Part{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// The PEM block types of the keys.
const (
	privatePEM = "PRIVATE KEY"
	publicPEM  = "PUBLIC KEY"
)

// EncodePrivateKey writes key as a PKCS#8 PEM block.
func EncodePrivateKey(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: privatePEM, Bytes: der}), nil
}

// EncodePublicKey writes key as a PKIX PEM block.
func EncodePublicKey(key ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: publicPEM, Bytes: der}), nil
}

// ParsePrivateKey reads an ed25519 key from a PKCS#8 PEM block, as
// EncodePrivateKey or `openssl genpkey -algorithm ed25519` writes it.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != privatePEM {
		return nil, fmt.Errorf("not a PEM %q block", privatePEM)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	ed, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an ed25519 key", k)
	}
	return ed, nil
}

// ParsePublicKey reads an ed25519 key from a PKIX PEM block.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != publicPEM {
		return nil, fmt.Errorf("not a PEM %q block", publicPEM)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	ed, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an ed25519 key", k)
	}
	return ed, nil
}

// KeyID names a public key in messages: the first 8 bytes of the SHA-256
// of its PKIX encoding, in hex.
func KeyID(pub ed25519.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "(no key)"
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:8])
}
