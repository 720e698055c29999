package sbom

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// System is a built system: what the SBOM describes.
type System struct {
	Name   string // the name of the build's outputs
	Images []Image
	// Timestamp is the document's creation time; zero leaves it out, so
	// that a build without SOURCE_DATE_EPOCH stays reproducible.
	Timestamp time.Time
	// Tool names the program that made the SBOM, such as "minikit".
	Tool string
}

// Image is one image the system was built from. The same reference may be
// used several times; it is one component with every use.
type Image struct {
	Ref    string   // as the spec names it, such as "minikit/busybox:dev"
	Digest string   // the manifest digest, "sha256:…"
	Uses   []string // how the spec uses it: "kernel", "init", "onboot 000-hello", "service reader"
	// Packages and Binaries are what the image brings into the system.
	Packages []Package
	Binaries []GoBinary
}

// SpecVersion is the CycloneDX version written, 1.6: the newest most
// scanners read.
const SpecVersion = cdx.SpecVersion1_6

// Write writes the system's SBOM as CycloneDX JSON.
func Write(w io.Writer, sys System) error {
	bom := document(sys)
	// The serial number must be unique to the document and the same for
	// the same document: a name-based UUID of everything else in it.
	var body bytes.Buffer
	if err := encode(&body, bom); err != nil {
		return err
	}
	bom.SerialNumber = "urn:uuid:" + nameUUID(body.Bytes())
	return encode(w, bom)
}

func encode(w io.Writer, bom *cdx.BOM) error {
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	if err := enc.EncodeVersion(bom, SpecVersion); err != nil {
		return fmt.Errorf("encode CycloneDX: %w", err)
	}
	return nil
}

// components collects components by bom-ref, each once, and the
// dependency graph between them.
type components struct {
	byRef map[string]cdx.Component
	deps  map[string]map[string]bool
}

func (c *components) add(comp cdx.Component) string {
	if _, ok := c.byRef[comp.BOMRef]; !ok {
		c.byRef[comp.BOMRef] = comp
	}
	return comp.BOMRef
}

func (c *components) depend(from, to string) {
	if c.deps[from] == nil {
		c.deps[from] = map[string]bool{}
	}
	c.deps[from][to] = true
}

func document(sys System) *cdx.BOM {
	c := &components{byRef: map[string]cdx.Component{}, deps: map[string]map[string]bool{}}
	systemRef := "system:" + sys.Name
	c.deps[systemRef] = map[string]bool{}
	for _, img := range sys.Images {
		imgRef := c.add(imageComponent(img))
		c.depend(systemRef, imgRef)
		for _, p := range img.Packages {
			c.depend(imgRef, c.add(packageComponent(p)))
		}
		for _, b := range img.Binaries {
			binRef := c.add(binaryComponent(imgRef, img, b))
			c.depend(imgRef, binRef)
			for _, m := range b.Deps {
				c.depend(binRef, c.add(moduleComponent(m)))
			}
		}
	}

	bom := cdx.NewBOM()
	bom.Metadata = &cdx.Metadata{
		Component: &cdx.Component{BOMRef: systemRef, Type: cdx.ComponentTypeOS, Name: sys.Name},
	}
	if sys.Tool != "" {
		bom.Metadata.Tools = &cdx.ToolsChoice{Components: &[]cdx.Component{{Type: cdx.ComponentTypeApplication, Name: sys.Tool}}}
	}
	if !sys.Timestamp.IsZero() {
		bom.Metadata.Timestamp = sys.Timestamp.UTC().Format(time.RFC3339)
	}
	var comps []cdx.Component
	for _, ref := range slices.Sorted(maps.Keys(c.byRef)) {
		comps = append(comps, c.byRef[ref])
	}
	bom.Components = &comps
	var deps []cdx.Dependency
	for _, ref := range slices.Sorted(maps.Keys(c.deps)) {
		on := slices.Sorted(maps.Keys(c.deps[ref]))
		deps = append(deps, cdx.Dependency{Ref: ref, Dependencies: &on})
	}
	bom.Dependencies = &deps
	return bom
}

func imageComponent(img Image) cdx.Component {
	repo, tag := splitTag(img.Ref)
	hex := strings.TrimPrefix(img.Digest, "sha256:")
	qualifiers := url.Values{"repository_url": {repo}}
	if tag != "" {
		qualifiers.Set("tag", tag)
	}
	props := []cdx.Property{}
	uses := slices.Clone(img.Uses)
	slices.Sort(uses)
	for _, u := range slices.Compact(uses) {
		props = append(props, cdx.Property{Name: "minikit:use", Value: u})
	}
	return cdx.Component{
		BOMRef:     "image:" + img.Ref + "@" + img.Digest,
		Type:       cdx.ComponentTypeContainer,
		Name:       img.Ref,
		Version:    img.Digest,
		Hashes:     &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: hex}},
		PackageURL: "pkg:oci/" + purlEscape(lastSegment(repo)) + "@" + purlEscape(img.Digest) + "?" + qualifiers.Encode(),
		Properties: &props,
	}
}

func packageComponent(p Package) cdx.Component {
	purl := "pkg:deb/debian/" + purlEscape(p.Name) + "@" + purlEscape(p.Version)
	if p.Arch != "" {
		purl += "?arch=" + purlEscape(p.Arch)
	}
	return cdx.Component{BOMRef: purl, Type: cdx.ComponentTypeLibrary, Name: p.Name, Version: p.Version, PackageURL: purl}
}

// binaryComponent is one program in one image: the same path in two images
// may be two different programs.
func binaryComponent(imgRef string, img Image, b GoBinary) cdx.Component {
	props := []cdx.Property{{Name: "minikit:go-version", Value: b.GoVersion}, {Name: "minikit:image", Value: img.Ref}}
	comp := cdx.Component{
		BOMRef:     imgRef + ":" + b.Path,
		Type:       cdx.ComponentTypeApplication,
		Name:       b.Path,
		Version:    b.Main.Version,
		PackageURL: goPURL(b.Main),
		Properties: &props,
	}
	return comp
}

func moduleComponent(m Module) cdx.Component {
	comp := cdx.Component{BOMRef: goPURL(m), Type: cdx.ComponentTypeLibrary, Name: m.Path, Version: m.Version, PackageURL: goPURL(m)}
	if m.Sum != "" {
		comp.Properties = &[]cdx.Property{{Name: "minikit:go-sum", Value: m.Sum}}
	}
	return comp
}

// goPURL is a module's package URL; a main module built from a checkout
// has no version to give.
func goPURL(m Module) string {
	p := "pkg:golang/" + m.Path
	if m.Version != "" && m.Version != "(devel)" {
		p += "@" + purlEscape(m.Version)
	}
	return p
}

// splitTag cuts "name:tag" (not a registry's ":port") into name and tag.
func splitTag(ref string) (string, string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}

func lastSegment(repo string) string {
	return strings.ToLower(repo[strings.LastIndex(repo, "/")+1:])
}

// purlEscape percent-encodes what a package URL may not hold literally,
// such as the ':' of a Debian epoch or of "sha256:".
func purlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(".-_~+", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// nameUUID is a version 5 style UUID (SHA-based, name-derived) of data.
func nameUUID(data []byte) string {
	sum := sha256.Sum256(data)
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
