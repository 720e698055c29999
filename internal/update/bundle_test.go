package update

import (
	"archive/tar"
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/update/signkey"
)

const testSpec = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// testParts writes a small file for each part and returns the paths and
// contents.
func testParts(t *testing.T) (map[string]string, map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	paths, data := map[string]string{}, map[string][]byte{}
	for i, name := range Parts {
		d := bytes.Repeat([]byte{byte('a' + i)}, 1000*(i+1)+7)
		if name == PartCmdline {
			d = []byte("console=ttyS0 minikit.verity=aa:bb:1\n")
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, d, 0o644); err != nil {
			t.Fatal(err)
		}
		paths[name], data[name] = p, d
	}
	return paths, data
}

func testKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func writeBundle(t *testing.T, paths map[string]string, key ed25519.PrivateKey) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, "v2", testSpec, paths, key, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// readAll reads a bundle and returns the content of each part read to its
// end without an error.
func readAll(bundle []byte, pub ed25519.PublicKey) (map[string][]byte, error) {
	r, err := NewReader(bytes.NewReader(bundle), pub)
	if err != nil {
		return nil, err
	}
	got := map[string][]byte{}
	err = r.Each(func(p Part, body io.Reader) error {
		data, err := io.ReadAll(body)
		if err != nil {
			return err
		}
		got[p.Name] = data
		return nil
	})
	return got, err
}

func TestABundleReadsBackAsWritten(t *testing.T) {
	paths, data := testParts(t)
	pub, priv := testKey(t)
	bundle := writeBundle(t, paths, priv)
	if again := writeBundle(t, paths, priv); !bytes.Equal(bundle, again) {
		t.Error("two bundles of the same files and key differ")
	}
	r, err := NewReader(bytes.NewReader(bundle), pub)
	if err != nil {
		t.Fatal(err)
	}
	if r.Manifest.Version != "v2" || r.Manifest.Spec != testSpec || r.Manifest.Part(PartRoot).Size != int64(len(data[PartRoot])) {
		t.Errorf("manifest %+v", r.Manifest)
	}
	got, err := readAll(bundle, pub)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Parts {
		if !bytes.Equal(got[name], data[name]) {
			t.Errorf("part %s read back differs", name)
		}
	}
}

func TestAnotherKeyIsRefusedBeforeAnyPart(t *testing.T) {
	paths, _ := testParts(t)
	pub, _ := testKey(t)
	_, other := testKey(t)
	_, err := NewReader(bytes.NewReader(writeBundle(t, paths, other)), pub)
	if !errors.Is(err, ErrSignature) {
		t.Errorf("a bundle signed with another key: %v, want ErrSignature", err)
	}
}

// TestEveryFlippedByteIsFound flips one byte in each entry of a bundle:
// in the manifest or the signature the signature fails; in a part, the
// part's reader fails at its end, and the parts before it read whole.
func TestEveryFlippedByteIsFound(t *testing.T) {
	paths, data := testParts(t)
	pub, priv := testKey(t)
	bundle := writeBundle(t, paths, priv)
	for _, name := range append([]string{ManifestName, SignatureName}, Parts...) {
		t.Run(name, func(t *testing.T) {
			off, size := entryOffset(t, bundle, name)
			flipped := bytes.Clone(bundle)
			flipped[off+size/2] ^= 0x20
			got, err := readAll(flipped, pub)
			switch name {
			case ManifestName, SignatureName:
				if !errors.Is(err, ErrSignature) {
					t.Errorf("flipped in %s: %v, want ErrSignature", name, err)
				}
			default:
				if !errors.Is(err, ErrHash) || !strings.Contains(err.Error(), name) {
					t.Errorf("flipped in %s: %v, want a hash mismatch that names it", name, err)
				}
				if _, ok := got[name]; ok {
					t.Errorf("the flipped part %s was read to its end without an error", name)
				}
				for _, before := range Parts {
					if before == name {
						break
					}
					if !bytes.Equal(got[before], data[before]) {
						t.Errorf("part %s, before the flipped one, did not read whole", before)
					}
				}
			}
		})
	}
}

// entryOffset finds where an entry's content is in a tar archive.
func entryOffset(t *testing.T, archive []byte, name string) (int, int) {
	t.Helper()
	cr := &countingReader{r: bytes.NewReader(archive)}
	tr := tar.NewReader(cr)
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("no %s in the archive: %v", name, err)
		}
		if hdr.Name == name {
			return int(cr.n), int(hdr.Size)
		}
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// entry is one entry of a hand-made archive.
type entry struct {
	name string
	typ  byte
	data []byte
	size int64 // when not len(data): a header that lies
}

