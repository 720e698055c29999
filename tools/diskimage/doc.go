// Package diskimage writes bootable images around a kernel, its initrd and
// its command line: ISOs (isolinux for BIOS, GRUB for UEFI, made with
// xorriso), raw disks with a partition table (GRUB for BIOS or UEFI, a FAT
// boot partition and two slots for A/B updates, as internal/slots lays
// them out) of a given size, and those disks as qcow2, fixed VHD and
// stream-optimized VMDK files (with qemu-img) and as Google Compute
// Engine's tarball of disk.raw.
//
// Every writer is reproducible: the same inputs and the same Epoch give the
// same bytes whatever the machine's clock, time zone or umask. Identifiers
// that tools would otherwise draw at random (volume serials, disk GUIDs)
// are derived from the content.
//
// The bootloaders and filesystem tools come from Debian's packages; a
// missing one is reported as a *MissingError that names the package.
package diskimage
