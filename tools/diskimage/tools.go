package diskimage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// MissingError says that a program or file a writer needs is not on this
// machine, and which Debian package provides it.
type MissingError struct {
	What    string // a program name or a file path
	Package string // the Debian package to install
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("%s not found: install the Debian package %s", e.What, e.Package)
}

// need is one program or file a writer uses.
type need struct {
	what string // a program looked up in $PATH, or an absolute file path
	pkg  string
}

// The programs and files the writers use, each with its Debian package.
var (
	needXorriso = need{"xorriso", "xorriso"}
	needMformat = need{"mformat", "mtools"}
	needMmd     = need{"mmd", "mtools"}
	needMcopy   = need{"mcopy", "mtools"}
	needGrub    = need{"grub-mkimage", "grub-common"}
	needQemuImg = need{"qemu-img", "qemu-utils"}

	needIsolinuxBin = need{"/usr/lib/ISOLINUX/isolinux.bin", "isolinux"}
	needIsohybrid   = need{"/usr/lib/ISOLINUX/isohdpfx.bin", "isolinux"}
	needLdlinux     = need{"/usr/lib/syslinux/modules/bios/ldlinux.c32", "syslinux-common"}
	needGrubEFI     = need{"/usr/lib/grub/x86_64-efi/linux.mod", "grub-efi-amd64-bin"}
	needGrubBIOS    = need{"/usr/lib/grub/i386-pc/boot.img", "grub-pc-bin"}
)

// find returns the program's path, or the file's, or a *MissingError.
func (n need) find() (string, error) {
	if strings.HasPrefix(n.what, "/") {
		if _, err := os.Stat(n.what); err != nil {
			return "", &MissingError{What: n.what, Package: n.pkg}
		}
		return n.what, nil
	}
	p, err := exec.LookPath(n.what)
	if err != nil {
		return "", &MissingError{What: n.what, Package: n.pkg}
	}
	return p, nil
}

// needsOf lists what writing kind (Kind) for firmware needs.
func needsOf(kind Kind, fw Firmware) []need {
	fat := []need{needMformat, needMmd, needMcopy}
	var needs []need
	switch {
	case kind == ISO && fw == BIOS:
		return []need{needXorriso, needIsolinuxBin, needIsohybrid, needLdlinux}
	case kind == ISO && fw == EFI:
		return append([]need{needXorriso, needGrub, needGrubEFI}, fat...)
	case fw == BIOS:
		needs = append([]need{needGrub, needGrubBIOS}, fat...)
	case fw == EFI:
		needs = append([]need{needGrub, needGrubEFI}, fat...)
	}
	return append(convertNeeds(kind), needs...)
}

// convertNeeds lists what converting a raw disk into kind needs.
func convertNeeds(kind Kind) []need {
	switch kind {
	case QCOW2, VHD, VMDK:
		return []need{needQemuImg}
	}
	return nil
}

// Check reports everything missing to write kind for fw, so that a build
// can fail before its slow part and name every package at once. The error
// joins one *MissingError per missing program or file.
func Check(kind Kind, fw Firmware) error {
	var errs []error
	seen := map[string]bool{}
	for _, n := range needsOf(kind, fw) {
		if seen[n.what] {
			continue
		}
		seen[n.what] = true
		if _, err := n.find(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// toolEnv is the environment of every tool run: the fixed time for tools
// that honour SOURCE_DATE_EPOCH (mtools, xorriso), UTC so that local time
// never leaks into FAT's local-time stamps, the C locale, and no user
// configuration of mtools.
func toolEnv(epoch time.Time) []string {
	return append(os.Environ(),
		"SOURCE_DATE_EPOCH="+strconv.FormatInt(epoch.Unix(), 10),
		"TZ=UTC",
		"LC_ALL=C",
		"MTOOLSRC=/dev/null",
		"MTOOLS_SKIP_CHECK=1",
	)
}

// run runs a needed program and returns its error with its output, which
// is where these tools say what went wrong.
func run(ctx context.Context, epoch time.Time, n need, args ...string) error {
	_, err := runOutput(ctx, toolEnv(epoch), n, args...)
	return err
}

// tail keeps the last n lines of a tool's output.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
