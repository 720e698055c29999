package pkgbuild

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	imagespec "github.com/minikit/minikit/image-spec"
	"github.com/minikit/minikit/tools/images"
)

// RecipeFile is the name of the recipe inside a recipe directory.
const RecipeFile = "build.yml"

// DefaultTag is the tag of an image whose recipe names none.
const DefaultTag = "dev"

// Recipe is a parsed build.yml. Paths inside the image are absolute and
// clean; paths on the build host are relative to Dir.
type Recipe struct {
	Dir  string // the recipe directory
	File string // Dir/build.yml, as given, for messages

	Image string // the image name, without tag
	Tag   string

	Debian   []Package // unpacked in order
	UsrMerge bool      // add /bin, /sbin, /lib, /lib64 → usr/… symlinks
	Move     []Move
	Go       []GoProgram
	Copy     []Copy
	Dirs     []Dir
	Symlinks []Symlink
	Run      []Hook
	Remove   []string

	Entrypoint, Cmd, Env []string
	Workdir, User        string
	// Config is the org.mobyproject.config label: the defaults `minikit
	// build` applies when a spec entry does not set a field. Empty when
	// the recipe gives none.
	Config string

	raw []byte // the file's bytes, hashed into the recipe hash
}

// Ref is NAME:TAG, the name the image is stored under.
func (r *Recipe) Ref() string { return r.Image + ":" + r.Tag }

// Package is one Debian package, optionally pinned to a version. A * in
// the name stands for a version number (digits and dots): the package is
// then the newest whose name matches, as for linux-image-6.1.0-*-amd64,
// whose number Debian raises with each kernel ABI change.
type Package struct {
	Name    string
	Version string // "" for the candidate apt would install
}

func (p Package) String() string {
	if p.Version == "" {
		return p.Name
	}
	return p.Name + "=" + p.Version
}

// Move renames a path a package put in the image, to make room for a
// program of the same name (a wrapper) or to keep it out of PATH.
type Move struct{ From, To string }

// GoProgram is a package of this module built into Path: with
// CGO_ENABLED=0, or with Cgo linked statically (for what embeds C, such
// as libcontainer's nsenter in init). Package is an import path, or a
// path relative to the recipe directory when it starts with ./ or ../.
// Tags are build tags added to the build's own (seccomp, for init's
// libcontainer to enforce seccomp filters with libseccomp). Vars sets
// string variables at link time (go build -ldflags -X IMPORTPATH.NAME=VALUE),
// as projects stamp their version (kubelet's k8s.io/component-base/version).
type GoProgram struct {
	Package, Path string
	Cgo           bool
	Tags          []string
	Vars          map[string]string
}

// Copy copies Source (a file or directory of the recipe) to Path. Mode
// applies to a file; without it a file is 0755 when its owner may execute
// it and 0644 otherwise, so the checkout's umask does not change the image.
type Copy struct {
	Source, Path string
	Mode         os.FileMode // 0: from the file, as above
}

// Dir is a directory made in the image (mode default 0755).
type Dir struct {
	Path string
	Mode os.FileMode
}

// Symlink is a symbolic link made in the image.
type Symlink struct{ Path, Target string }

// Hook is a Go program of this module run on the build host once the
// image tree is laid out, with the tree's directory as its first argument
// and Args after it: for what is derived from the tree (busybox's applet
// links, the CA bundle) without a shell at build time.
type Hook struct {
	Package string
	Args    []string
}

// rawRecipe is build.yml as written.
type rawRecipe struct {
	Image      string         `yaml:"image"`
	Tag        string         `yaml:"tag"`
	Debian     []string       `yaml:"debian"`
	UsrMerge   *bool          `yaml:"usrmerge"`
	Move       []rawMove      `yaml:"move"`
	Go         []rawGo        `yaml:"go"`
	Copy       []rawCopy      `yaml:"copy"`
	Dirs       []rawDir       `yaml:"directories"`
	Symlinks   []rawSymlink   `yaml:"symlinks"`
	Run        []rawHook      `yaml:"run"`
	Remove     []string       `yaml:"remove"`
	Entrypoint []string       `yaml:"entrypoint"`
	Cmd        []string       `yaml:"cmd"`
	Env        []string       `yaml:"env"`
	Workdir    string         `yaml:"workdir"`
	User       string         `yaml:"user"`
	Config     map[string]any `yaml:"config"`
}

