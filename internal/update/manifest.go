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
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
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

// isHexSHA256 tells whether s is a SHA-256 in lower-case hex. These
// checks are plain loops rather than regular expressions: init reads
// manifests, and svcctl shares this package, and neither should compile
// patterns at every start nor carry regexp.
func isHexSHA256(s string) bool {
	return len(s) == 2*sha256.Size && strings.IndexFunc(s, func(r rune) bool {
		return !('0' <= r && r <= '9' || 'a' <= r && r <= 'f')
	}) < 0
}

func isSpecDigest(s string) bool {
	hexPart, ok := strings.CutPrefix(s, "sha256:")
	return ok && isHexSHA256(hexPart)
}

// ValidVersion tells whether s may be a version, which svcctl shows and
// a slot's boot script holds: 1 to 64 of A-Z a-z 0-9 . _ + ~ -, the
// first a letter or digit.
func ValidVersion(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i, r := range s {
		alnum := 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("._+~-", r)) {
			return false
		}
	}
	return true
}

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
	if m.Version != "" && !ValidVersion(m.Version) {
		return nil, fmt.Errorf("manifest: version %q is not a version", m.Version)
	}
	if !isSpecDigest(m.Spec) {
		return nil, fmt.Errorf("manifest: spec %q is not a sha256: digest", m.Spec)
	}
	var names []string
	for _, p := range m.Parts {
		names = append(names, p.Name)
		if p.Size <= 0 {
			return nil, fmt.Errorf("manifest: part %s has size %d", p.Name, p.Size)
		}
		if !isHexSHA256(p.SHA256) {
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

// The PEM block type of a public key.
const publicPEM = "PUBLIC KEY"

// ed25519SPKI is what the DER of every Ed25519 public key in a PKIX
// SubjectPublicKeyInfo starts with, as RFC 8410 (sections 3 and 4) gives
// it: the algorithm is the OID 1.3.101.112 with no parameters, then a
// BIT STRING of the 32-byte key. DER has one encoding of each value, so
// this prefix and the key are the whole of it, and init checks signatures
// without carrying crypto/x509.
var ed25519SPKI = []byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}

func marshalPublicKey(key ed25519.PublicKey) []byte {
	return append(slices.Clip(ed25519SPKI), key...)
}

// EncodePublicKey writes key as a PKIX PEM block.
func EncodePublicKey(key ed25519.PublicKey) ([]byte, error) {
	if len(key) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("an ed25519 public key of %d bytes", len(key))
	}
	return pem.EncodeToMemory(&pem.Block{Type: publicPEM, Bytes: marshalPublicKey(key)}), nil
}

// ParsePublicKey reads an ed25519 key from a PKIX PEM block, as
// EncodePublicKey or `openssl pkey -pubout` writes it.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != publicPEM {
		return nil, fmt.Errorf("not a PEM %q block", publicPEM)
	}
	der := block.Bytes
	if len(der) != len(ed25519SPKI)+ed25519.PublicKeySize || !bytes.HasPrefix(der, ed25519SPKI) {
		return nil, errors.New("not an ed25519 public key (a PKIX key of another algorithm, or malformed)")
	}
	return ed25519.PublicKey(bytes.Clone(der[len(ed25519SPKI):])), nil
}

// KeyID names a public key in messages: the first 8 bytes of the SHA-256
// of its PKIX encoding, in hex.
func KeyID(pub ed25519.PublicKey) string {
	if len(pub) != ed25519.PublicKeySize {
		return "(no key)"
	}
	sum := sha256.Sum256(marshalPublicKey(pub))
	return hex.EncodeToString(sum[:8])
}
