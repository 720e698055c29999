package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"

	imagespec "github.com/minikit/minikit/image-spec"
	"github.com/minikit/minikit/tools/images"
	"github.com/minikit/minikit/tools/packer"
)

// buildFlags are minikit build's flags, LinuxKit's spellings among them.
type buildFlags struct {
	out, dir, name, store, compression string
	formats                            formatFlags
	sbom, noSBOM                       bool
	maxUnpack                          *sizeFlag
	rootMode                           string
	signKey                            string
	verity, sizeReport                 bool
	size                               diskSizeFlag
	pull, dryRun, quiet                bool
	arch                               string
	verbose                            verbosity
	refused                            []*refusedFlag
}

func newBuildFlagSet(f *buildFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	fs.StringVar(&f.out, "o", "", "output `DIR` (default .); as LinuxKit's -o, a FILE.tar or - (standard output) is where the tar format alone goes")
	fs.StringVar(&f.dir, "dir", "", "output `DIR`, as -o (LinuxKit's spelling)")
	fs.StringVar(&f.name, "name", "", "output `NAME` (default: the last spec's base name without its extension, as LinuxKit)")
	fs.StringVar(&f.store, "store", images.DefaultDir(), "image store directory")
	fs.StringVar(&f.compression, "compression", "gzip", "initrd compression: gzip or zstd")
	fs.Var(&f.formats, "format", "output `FORMAT`s, comma-separated or repeated: "+formatList()+" (default kernel+initrd)")
	fs.Var(&f.formats, "f", "output `FORMAT`s, as -format")
	fs.Var(&f.size, "size", "the disks' `SIZE` (1024M, 2G; a bare number is GiB, as LinuxKit reads it) for raw-*, qcow2-*, aws, gcp, vhd and vmdk (default: as small as they can be, and 1G for aws, gcp, vhd and vmdk)")
	fs.BoolVar(&f.sbom, "sbom", true, "write NAME-sbom.cdx.json, a CycloneDX SBOM of the images, Debian packages and Go modules")
	fs.BoolVar(&f.noSBOM, "no-sbom", false, "write no SBOM (-sbom=false; LinuxKit's spelling)")
	f.maxUnpack = maxUnpackFlag(fs, "one image")
	fs.StringVar(&f.rootMode, "root", "auto", "how the system gets its root: image (a SquashFS image checked by dm-verity, mounted by init), tmpfs (files copied into a tmpfs at boot, for kernels that cannot mount the image) or auto")
	fs.BoolVar(&f.verity, "verity", true, "check every block of the root image with dm-verity; false is for debugging, and the system says so at every boot")
	fs.StringVar(&f.signKey, "sign", "", "sign the update bundle (-format update) with the private key in `FILE` (minikit key generate), and put its public key into the image, which then takes only updates it signed")
	fs.BoolVar(&f.sizeReport, "size-report", false, "print what takes the room in the image: each container, init image and set of kernel modules, and the largest files")
	fs.BoolVar(&f.pull, "pull", false, "pull again every image the store holds from an earlier pull, in case its tag moved (images built here are never pulled)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the merged spec and build nothing")
	fs.StringVar(&f.arch, "arch", "amd64", "the architecture to build for: amd64 (x86_64) is the only one")
	fs.BoolVar(&f.quiet, "q", false, "log only warnings and errors")
	fs.BoolVar(&f.quiet, "quiet", false, "as -q")
	fs.Var(&f.verbose, "v", "log `LEVEL`: 0 warnings, 1 info (the default), 2 debug; -v alone is 2")
	fs.Var(&f.verbose, "verbose", "as -v")
	fs.Var(acceptedBool{}, "disable-content-trust", "accepted for LinuxKit's scripts: minikit checks no Notary signatures, so there is nothing to disable")
	f.refused = []*refusedFlag{
		{name: "docker", isBool: true, why: "minikit does not read Docker's image store: save the image (docker save -o FILE.tar IMAGE) and name it docker-archive:FILE.tar in the spec"},
		{name: "input-tar", why: "minikit does not update an earlier build's tar; a build from the same spec reuses the unpacked images it cached and takes seconds"},
		{name: "decompress-kernel", isBool: true, why: "minikit's kernel is a bzImage, which qemu and every bootloader load as it is"},
		{name: "cache", why: "minikit keeps images in its own store, not in LinuxKit's cache: use -store DIR or $MINIKIT_STORE"},
		{name: "sbom-output", why: "minikit writes the SBOM beside the outputs, as NAME-sbom.cdx.json, not into the image"},
		{name: "sbom-current-time", isBool: true, why: "the SBOM's time is SOURCE_DATE_EPOCH's, so that builds stay reproducible"},
		{name: "mirror", why: "minikit pulls from the registry an image names; name a mirror in the image reference instead"},
		{name: "cert-file", why: "minikit uses the system's certificates to pull; add the certificate to the system's store"},
	}
	for _, r := range f.refused {
		fs.Var(r, r.name, "LinuxKit's; refused: "+r.why)
	}
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), buildUsage)
		fs.PrintDefaults()
	}
	return fs
}