type rawMove struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

type rawGo struct {
	Package string            `yaml:"package"`
	Path    string            `yaml:"path"`
	Cgo     bool              `yaml:"cgo"`
	Tags    []string          `yaml:"tags"`
	Vars    map[string]string `yaml:"vars"`
}

type rawCopy struct {
	Source string `yaml:"source"`
	Path   string `yaml:"path"`
	Mode   any    `yaml:"mode"`
}

type rawDir struct {
	Path string `yaml:"path"`
	Mode any    `yaml:"mode"`
}

type rawSymlink struct {
	Path   string `yaml:"path"`
	Target string `yaml:"target"`
}

type rawHook struct {
	Package string   `yaml:"package"`
	Args    []string `yaml:"args"`
}

// Load reads and checks DIR/build.yml.
func Load(dir string) (*Recipe, error) {
	file := filepath.Join(dir, RecipeFile)
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read recipe: %w", err)
	}
	return Parse(file, data)
}

var (
	debName    = regexp.MustCompile(`^[a-z0-9][a-z0-9+.*-]+(:[a-z0-9]+)?$`)
	debVersion = regexp.MustCompile(`^[A-Za-z0-9.+~:-]+$`)
)

// Parse reads the recipe in data; file names it in errors and is taken as
// build.yml inside the recipe directory. Every problem is reported, each
// as FILE:LINE:COL: field: what is wrong.
func Parse(file string, data []byte) (*Recipe, error) {
	p := &recipeParser{file: file}
	var raw rawRecipe
	if err := yaml.UnmarshalWithOptions(data, &raw, yaml.Strict(), yaml.DisallowUnknownField()); err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil {
			pos := ye.GetToken().Position
			return nil, fmt.Errorf("%s:%d:%d: %s", file, pos.Line, pos.Column, ye.GetMessage())
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	p.ast, _ = parser.ParseBytes(data, 0) // it parsed above, so this does too

	r := &Recipe{Dir: filepath.Dir(file), File: file, raw: data, Tag: DefaultTag, UsrMerge: true}
	r.Image = raw.Image
	if raw.Tag != "" {
		r.Tag = raw.Tag
	}
	switch {
	case raw.Image == "":
		p.errorf("$", "image", "is required (the image name, such as minikit/getty)")
	case strings.ContainsAny(raw.Image, ":@"):
		p.errorf("$.image", "image", "%q has a tag or digest: give the tag as tag:", raw.Image)
	default:
		if _, err := images.NormalizeName(r.Ref()); err != nil {
			p.errorf("$.image", "image", "%q with tag %q is not an image name: %v", raw.Image, r.Tag, err)
		}
	}
	if raw.UsrMerge != nil {
		r.UsrMerge = *raw.UsrMerge
	}
	for i, d := range raw.Debian {
		at := fmt.Sprintf("$.debian[%d]", i)
		name, version, pinned := strings.Cut(d, "=")
		switch {
		case !debName.MatchString(name):
			p.errorf(at, "debian", "%q is not a Debian package name", name)
		case pinned && strings.Contains(name, "*"):
			p.errorf(at, "debian", "%q is a pattern, which stands for the newest match: it takes no version", name)
		case pinned && !debVersion.MatchString(version):
			p.errorf(at, "debian", "%q is not a Debian version (write NAME or NAME=VERSION)", version)
		default:
			r.Debian = append(r.Debian, Package{Name: name, Version: version})
		}
	}
	for i, m := range raw.Move {
		at := fmt.Sprintf("$.move[%d]", i)
		r.Move = append(r.Move, Move{From: p.imagePath(at+".from", "move.from", m.From), To: p.imagePath(at+".to", "move.to", m.To)})
	}
	for i, g := range raw.Go {
		at := fmt.Sprintf("$.go[%d]", i)
		r.Go = append(r.Go, GoProgram{
			Package: p.goPackage(at+".package", "go.package", g.Package),
			Path:    p.imagePath(at+".path", "go.path", g.Path),
			Cgo:     g.Cgo,
			Tags:    p.buildTags(at+".tags", g.Tags),
			Vars:    p.linkVars(at+".vars", g.Vars),
		})
	}
	for i, c := range raw.Copy {
		at := fmt.Sprintf("$.copy[%d]", i)
		r.Copy = append(r.Copy, Copy{
			Source: p.sourcePath(at+".source", "copy.source", r.Dir, c.Source),
			Path:   p.imagePath(at+".path", "copy.path", c.Path),
			Mode:   p.mode(at+".mode", "copy.mode", c.Mode),
		})
	}
	for i, d := range raw.Dirs {
		at := fmt.Sprintf("$.directories[%d]", i)
		dir := Dir{Path: p.imagePath(at+".path", "directories.path", d.Path), Mode: p.mode(at+".mode", "directories.mode", d.Mode)}
		if dir.Mode == 0 {
			dir.Mode = 0o755
		}
		r.Dirs = append(r.Dirs, dir)
	}
	for i, s := range raw.Symlinks {
		at := fmt.Sprintf("$.symlinks[%d]", i)
		if s.Target == "" {
			p.errorf(at, "symlinks.target", "is required")
		}
		r.Symlinks = append(r.Symlinks, Symlink{Path: p.imagePath(at+".path", "symlinks.path", s.Path), Target: s.Target})
	}
	for i, h := range raw.Run {
		at := fmt.Sprintf("$.run[%d]", i)
		r.Run = append(r.Run, Hook{Package: p.goPackage(at+".package", "run.package", h.Package), Args: h.Args})
	}
	for i, rm := range raw.Remove {
		at := fmt.Sprintf("$.remove[%d]", i)
		if _, err := path.Match(rm, ""); err != nil {
			p.errorf(at, "remove", "%q is not a valid pattern: %v", rm, err)
		}
		r.Remove = append(r.Remove, p.imagePath(at, "remove", rm))
	}
	r.Entrypoint, r.Cmd, r.Env, r.Workdir, r.User = raw.Entrypoint, raw.Cmd, raw.Env, raw.Workdir, raw.User
	for i, e := range raw.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			p.errorf(fmt.Sprintf("$.env[%d]", i), "env", "%q is not VAR=value", e)
		}
	}
	if raw.Workdir != "" && !path.IsAbs(raw.Workdir) {
		p.errorf("$.workdir", "workdir", "%q is not absolute", raw.Workdir)
	}
	if len(raw.Config) > 0 {
		r.Config = p.config(raw.Config, r)
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return r, nil
}

