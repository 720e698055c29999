package pkgbuild

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	imagespec "github.com/minikit/minikit/image-spec"
	"github.com/minikit/minikit/tools/images"
	"github.com/minikit/minikit/tools/sbom"
)

// Labels a built image carries besides org.mobyproject.config.
const (
	// LabelRecipeHash is the hash of everything the image was made from.
	LabelRecipeHash = "org.minikit.recipe-hash"
	// LabelDebianPackages lists the Debian packages in the image as the
	// JSON array the SBOM writer reads (sbom.PackagesLabel).
	LabelDebianPackages = sbom.PackagesLabel
)

// Options say where a build puts its image and finds its inputs.
type Options struct {
	Store    *images.Store // required
	DebCache string        // where .deb files are kept; DefaultDebCache() when ""
	Force    bool          // build even when the store has an image of the same hash
	Log      *slog.Logger  // slog.Default() when nil
	// MaxUnpackBytes caps the file contents each Debian package may
	// unpack; 0 means images.DefaultMaxBytes.
	MaxUnpackBytes int64
}

// Result says what a build did.
type Result struct {
	Ref      string  // NAME:TAG as stored
	Digest   v1.Hash // the stored image
	Hash     string  // the recipe hash
	UpToDate bool    // the store already had it; nothing was built
	Packages []string
	debs     []sbom.Package
}

// builder holds one build's state.
type builder struct {
	r       *Recipe
	opts    Options
	log     *slog.Logger
	work    string   // scratch, removed at the end
	rootDir string   // the image tree
	root    *os.Root // rootDir, confined
}