func buildCommand(args []string) error { return runBuild(args, os.Stdout) }

// runBuild is minikit build, writing what it prints to stdout.
func runBuild(args []string, stdout io.Writer) error {
	var f buildFlags
	fs := newBuildFlagSet(&f)
	if err := fs.Parse(joinVerbose(args)); err != nil {
		return err
	}
	opts, err := f.options(fs.Args())
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: f.logLevel()}))
	slog.SetDefault(logger)
	spec, warnings, err := imagespec.ParseFiles(fs.Args()...)
	for _, w := range warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	if err != nil {
		return err
	}
	if f.dryRun {
		out, err := spec.YAML()
		if err != nil {
			return err
		}
		_, err = stdout.Write(out)
		return err
	}
	st, err := images.Open(f.store)
	if err != nil {
		return err
	}
	st.Refresh = f.pull
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts.Spec, opts.Store, opts.CacheDir, opts.Log = spec, st, filepath.Join(f.store, "cache"), logger
	toStdout := f.out == "-"
	if toStdout {
		tmp, err := os.MkdirTemp("", "minikit-build-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		opts.OutDir = tmp
	}
	res, err := packer.Build(ctx, opts)
	if err != nil {
		return explainUnpackLimit(err)
	}
	if toStdout {
		return copyFileTo(stdout, res.Images[packer.Tar])
	}
	for _, p := range res.Files {
		fmt.Fprintln(stdout, p)
	}
	if res.Sizes != nil {
		fmt.Fprintln(stdout)
		return res.Sizes.WriteText(stdout)
	}
	return nil
}

// options checks the flags against each other and against the spec files
// given, and says what to build where; the spec and store are the
// caller's to fill in.
func (f *buildFlags) options(specs []string) (packer.Options, error) {
	for _, r := range f.refused {
		if r.set {
			return packer.Options{}, fmt.Errorf("-%s: %s", r.name, r.why)
		}
	}
	if len(specs) == 0 {
		return packer.Options{}, fmt.Errorf("no spec file given (usage: minikit build [-o DIR] [-format F,…] FILE.yml...)")
	}
	if err := checkArch(f.arch); err != nil {
		return packer.Options{}, err
	}
	root, err := packer.ParseRootMode(f.rootMode)
	if err != nil {
		return packer.Options{}, err
	}
	opts := packer.Options{
		Name:           f.name,
		Compression:    f.compression,
		Formats:        f.formats,
		SBOM:           f.sbom && !f.noSBOM,
		SizeReport:     f.sizeReport,
		MaxUnpackBytes: int64(*f.maxUnpack),
		Root:           root,
		NoVerity:       !f.verity,
		DiskSize:       int64(f.size),
	}
	if f.signKey != "" {
		if opts.SignKey, err = readSignKey(f.signKey); err != nil {
			return opts, err
		}
	}
	switch {
	case isTarFile(f.out):
		// LinuxKit's -o: the file the tar format alone is written to.
		if f.name != "" || f.dir != "" {
			return opts, fmt.Errorf("-o %s names the tar file to write, as LinuxKit's -o does, which takes neither -name nor -dir", f.out)
		}
		if len(opts.Formats) == 0 {
			opts.Formats = []packer.Format{packer.Tar}
		}
		if !slices.Equal(opts.Formats, []packer.Format{packer.Tar}) {
			return opts, fmt.Errorf("-o %s names a file, which takes the tar format alone (as LinuxKit's -o); give a directory (-o DIR or -dir DIR) for %s", f.out, f.formats.String())
		}
		if f.out == "-" {
			opts.SBOM = false // nowhere to put it
			opts.Name = defaultName(specs)
			return opts, nil
		}
		opts.OutDir, opts.Name = filepath.Dir(f.out), strings.TrimSuffix(filepath.Base(f.out), ".tar")
		return opts, nil
	case f.out != "" && f.dir != "" && filepath.Clean(f.out) != filepath.Clean(f.dir):
		return opts, fmt.Errorf("-o %s and -dir %s: give one output directory", f.out, f.dir)
	}
	opts.OutDir = cmpOr(f.out, f.dir, ".")
	if opts.Name == "" {
		opts.Name = defaultName(specs)
	}
	return opts, nil
}

