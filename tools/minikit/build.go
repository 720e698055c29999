package main

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
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

func buildCommand(args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	out := fs.String("o", ".", "output directory")
	name := fs.String("name", "", "output name (default: the first spec's base name)")
	store := fs.String("store", images.DefaultDir(), "image store directory")
	compression := fs.String("compression", "gzip", "initrd compression: gzip or zstd")
	var formats formatFlags
	fs.Var(&formats, "format", "output `FORMAT`s, comma-separated or repeated: "+formatList()+" (default kernel+initrd)")
	sbom := fs.Bool("sbom", true, "write NAME-sbom.cdx.json, a CycloneDX SBOM of the images, Debian packages and Go modules")
	maxUnpack := maxUnpackFlag(fs, "one image")
	rootMode := fs.String("root", "auto", "how the system gets its root: image (a SquashFS image checked by dm-verity, mounted by init), tmpfs (files copied into a tmpfs at boot, for kernels that cannot mount the image) or auto")
	withVerity := fs.Bool("verity", true, "check every block of the root image with dm-verity; false is for debugging, and the system says so at every boot")
	signKey := fs.String("sign", "", "sign the update bundle (-format update) with the private key in `FILE` (minikit key generate), and put its public key into the image, which then takes only updates it signed")
	sizeReport := fs.Bool("size-report", false, "print what takes the room in the image: each container, init image and set of kernel modules, and the largest files")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), buildUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("no spec file given (usage: minikit build [-o DIR] [-format F,…] FILE.yml...)")
	}
	spec, warnings, err := imagespec.ParseFiles(fs.Args()...)
	for _, w := range warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	if err != nil {
		return err
	}
	root, err := packer.ParseRootMode(*rootMode)
	if err != nil {
		return err
	}
	if *name == "" {
		base := filepath.Base(fs.Arg(0))
		*name = strings.TrimSuffix(strings.TrimSuffix(base, ".yml"), ".yaml")
	}
	st, err := images.Open(*store)
	if err != nil {
		return err
	}
	var key ed25519.PrivateKey
	if *signKey != "" {
		if key, err = readSignKey(*signKey); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := packer.Build(ctx, packer.Options{
		Spec:           spec,
		Name:           *name,
		OutDir:         *out,
		Store:          st,
		CacheDir:       filepath.Join(*store, "cache"),
		Compression:    *compression,
		Formats:        formats,
		SBOM:           *sbom,
		SizeReport:     *sizeReport,
		MaxUnpackBytes: int64(*maxUnpack),
		Root:           root,
		NoVerity:       !*withVerity,
		SignKey:        key,
		Log:            slog.Default(),
	})
	if err != nil {
		return explainUnpackLimit(err)
	}
	for _, p := range res.Files {
		fmt.Println(p)
	}
	if res.Sizes != nil {
		fmt.Println()
		return res.Sizes.WriteText(os.Stdout)
	}
	return nil
}

const buildUsage = `Usage: minikit build [flags] FILE.yml...

Builds the system the spec files describe (merged in order) and prints the
files it wrote. The default output is DIR/NAME-kernel, DIR/NAME-initrd.img
and DIR/NAME-cmdline; -format adds or chooses others:

  kernel+initrd  NAME-kernel, NAME-initrd.img, NAME-cmdline
  kernel+squashfs NAME-kernel, NAME-squashfs.img (the root image, a disk
                 for minikit run), NAME-initrd.img, NAME-cmdline
  tar            NAME.tar, the root filesystem
  iso-bios       NAME-bios.iso (isolinux; also boots as a disk)
  iso-efi        NAME-efi.iso (GRUB for UEFI)
  raw-bios       NAME-bios.img, a disk with an MBR and GRUB
  raw-efi        NAME-efi.img, a disk with a GPT and GRUB on its ESP
                 (both with two slots, A and B, for updates)
  qcow2-bios     NAME-bios.qcow2, the raw-bios disk as qcow2
  update         NAME.update, a signed update bundle for a system running
                 from one of those disks (svcctl update): needs -sign

Everything but the kernel goes into one SquashFS image, checked by
dm-verity (its root hash is on the kernel command line), which init mounts
read-only; a kernel that cannot mount it gets the files copied into a
tmpfs at boot instead (-root).

The same specs and image digests give the same bytes in every format;
times come from SOURCE_DATE_EPOCH (default: the Unix epoch).

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
