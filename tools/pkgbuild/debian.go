package pkgbuild

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/minikit/minikit/tools/images"
)

// DefaultDebCache is where downloaded .deb files are kept between builds:
// $XDG_CACHE_HOME/minikit/debs, or ~/.cache/minikit/debs.
func DefaultDebCache() string {
	cache, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "minikit-debs")
	}
	return filepath.Join(cache, "minikit", "debs")
}

// debFile is one package resolved to the exact file apt would fetch.
type debFile struct {
	Name, Version, Arch string
	File                string // the file name apt saves it under, name_version_arch.deb
	Size                int64
	SHA256              string // hex
}

func (d debFile) String() string { return d.Name + "=" + d.Version }

// errDownload marks a failed `apt-get download`: most often package lists
// older than the archive, which no longer has the version they name.
var errDownload = errors.New("the archive did not serve the package")

// aptOnce runs `apt-get update` at most once per process: a machine that
// never fetched the package lists (a fresh CI machine) or whose lists name
// files the archive no longer has gets them refreshed, once.
var aptOnce struct {
	sync.Mutex
	done bool
	err  error
}

func aptUpdate(ctx context.Context, log *slog.Logger) error {
	aptOnce.Lock()
	defer aptOnce.Unlock()
	if aptOnce.done {
		return aptOnce.err
	}
	aptOnce.done = true
	log.Info("refreshing apt's package lists", "cmd", "apt-get update")
	out, err := exec.CommandContext(ctx, "apt-get", "update", "-qq").CombinedOutput()
	if err != nil {
		aptOnce.err = fmt.Errorf("apt-get update: %w: %s", err, bytes.TrimSpace(out))
	}
	return aptOnce.err
}

// resolveDebs asks apt which file each package is, without downloading:
// `apt-get download --print-uris` names the file, its size and its SHA-256,
// which is what the recipe hash needs.
func resolveDebs(ctx context.Context, pkgs []Package, log *slog.Logger) ([]debFile, error) {
	if len(pkgs) == 0 {
		return nil, nil
	}
	debs, err := resolveOnce(ctx, pkgs)
	if err != nil && os.Geteuid() == 0 {
		// Most often: package lists never fetched, or stale.
		if uerr := aptUpdate(ctx, log); uerr != nil {
			return nil, fmt.Errorf("%w (and %v)", err, uerr)
		}
		debs, err = resolveOnce(ctx, pkgs)
	}
	return debs, err
}

func resolveOnce(ctx context.Context, pkgs []Package) ([]debFile, error) {
	pkgs, err := expandPatterns(ctx, pkgs)
	if err != nil {
		return nil, err
	}
	return printURIs(ctx, pkgs)
}

func printURIs(ctx context.Context, pkgs []Package) ([]debFile, error) {
	args := []string{"download", "--print-uris", "-qq"}
	for _, p := range pkgs {
		args = append(args, p.String())
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("resolve Debian packages with apt-get: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	byName := map[string]debFile{}
	for line := range strings.Lines(string(out)) {
		d, err := parseURILine(strings.TrimSpace(line))
		if err != nil {
			return nil, fmt.Errorf("resolve Debian packages: apt-get printed %q: %w", strings.TrimSpace(line), err)
		}
		byName[d.Name] = d
	}
	debs := make([]debFile, 0, len(pkgs))
	for _, p := range pkgs {
		name, _, _ := strings.Cut(p.Name, ":")
		d, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("resolve Debian package %s: apt-get named no file for it", p)
		}
		debs = append(debs, d)
	}
	return debs, nil
}

// parseURILine reads one line of --print-uris:
//
//	'http://…/busybox-static_1%3a1.35.0-4_amd64.deb' busybox-static_1%3a1.35.0-4_amd64.deb 928456 SHA256:ab…
func parseURILine(line string) (debFile, error) {
	f := strings.Fields(line)
	if len(f) != 4 {
		return debFile{}, errors.New("not URI FILE SIZE HASH")
	}
	size, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return debFile{}, fmt.Errorf("size: %w", err)
	}
	sum, ok := strings.CutPrefix(f[3], "SHA256:")
	if !ok || len(sum) != 64 {
		return debFile{}, errors.New("no SHA256 hash")
	}
	// The name is kept as apt writes it, epoch colon escaped as %3a.
	parts := strings.Split(strings.TrimSuffix(f[1], ".deb"), "_")
	if len(parts) != 3 {
		return debFile{}, fmt.Errorf("file name %q is not NAME_VERSION_ARCH.deb", f[1])
	}
	version, err := url.PathUnescape(parts[1])
	if err != nil {
		return debFile{}, fmt.Errorf("file name %q: %w", f[1], err)
	}
	return debFile{Name: parts[0], Version: version, Arch: parts[2], File: f[1], Size: size, SHA256: sum}, nil
}

