// Package rootfs prepares the root filesystem at boot: it moves an
// initramfs onto a tmpfs so that containers can pivot_root, mounts the
// pseudo filesystems as a table of data, and makes the root read-only.
//
// Every side effect goes through a Mounter, so the ordering decisions can
// be tested without touching the machine.
package rootfs