// Build builds r into opts.Store under r.Ref(), unless the store already
// holds an image with r's recipe hash (and Force is not set).
//
// The hash covers the recipe file, each .deb file apt resolves (by
// SHA-256, so a new Debian point release rebuilds), each Go program as
// built, each hook program and each copied file with its mode. Debian
// packages are downloaded only once the hash says a build is needed, and
// are kept in opts.DebCache.
func Build(ctx context.Context, r *Recipe, opts Options) (*Result, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.DebCache == "" {
		opts.DebCache = DefaultDebCache()
	}
	ref, err := images.NormalizeName(r.Ref())
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", r.File, err)
	}
	work, err := os.MkdirTemp("", "minikit-pkg-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	b := &builder{r: r, opts: opts, log: opts.Log.With("image", ref), work: work, rootDir: filepath.Join(work, "root")}
	res, err := b.build(ctx, ref)
	if errors.Is(err, errDownload) && os.Geteuid() == 0 {
		// Stale package lists: refresh them once and resolve again.
		if uerr := aptUpdate(ctx, b.log); uerr == nil {
			os.RemoveAll(b.rootDir)
			res, err = b.build(ctx, ref)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("build %s (%s): %w", ref, r.File, err)
	}
	return res, nil
}

func (b *builder) build(ctx context.Context, ref string) (*Result, error) {
	r := b.r
	debs, err := resolveDebs(ctx, r.Debian, b.log)
	if err != nil {
		return nil, err
	}
	rh := newRecipeHasher()
	rh.field("recipe", string(r.raw))
	rh.field("labels", "debian-packages as JSON") // images labelled otherwise are rebuilt
	res := &Result{Ref: ref}
	for _, d := range debs {
		rh.field("deb", d.Name, d.Version, d.Arch, d.SHA256)
		res.Packages = append(res.Packages, d.String())
		res.debs = append(res.debs, sbom.Package{Name: d.Name, Version: d.Version, Arch: d.Arch})
	}
	progs := make([]string, len(r.Go))
	for i, g := range r.Go {
		progs[i] = filepath.Join(b.work, "go", strconv.Itoa(i))
		if err := goBuild(ctx, r.Dir, g.Package, progs[i], g.Cgo, false, g.Vars, g.Tags...); err != nil {
			return nil, err
		}
		if err := rh.file("go "+g.Path, progs[i]); err != nil {
			return nil, err
		}
	}
	hooks := make([]string, len(r.Run))
	for i, h := range r.Run {
		hooks[i] = filepath.Join(b.work, "hooks", strconv.Itoa(i))
		if err := goBuild(ctx, r.Dir, h.Package, hooks[i], false, true, nil); err != nil {
			return nil, err
		}
		if err := rh.file("hook", hooks[i]); err != nil {
			return nil, err
		}
	}
	for _, c := range r.Copy {
		if err := rh.tree(c); err != nil {
			return nil, err
		}
	}
	res.Hash = rh.sum()

	if !b.opts.Force {
		if have, digest := storedHash(b.opts.Store.Dir(), ref); have == res.Hash {
			res.UpToDate, res.Digest = true, digest
			return res, nil
		}
	}
	if err := fetchDebs(ctx, b.opts.DebCache, debs, b.log); err != nil {
		return nil, err
	}
	if err := b.layout(ctx, debs, progs, hooks); err != nil {
		return nil, err
	}
	if err := CheckLibraries(b.rootDir); err != nil {
		return nil, err
	}
	img, err := images.FromDir(b.rootDir, b.imageConfig(res))
	if err != nil {
		return nil, err
	}
	if err := b.opts.Store.Add(ref, img); err != nil {
		return nil, err
	}
	if res.Digest, err = img.Digest(); err != nil {
		return nil, err
	}
	return res, nil
}

// layout assembles the image tree, in the order README.md documents.
func (b *builder) layout(ctx context.Context, debs []debFile, progs, hooks []string) error {
	r := b.r
	if err := os.Mkdir(b.rootDir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(b.rootDir)
	if err != nil {
		return err
	}
	defer root.Close()
	b.root = root
	if r.UsrMerge {
		if err := usrMergeLinks(root); err != nil {
			return err
		}
	}
	for _, d := range debs {
		deb := filepath.Join(b.opts.DebCache, d.File)
		if err := unpackDeb(ctx, deb, b.rootDir, r.UsrMerge, b.opts.MaxUnpackBytes); err != nil {
			return err
		}
		if err := recordDeb(ctx, deb, d, root); err != nil {
			return err
		}
	}
	for _, m := range r.Move {
		if err := b.move(m); err != nil {
			return err
		}
	}
	for _, d := range r.Dirs {
		if err := b.mkdir(d); err != nil {
			return err
		}
	}
	for i, g := range r.Go {
		if err := b.install(progs[i], b.rel(g.Path), 0o755); err != nil {
			return fmt.Errorf("install %s as %s: %w", g.Package, g.Path, err)
		}
	}
	for _, c := range r.Copy {
		if err := b.copyIn(c); err != nil {
			return err
		}
	}
	for _, s := range r.Symlinks {
		if err := b.symlink(s); err != nil {
			return err
		}
	}
	for i, h := range r.Run {
		if err := b.runHook(ctx, h, hooks[i]); err != nil {
			return err
		}
	}
	for _, p := range r.Remove {
		if err := b.remove(p); err != nil {
			return err
		}
	}
	return b.trimDocs()
}

// runHook runs a hook program with the tree as its first argument.
func (b *builder) runHook(ctx context.Context, h Hook, bin string) error {
	cmd := exec.CommandContext(ctx, bin, append([]string{b.rootDir}, h.Args...)...)
	cmd.Dir = b.r.Dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("run %s: %w: %s", h.Package, err, bytes.TrimSpace(out.Bytes()))
	}
	b.log.Debug("hook", "package", h.Package, "output", strings.TrimSpace(out.String()))
	return nil
}

// imageConfig is the recipe's image config with the build's labels.
func (b *builder) imageConfig(res *Result) v1.Config {
	r := b.r
	cfg := v1.Config{
		Entrypoint: r.Entrypoint,
		Cmd:        r.Cmd,
		Env:        r.Env,
		WorkingDir: r.Workdir,
		User:       r.User,
		Labels:     map[string]string{LabelRecipeHash: res.Hash},
	}
	if r.Config != "" {
		cfg.Labels[imagespec.LabelKey] = r.Config
	}
	if len(res.debs) > 0 {
		if data, err := json.Marshal(res.debs); err == nil {
			cfg.Labels[LabelDebianPackages] = string(data)
		}
	}
	return cfg
}

// storedHash returns the recipe hash and digest of the image the store
// holds under ref, or "" when it holds none. The store is read as the
// plain OCI layout it is; nothing is pulled.
func storedHash(storeDir, ref string) (string, v1.Hash) {
	p, err := layout.FromPath(storeDir)
	if err != nil {
		return "", v1.Hash{}
	}
	index, err := p.ImageIndex()
	if err != nil {
		return "", v1.Hash{}
	}
	m, err := index.IndexManifest()
	if err != nil {
		return "", v1.Hash{}
	}
	for _, d := range m.Manifests {
		name, err := images.NormalizeName(d.Annotations[images.RefNameAnnotation])
		if err != nil || name != ref {
			continue
		}
		img, err := index.Image(d.Digest)
		if err != nil {
			return "", v1.Hash{}
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return "", v1.Hash{}
		}
		return cfg.Config.Labels[LabelRecipeHash], d.Digest
	}
	return "", v1.Hash{}
}
