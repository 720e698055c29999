// Package disk finds block devices in sysfs, recognises filesystems and
// partition tables by their signatures, and writes a one-partition MBR:
// what the format and mount recipes' programs (format, mountie) need to
// prepare and mount a persistent disk without util-linux.
package disk