// recipeParser collects the problems of one file with their positions.
type recipeParser struct {
	file string
	ast  *ast.File
	errs []error
}

// errorf records a problem at the node the YAML path at names.
func (p *recipeParser) errorf(at, field, format string, args ...any) {
	line, col := p.position(at)
	p.errs = append(p.errs, fmt.Errorf("%s:%d:%d: %s: %s", p.file, line, col, field, fmt.Sprintf(format, args...)))
}

// position is the line and column of the node at the YAML path at, or
// 1:1 when it cannot be found (a field that was left out).
func (p *recipeParser) position(at string) (int, int) {
	for at != "" {
		if yp, err := yaml.PathString(at); err == nil && p.ast != nil {
			if n, err := yp.FilterFile(p.ast); err == nil && n != nil && n.GetToken() != nil {
				pos := n.GetToken().Position
				return pos.Line, pos.Column
			}
		}
		// A missing field: point at what holds it.
		i := strings.LastIndexAny(at, ".[")
		if i <= 0 {
			break
		}
		at = at[:i]
	}
	return 1, 1
}

// source is the text written at the YAML path at, or def.
func (p *recipeParser) source(at, def string) string {
	if yp, err := yaml.PathString(at); err == nil && p.ast != nil {
		if n, err := yp.FilterFile(p.ast); err == nil && n != nil && n.GetToken() != nil {
			return n.GetToken().Value
		}
	}
	return def
}

// imagePath checks a path inside the image: absolute, clean, not /.
func (p *recipeParser) imagePath(at, field, s string) string {
	switch {
	case s == "":
		p.errorf(at, field, "is required")
	case !path.IsAbs(s):
		p.errorf(at, field, "%q is not absolute (paths in the image start with /)", s)
	case path.Clean(s) != s || s == "/":
		p.errorf(at, field, "%q is not a clean path below / (write %q)", s, path.Clean(s))
	}
	return s
}

