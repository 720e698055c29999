package diskimage

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/minikit/minikit/internal/slots"
)

// Firmware is what starts the machine: a PC BIOS or UEFI.
type Firmware string

// The firmwares an image can be made for.
const (
	BIOS Firmware = "bios"
	EFI  Firmware = "efi"
)

// Kind is the container of an image: an ISO, or a disk as a raw file, a
// qcow2, VHD or VMDK file, or Google Compute Engine's tarball.
type Kind string

// The kinds of image the writers make.
const (
	ISO   Kind = "iso"
	Raw   Kind = "raw"
	QCOW2 Kind = "qcow2"
	// VHD is a fixed-size VHD (Hyper-V, Azure): the raw disk and a
	// 512-byte footer.
	VHD Kind = "vhd"
	// VMDK is a stream-optimized VMDK (VMware), the raw disk compressed.
	VMDK Kind = "vmdk"
	// GCE is the raw disk as disk.raw in a gzip'd tar, what Google Compute
	// Engine imports; its size is a whole number of GiB.
	GCE Kind = "gce"
)

// IsDisk says whether kind holds a partitioned disk, whose size
// Boot.DiskSize sets.
func (k Kind) IsDisk() bool { return k != ISO }

// Boot is what an image boots.
type Boot struct {
	Kernel string // the kernel file (a bzImage)
	Initrd string // the initrd file
	// Cmdline is the kernel command line.
	Cmdline string
	// Root is the root image (SquashFS and its hash tree) the disk
	// carries beside the kernel, which init's first stage finds and
	// mounts: a partition of its own on a raw disk, a file on an ISO.
	// Empty when the initrd holds the root.
	Root string
	// Version and Spec say which system this is (the spec's
	// update.version and digest), in slot A's boot script of a disk, where
	// `svcctl update status` reads them.
	Version, Spec string
	// SlotBytes is the size of each of a disk's two slots; 0 for twice
	// what the system takes, and at least 256 MiB.
	SlotBytes int64
	// DiskSize is the size of a disk image in bytes, a whole number of
	// sectors; the space after the partitions is left unpartitioned. 0
	// makes a disk as small as its partitions allow, rounded up to a
	// whole MiB (a GCE disk to a whole GiB). A size too small for the
	// partitions is an error. ISOs ignore it.
	DiskSize int64
	// Epoch is the time stamped on every file and volume. Times before
	// 1980 (the zero value, SOURCE_DATE_EPOCH=0) are stamped as
	// 1980-01-01: FAT cannot say earlier, and xorriso takes a time of 0
	// for no time at all and stamps the clock's time instead.
	Epoch time.Time
}

// The paths of the boot files inside every image, so that a user who
// mounts one finds them in the same place whatever its kind.
const (
	kernelPath = "boot/kernel"
	initrdPath = "boot/initrd.img"
	grubCfg    = "boot/grub/grub.cfg"
	// rootPath is where an ISO carries the root image: init's first stage
	// looks for it there (rootfs.ISOImagePath).
	rootPath = "boot/root.img"
)

// minEpoch is the earliest time a FAT directory entry can hold, and so
// the earliest an image is stamped with.
var minEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// image is one write in progress: the inputs and what is derived from them.
type image struct {
	Boot
	// id is a digest of the kernel, initrd and command line: it names the
	// marker GRUB searches for, and seeds serials and GUIDs, so two
	// images of the same system agree and images of different ones differ.
	id      [32]byte
	scratch string // removed when the write ends
	// unit is what a disk's size is rounded up to, in sectors; 0 means
	// a MiB.
	unit uint64
}

func newImage(b Boot, dest string) (*image, error) {
	if b.Epoch.Before(minEpoch) {
		b.Epoch = minEpoch
	}
	b.Epoch = b.Epoch.UTC()
	h := sha256.New()
	for _, f := range []string{b.Kernel, b.Initrd, b.Root} {
		if f == "" {
			continue
		}
		if err := hashFile(h, f); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d", b.Cmdline, b.Version, b.Spec, b.SlotBytes)
	im := &image{Boot: b}
	h.Sum(im.id[:0])
	scratch, err := os.MkdirTemp(filepath.Dir(dest), ".diskimage-")
	if err != nil {
		return nil, fmt.Errorf("scratch directory: %w", err)
	}
	im.scratch = scratch
	return im, nil
}

func hashFile(h io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("boot file: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

func (im *image) close() { os.RemoveAll(im.scratch) }

// derive returns 16 bytes that depend only on the image and on purpose.
func (im *image) derive(purpose string) [16]byte {
	sum := sha256.Sum256(append(im.id[:], purpose...))
	var out [16]byte
	copy(out[:], sum[:])
	return out
}

// serial is a 32-bit volume serial or disk signature derived from the image.
func (im *image) serial(purpose string) uint32 {
	d := im.derive(purpose)
	return binary.LittleEndian.Uint32(d[:4])
}

// marker is the file GRUB searches for to find the device holding this
// image's files, unique to the system it boots.
func (im *image) marker() string {
	return "boot/minikit-" + hex.EncodeToString(im.id[:8])
}

// grubFiles writes the scratch files an EFI image carries besides GRUB
// itself: its grub.cfg, and the marker file by which that grub.cfg finds
// this image's partition. It returns the path of each in the image mapped
// to its scratch file.
func (im *image) grubFiles() (map[string]string, error) {
	cfg, err := im.writeScratch("grub.cfg", grubConfig(im.Cmdline))
	if err != nil {
		return nil, err
	}
	marker, err := im.writeScratch("marker", "minikit\n")
	if err != nil {
		return nil, err
	}
	return map[string]string{grubCfg: cfg, im.marker(): marker}, nil
}

// writeScratch writes a small generated file into the scratch directory
// and returns its path.
func (im *image) writeScratch(name, content string) (string, error) {
	p := filepath.Join(im.scratch, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		return "", err
	}
	return p, nil
}

// syslinuxConfig is the configuration of isolinux and syslinux: boot the
// kernel at once, with the bootloader's messages on the first serial port
// as well as the screen.
func syslinuxConfig(cmdline string) string {
	return fmt.Sprintf(`serial 0 115200
prompt 0
timeout 0
default minikit
label minikit
  kernel /%s
  append initrd=/%s %s
`, kernelPath, initrdPath, strings.TrimSpace(cmdline))
}

// grubConfig boots the kernel at once, with GRUB's messages on the first
// serial port as well as the screen, so a headless machine shows them. (On
// a machine without a display GRUB says "no suitable video mode found"
// and boots in blind mode, which is harmless.)
func grubConfig(cmdline string) string {
	var args []string
	for _, f := range strings.Fields(cmdline) {
		args = append(args, grubQuote(f))
	}
	return fmt.Sprintf(`serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
echo "minikit: loading /%[1]s"
linux /%[1]s %[3]s
initrd /%[2]s
boot
`, kernelPath, initrdPath, strings.Join(args, " "))
}

// grubQuote quotes a word for GRUB's shell-like script language when it
// holds anything GRUB would interpret.
func grubQuote(s string) string { return slots.GrubQuote(s) }
