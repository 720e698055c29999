// Package qemu boots a minikit kernel and initrd, ISO or disk image in
// qemu-system-x86_64, with SeaBIOS or UEFI (OVMF), and reports, from the
// outside, what the guest printed and how it stopped.
//
// It is the one place that knows qemu's command line: minikit run, the test
// harness and anything else that boots an image describe the machine with
// Options, call Start, read the serial console through Console, ask the
// guest to power off with Powerdown and learn from Wait whether it powered
// off cleanly, reset, or had to be killed.
package qemu