// fetchDebs makes sure every file is in the cache with the right hash,
// downloading the missing ones with `apt-get download`.
func fetchDebs(ctx context.Context, cache string, debs []debFile, log *slog.Logger) error {
	var missing []debFile
	for _, d := range debs {
		if ok, err := cached(cache, d); err != nil {
			return err
		} else if !ok {
			missing = append(missing, d)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return fmt.Errorf("deb cache: %w", err)
	}
	// Download beside the cache and rename in: the cache only ever holds
	// whole, checked files.
	tmp, err := os.MkdirTemp(cache, ".download-")
	if err != nil {
		return fmt.Errorf("deb cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	args := []string{"download", "-qq", "-o", "APT::Sandbox::User=root"}
	var names []string
	for _, d := range missing {
		args = append(args, d.Name+"="+d.Version)
		names = append(names, d.String())
	}
	log.Info("downloading Debian packages", "packages", strings.Join(names, " "))
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("download %s: apt-get: %w: %s: %w", strings.Join(names, " "), err, bytes.TrimSpace(out), errDownload)
	}
	for _, d := range missing {
		got := filepath.Join(tmp, d.File)
		sum, err := fileSHA256(got)
		if err != nil {
			return fmt.Errorf("download %s: %w", d, err)
		}
		if sum != d.SHA256 {
			return fmt.Errorf("download %s: %s has SHA-256 %s, apt said %s", d, d.File, sum, d.SHA256)
		}
		if err := os.Rename(got, filepath.Join(cache, d.File)); err != nil {
			return fmt.Errorf("download %s: %w", d, err)
		}
	}
	return nil
}

// cached reports whether the cache holds d, checking its hash; a file with
// the wrong content is removed so that it is fetched again.
func cached(cache string, d debFile) (bool, error) {
	p := filepath.Join(cache, d.File)
	sum, err := fileSHA256(p)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("deb cache: %w", err)
	}
	if sum != d.SHA256 {
		os.Remove(p)
		return false, nil
	}
	return true, nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// usrMerged are the top-level directories a merged-/usr system keeps under
// /usr, with a symlink in their place.
var usrMerged = []string{"bin", "sbin", "lib", "lib32", "lib64", "libx32"}

// mergedPath moves a path under /bin, /sbin, /lib… to /usr, as Debian's
// usrmerge does. p is slash-separated, with or without a leading /.
func mergedPath(p string) string {
	abs := strings.HasPrefix(p, "/")
	rel := strings.TrimPrefix(path.Clean("/"+p), "/")
	first, _, _ := strings.Cut(rel, "/")
	for _, d := range usrMerged {
		if first == d {
			rel = "usr/" + rel
			break
		}
	}
	if abs {
		return "/" + rel
	}
	return rel
}

// unpackDeb applies a package's files to root through the image store's
// safe unpacker, so that no entry can write outside root, moving paths
// under /usr when usrMerge is set. dpkg-deb does the decompression (xz,
// zstd or gzip), since the Go standard library reads no xz.
func unpackDeb(ctx context.Context, deb, root string, usrMerge bool, maxBytes int64) error {
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", deb)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("unpack %s: %w", deb, err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(rewriteTar(out, pw, usrMerge)) }()
	opts := images.UnpackOptions{IgnoreOwners: os.Geteuid() != 0, MaxBytes: maxBytes}
	uerr := images.UnpackTar(pr, root, opts)
	pr.CloseWithError(errors.New("unpack stopped"))
	io.Copy(io.Discard, out)
	werr := cmd.Wait()
	switch {
	case uerr != nil:
		return fmt.Errorf("unpack %s: %w", filepath.Base(deb), uerr)
	case werr != nil:
		return fmt.Errorf("unpack %s: dpkg-deb: %w: %s", filepath.Base(deb), werr, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

// rewriteTar copies a tar stream, moving names and hard-link targets under
// /usr when usrMerge is set.
func rewriteTar(r io.Reader, w io.Writer, usrMerge bool) error {
	tr := tar.NewReader(bufio.NewReader(r))
	tw := tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return tw.Close()
		}
		if err != nil {
			return fmt.Errorf("read package tar: %w", err)
		}
		if usrMerge {
			hdr.Name = mergedPath(hdr.Name)
			if hdr.Typeflag == tar.TypeLink {
				hdr.Linkname = mergedPath(hdr.Linkname)
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// recordDeb writes the package's control file to
// /var/lib/dpkg/status.d/NAME, where SBOM scanners look in images without
// a dpkg database (as distroless images lay it out).
func recordDeb(ctx context.Context, deb string, d debFile, root *os.Root) error {
	control, err := exec.CommandContext(ctx, "dpkg-deb", "--field", deb).Output()
	if err != nil {
		return fmt.Errorf("read control of %s: %w", filepath.Base(deb), err)
	}
	if err := root.MkdirAll("var/lib/dpkg/status.d", 0o755); err != nil {
		return err
	}
	return root.WriteFile("var/lib/dpkg/status.d/"+d.Name, control, 0o644)
}