// sourcePath checks a path on the build host, relative to the recipe
// directory and inside it, so that the recipe hash covers it.
func (p *recipeParser) sourcePath(at, field, dir, s string) string {
	switch {
	case s == "":
		p.errorf(at, field, "is required")
		return ""
	case filepath.IsAbs(s) || !filepath.IsLocal(s):
		p.errorf(at, field, "%q is not a path inside the recipe directory", s)
		return ""
	}
	return filepath.Join(dir, s)
}

// goPackage checks a Go package: an import path, or ./ or ../ relative to
// the recipe directory.
func (p *recipeParser) goPackage(at, field, s string) string {
	if s == "" {
		p.errorf(at, field, "is required")
	} else if strings.ContainsAny(s, " \t\n") {
		p.errorf(at, field, "%q is not a Go package path", s)
	}
	return s
}

// buildTags checks Go build tags: each a word of letters, digits, _ and .,
// as go build reads them.
func (p *recipeParser) buildTags(at string, tags []string) []string {
	for i, t := range tags {
		if !buildTagRE.MatchString(t) {
			p.errorf(fmt.Sprintf("%s[%d]", at, i), "go.tags", "%q is not a Go build tag (letters, digits, _ and . only)", t)
		}
	}
	return tags
}

var buildTagRE = regexp.MustCompile(`^[A-Za-z0-9_.]+$`)

// linkVars checks link-time variables: IMPORTPATH.NAME, and a value that
// the go command's -ldflags splitting keeps whole (no spaces or quotes).
func (p *recipeParser) linkVars(at string, vars map[string]string) map[string]string {
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		if !linkVarRE.MatchString(k) {
			p.errorf(at+".'"+k+"'", "go.vars", "%q is not IMPORTPATH.NAME", k)
		}
		if v := vars[k]; v == "" || strings.ContainsAny(v, " \t\n'\"\\") {
			p.errorf(at+".'"+k+"'", "go.vars", "value %q is empty or has spaces or quotes", v)
		}
	}
	return vars
}

var linkVarRE = regexp.MustCompile(`^[A-Za-z0-9_./~-]+\.[A-Za-z_][A-Za-z0-9_]*$`)

// mode reads a permission mode written as a quoted octal string. YAML 1.2
// reads an unquoted 0755 as the decimal number 755, so a number is refused
// with the fix.
func (p *recipeParser) mode(at, field string, v any) os.FileMode {
	switch m := v.(type) {
	case nil:
		return 0
	case string:
		n, err := strconv.ParseUint(m, 8, 32)
		if err != nil || n > 0o7777 {
			p.errorf(at, field, "%q is not an octal mode up to \"07777\"", m)
			return 0
		}
		return os.FileMode(n) | modeBits(n)
	default:
		p.errorf(at, field, "%s is a number: write the mode as a quoted octal string, such as \"0755\"", p.source(at, fmt.Sprint(v)))
		return 0
	}
}

// modeBits turns the setuid, setgid and sticky bits of a Unix mode into
// os.FileMode's.
func modeBits(n uint64) os.FileMode {
	var m os.FileMode
	if n&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m &^ 0o7000
}

// config turns the config section into the label's JSON and checks it the
// way `minikit build` will read it, so that a typo fails the package build
// and not every system build that uses the image.
func (p *recipeParser) config(cfg map[string]any, r *Recipe) string {
	label, err := json.Marshal(cfg)
	if err != nil {
		p.errorf("$.config", "config", "cannot be written as JSON: %v", err)
		return ""
	}
	img := v1.Config{Entrypoint: r.Entrypoint, Cmd: r.Cmd, Labels: map[string]string{imagespec.LabelKey: string(label)}}
	if len(img.Entrypoint) == 0 && len(img.Cmd) == 0 {
		img.Cmd = []string{"/check"} // what runs does not matter to the check
	}
	// The label cannot know where the image will be used: it is right if
	// some kind of entry accepts it.
	var first error
	for _, kind := range []string{imagespec.KindService, imagespec.KindOnboot, imagespec.KindOnshutdown} {
		_, _, err := imagespec.OCISpec(&imagespec.Container{Name: "recipe", Image: r.Ref()}, img, kind)
		if err == nil {
			return string(label)
		}
		if first == nil {
			first = err
		}
	}
	p.errorf("$.config", "config", "%v", first)
	return string(label)
}