// handMade writes entries as a tar archive after a manifest of parts
// (signed with priv), for the hostile archives.
func handMade(t *testing.T, priv ed25519.PrivateKey, m *Manifest, entries []entry, truncate int) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	mdata, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	all := append([]entry{{name: ManifestName, data: mdata}, {name: SignatureName, data: Sign(mdata, priv)}}, entries...)
	for _, e := range all {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		size := int64(len(e.data))
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Size: size, Mode: 0o644}
		if typ == tar.TypeSymlink {
			hdr.Linkname, hdr.Size = "/etc/shadow", 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.data)
	}
	tw.Close()
	out := b.Bytes()
	if truncate > 0 {
		out = out[:len(out)-truncate]
	}
	return out
}

func TestHostileArchives(t *testing.T) {
	paths, data := testParts(t)
	pub, priv := testKey(t)
	r, err := NewReader(bytes.NewReader(writeBundle(t, paths, priv)), pub)
	if err != nil {
		t.Fatal(err)
	}
	m := r.Manifest
	parts := func(names ...string) []entry {
		var es []entry
		for _, n := range names {
			es = append(es, entry{name: n, data: data[n]})
		}
		return es
	}
	k, c, i, root := PartKernel, PartCmdline, PartInitrd, PartRoot
	tests := []struct {
		name     string
		manifest *Manifest
		entries  []entry
		truncate int
		want     string
	}{
		{"the real thing", m, parts(k, c, i, root), 0, ""},
		{"a path out of the archive", m, append(parts(k, c, i), entry{name: "../" + root, data: data[root]}), 0, `the entry "../root.img" is where root.img should be`},
		{"an absolute path", m, append([]entry{{name: "/" + k, data: data[k]}}, parts(c, i, root)...), 0, `the entry "/kernel"`},
		{"a part in a directory", m, append(parts(k, c), entry{name: "x/" + i, data: data[i]}), 0, `the entry "x/initrd.img"`},
		{"parts out of order", m, parts(k, c, root, i), 0, `is where initrd.img should be`},
		{"a missing part", m, parts(k, c, i), 0, "it ends before root.img"},
		{"a part twice", m, parts(k, c, c, i, root), 0, `is where initrd.img should be`},
		{"an entry after the parts", m, append(parts(k, c, i, root), entry{name: "extra", data: []byte("x")}), 0, `"extra" follows the last part`},
		{"a symlink for a part", m, append(parts(k, c, i), entry{name: root, typ: tar.TypeSymlink}), 0, "root.img is not a plain file"},
		{"a size that lies", m, append(parts(k, c, i), entry{name: root, data: data[root][:100]}), 0, "root.img is 100 bytes in the archive"},
		{"a stream cut short", m, parts(k, c, i, root), 2000, "reading root.img"},
		{"a manifest that lists parts out of order", withParts(m, k, c, root, i), parts(k, c, root, i), 0, "want [kernel cmdline initrd.img root.img]"},
		{"a manifest of another format", withFormat(m, "minikit-update/0"), parts(k, c, i, root), 0, `format "minikit-update/0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAll(handMade(t, priv, tt.manifest, tt.entries, tt.truncate), pub)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("a well-formed archive: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one that says %q", err, tt.want)
			}
			if errors.Is(err, ErrHash) {
				return
			}
			if !errors.Is(err, ErrBundle) {
				t.Errorf("err = %v, want ErrBundle", err)
			}
		})
	}
}

func withParts(m *Manifest, names ...string) *Manifest {
	c := *m
	c.Parts = nil
	for _, n := range names {
		c.Parts = append(c.Parts, m.Part(n))
	}
	return &c
}

func withFormat(m *Manifest, f string) *Manifest {
	c := *m
	c.Format = f
	return &c
}

func TestOversizedManifestIsNotRead(t *testing.T) {
	pub, priv := testKey(t)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: ManifestName, Typeflag: tar.TypeReg, Size: MaxManifest + 1})
	tw.Write(make([]byte, MaxManifest+1))
	tw.Close()
	_ = priv
	if _, err := NewReader(&b, pub); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("a manifest over the limit: %v", err)
	}
}

func TestKeysRoundTripThroughPEM(t *testing.T) {
	pub, priv := testKey(t)
	privPEM, err := signkey.Encode(priv)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := EncodePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(privPEM, []byte("-----BEGIN PRIVATE KEY-----")) || !bytes.HasPrefix(pubPEM, []byte("-----BEGIN PUBLIC KEY-----")) {
		t.Errorf("not PKCS#8 and PKIX PEM:\n%s%s", privPEM, pubPEM)
	}
	p2, err := signkey.Parse(privPEM)
	if err != nil || !p2.Equal(priv) {
		t.Errorf("private key read back: %v", err)
	}
	k2, err := ParsePublicKey(pubPEM)
	if err != nil || !k2.Equal(pub) {
		t.Errorf("public key read back: %v", err)
	}
	if _, err := ParsePublicKey(privPEM); err == nil {
		t.Error("a private key passes for a public one")
	}
	if len(KeyID(pub)) != 16 {
		t.Errorf("KeyID = %q", KeyID(pub))
	}
}

// The public key's encoding, written and read without crypto/x509, is
// crypto/x509's, and a PKIX key of another algorithm is refused.
func TestPublicKeysAreX509s(t *testing.T) {
	pub, _ := testKey(t)
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	ours, _ := EncodePublicKey(pub)
	if theirs := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}); !bytes.Equal(ours, theirs) {
		t.Errorf("EncodePublicKey:\n%s\nx509:\n%s", ours, theirs)
	}
	if sum := sha256.Sum256(der); KeyID(pub) != hex.EncodeToString(sum[:8]) {
		t.Errorf("KeyID %s is not of the PKIX encoding", KeyID(pub))
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalPKIXPublicKey(ec.Public())
	for name, der := range map[string][]byte{
		"an ECDSA key":           ecDER,
		"a key cut short":        der[:len(der)-1],
		"a key with a byte more": append(bytes.Clone(der), 0),
		"nothing":                nil,
	} {
		if _, err := ParsePublicKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); err == nil {
			t.Errorf("%s passes for an ed25519 public key", name)
		}
	}
}

func TestValidVersion(t *testing.T) {
	for v, want := range map[string]bool{
		"v2": true, "1.0.0-rc.1+build~3_x": true, strings.Repeat("a", 64): true,
		"": false, strings.Repeat("a", 65): false, "-v2": false, ".v2": false, "v 2": false,
		"v2\nboot": false, "v2$(x)": false, "vé": false, "v/2": false,
	} {
		if got := ValidVersion(v); got != want {
			t.Errorf("ValidVersion(%q) = %v", v, got)
		}
	}
}

func TestManifestChecks(t *testing.T) {
	good := `{"format":"minikit-update/1","version":"v2","spec":"` + testSpec + `","parts":[` +
		`{"name":"kernel","size":1,"sha256":"` + strings.Repeat("a", 64) + `"},` +
		`{"name":"cmdline","size":1,"sha256":"` + strings.Repeat("a", 64) + `"},` +
		`{"name":"initrd.img","size":1,"sha256":"` + strings.Repeat("a", 64) + `"},` +
		`{"name":"root.img","size":1,"sha256":"` + strings.Repeat("a", 64) + `"}]}`
	if _, err := ParseManifest([]byte(good)); err != nil {
		t.Fatalf("a good manifest: %v", err)
	}
	for name, change := range map[string][2]string{
		"an unknown field":   {`"version"`, `"extra":1,"version"`},
		"a version of lines": {`"v2"`, `"v2\nboot"`},
		"a spec not sha256":  {testSpec, "md5:abc"},
		"a size of zero":     {`"size":1,"sha256":"` + strings.Repeat("a", 64) + `"},{"name":"cmdline"`, `"size":0,"sha256":"` + strings.Repeat("a", 64) + `"},{"name":"cmdline"`},
		"a bad hash":         {`"name":"kernel","size":1,"sha256":"` + strings.Repeat("a", 64), `"name":"kernel","size":1,"sha256":"` + strings.Repeat("A", 64)},
		"two values":         {`]}`, `]}{}`},
	} {
		bad := strings.Replace(good, change[0], change[1], 1)
		if bad == good {
			t.Fatalf("%s: the change did not apply", name)
		}
		if _, err := ParseManifest([]byte(bad)); err == nil {
			t.Errorf("%s: ParseManifest did not fail", name)
		}
	}
}

// TestOpenSSLSpeaksTheSameKeys: a key openssl made signs a manifest that
// openssl verifies, as the package's documentation tells users to.
func TestOpenSSLSpeaksTheSameKeys(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("needs openssl")
	}
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	keyFile, pubFile := filepath.Join(dir, "k.key"), filepath.Join(dir, "k.pub")
	run("genpkey", "-algorithm", "ed25519", "-out", keyFile)
	run("pkey", "-in", keyFile, "-pubout", "-out", pubFile)
	keyPEM, _ := os.ReadFile(keyFile)
	key, err := signkey.Parse(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, _ := os.ReadFile(pubFile)
	if pub, err := ParsePublicKey(pubPEM); err != nil || !pub.Equal(key.Public()) {
		t.Fatalf("openssl's public key: %v", err)
	}
	manifest := []byte(`{"format":"minikit-update/1"}`)
	os.WriteFile(filepath.Join(dir, ManifestName), manifest, 0o644)
	os.WriteFile(filepath.Join(dir, SignatureName), Sign(manifest, key), 0o644)
	run("pkeyutl", "-verify", "-pubin", "-inkey", pubFile, "-rawin", "-in", filepath.Join(dir, ManifestName), "-sigfile", filepath.Join(dir, SignatureName))
}