// isTarFile says whether -o's value is LinuxKit's output file rather than
// minikit's output directory: standard output, or a name ending in .tar.
func isTarFile(out string) bool {
	return out == "-" || strings.HasSuffix(out, ".tar")
}

// defaultName is the outputs' name when -name gives none, as LinuxKit
// chooses it: the last spec file's base name without its extension.
func defaultName(specs []string) string {
	base := filepath.Base(specs[len(specs)-1])
	return strings.TrimSuffix(base, filepath.Ext(base))
}

func cmpOr(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// checkArch accepts the one architecture minikit builds for, under
// LinuxKit's and the kernel's names for it.
func checkArch(arch string) error {
	switch arch {
	case "amd64", "x86_64":
		return nil
	}
	return fmt.Errorf("-arch %s: minikit builds for amd64 (x86_64) only", arch)
}

func (f *buildFlags) logLevel() slog.Level {
	switch {
	case f.quiet || f.verbose.set && f.verbose.level == 0:
		return slog.LevelWarn
	case f.verbose.level >= 2:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// copyFileTo writes the file at p to w, for -o -.
func copyFileTo(w io.Writer, p string) error {
	in, err := os.Open(p)
	if err != nil {
		return err
	}
	defer in.Close()
	_, err = io.Copy(w, in)
	return err
}

const buildUsage = `Usage: minikit build [flags] FILE.yml...

Builds the system the spec files describe (merged in order) and prints the
files it wrote. NAME is the last spec's base name unless -name gives one.
The default output is DIR/NAME-kernel, DIR/NAME-initrd.img and
DIR/NAME-cmdline; -format adds or chooses others, named as LinuxKit names
them:

  kernel+initrd   NAME-kernel, NAME-initrd.img, NAME-cmdline
  kernel+squashfs NAME-kernel, NAME-squashfs.img (the root image, a disk
                  for minikit run), NAME-initrd.img, NAME-cmdline
  tar             NAME.tar, the root filesystem
  iso-bios        NAME.iso (isolinux; also boots as a disk)
  iso-efi         NAME-efi.iso (GRUB for UEFI)
  iso-efi-initrd  NAME-efi-initrd.iso (GRUB for UEFI; the root is in the
                  initrd, so no driver for the boot device is needed)
  raw-bios        NAME-bios.img, a disk with an MBR and GRUB
  raw-efi         NAME-efi.img, a disk with a GPT and GRUB on its ESP
                  (the raw and qcow2 disks have two slots, A and B, for
                  updates)
  qcow2-bios      NAME.qcow2, the raw-bios disk as qcow2
  qcow2-efi       NAME-efi.qcow2, the raw-efi disk as qcow2
  aws             NAME.raw, the raw-bios disk (1G), for an AMI
  gcp             NAME.img.tar.gz, the raw-bios disk (1G) as GCE imports it
  vhd             NAME.vhd, the raw-bios disk (1G) as a fixed VHD
  vmdk            NAME.vmdk, the raw-bios disk (1G) as a stream-optimized VMDK
  update          NAME.update, a signed update bundle for a system running
                  from one of those disks (svcctl update): needs -sign

NAME-bios.iso and NAME-bios.qcow2, minikit's names before LinuxKit's, are
left as links to NAME.iso and NAME.qcow2.

Everything but the kernel goes into one SquashFS image, checked by
dm-verity (its root hash is on the kernel command line), which init mounts
read-only; a kernel that cannot mount it gets the files copied into a
tmpfs at boot instead (-root).

The same specs and image digests give the same bytes in every format;
times come from SOURCE_DATE_EPOCH (default: the Unix epoch).

LinuxKit's flags -dir, -f, -size, -pull, -arch, -no-sbom, -dry-run, -q and
-v work as there, and -disable-content-trust is accepted; -docker,
-input-tar, -decompress-kernel, -cache, -sbom-output, -sbom-current-time,
-mirror and -cert-file are refused, saying why.

Flags:
`

// formatFlags collects -format values, each comma-separated.
type formatFlags []packer.Format

func (f *formatFlags) String() string {
	var s []string
	for _, x := range *f {
		s = append(s, string(x))
	}
	return strings.Join(s, ",")
}

func (f *formatFlags) Set(value string) error {
	parsed, err := packer.ParseFormats(value)
	if err != nil {
		return err
	}
	for _, x := range parsed {
		if !slices.Contains(*f, x) {
			*f = append(*f, x)
		}
	}
	return nil
}

func formatList() string {
	var s []string
	for _, f := range packer.Formats {
		s = append(s, string(f))
	}
	return strings.Join(s, ", ")
}
