// Package slots is the A/B layout of a minikit disk and the protocol by
// which its boot loader and init share the boot state: the contract
// between the disk writer (tools/diskimage), which lays a disk out, and
// init, which writes an update into the slot it does not run from and
// decides when that update is good.
//
// A disk (raw-bios, raw-efi, qcow2-bios) has three partitions: the boot
// partition (FAT, partition 1) with GRUB, its grub.cfg, its environment
// block and one boot script per slot, and the two slots A and B
// (partitions 2 and 3). A slot holds a whole system: the root image at
// its start (where init's first stage finds it by its root hash), then
// the kernel and the initrd, which GRUB loads by their sectors. The slot's
// boot script, on the boot partition, names those sectors and carries
// the kernel command line with the root hash. Only the environment block
// and the scripts are ever rewritten on the boot partition, in place and
// at the same size.
package slots

import (
	"fmt"
	"slices"
)

// The slots.
const (
	A = "A"
	B = "B"
)

// Names are the slots, in order.
var Names = []string{A, B}

// Valid reports whether s names a slot.
func Valid(s string) bool { return slices.Contains(Names, s) }

// Other is the slot that is not s.
func Other(s string) string {
	if s == A {
		return B
	}
	return A
}

// BootPartition is the number of the boot partition.
const BootPartition = 1

// Partition is the number of slot's partition: 2 for A, 3 for B.
func Partition(slot string) int {
	if slot == B {
		return 3
	}
	return 2
}

// SlotOf is the slot on partition n, "" for none.
func SlotOf(n int) string {
	for _, s := range Names {
		if Partition(s) == n {
			return s
		}
	}
	return ""
}

// Paths on the boot partition, and the sizes of the files that are
// rewritten in place.
const (
	GrubConfigPath = "boot/grub/grub.cfg"
	EnvPath        = "boot/grub/grubenv"
	// EnvSize is the environment block's size. The boot state fits in its
	// first 512-byte sector, so a write that a power cut tears between
	// its two sectors still leaves a whole state.
	EnvSize = 1024
	// ScriptSize is the size of each slot's boot script.
	ScriptSize = 4096
)

// ScriptPath is where slot's boot script is on the boot partition.
func ScriptPath(slot string) string { return "boot/" + slot + ".cfg" }

// Align is the boundary each part of a slot starts on, in bytes.
const Align = 4096

// Extent is a run of bytes in a slot's partition.
type Extent struct{ Offset, Length int64 }

// Sectors is the extent in 512-byte sectors as GRUB's block lists name
// them: the first sector and how many, the last one padded with zeros.
func (e Extent) Sectors() (first, count int64) {
	return e.Offset / 512, (e.Length + 511) / 512
}

// Layout says where a slot's parts are, from the start of its partition:
// the root image (with its hash tree) at 0, then the kernel and the
// initrd, each on an Align boundary. Every byte between the parts and up
// to End is written as zeros, so what GRUB reads past a part's end in its
// last sector is nothing left over from an earlier system.
type Layout struct {
	Root, Kernel, Initrd Extent
}

// Plan lays out a slot for parts of these sizes; rootBytes is 0 for a
// system whose initrd holds the root.
func Plan(rootBytes, kernelBytes, initrdBytes int64) Layout {
	var l Layout
	l.Root = Extent{0, rootBytes}
	l.Kernel = Extent{alignUp(rootBytes), kernelBytes}
	l.Initrd = Extent{alignUp(l.Kernel.Offset + kernelBytes), initrdBytes}
	return l
}

// End is where the slot's content ends: what its partition must hold.
func (l Layout) End() int64 { return alignUp(l.Initrd.Offset + l.Initrd.Length) }

func alignUp(n int64) int64 { return (n + Align - 1) / Align * Align }

// Check says whether a layout read from a script makes sense for a slot
// of size bytes.
func (l Layout) Check(size int64) error {
	for _, e := range []Extent{l.Root, l.Kernel, l.Initrd} {
		if e.Offset < 0 || e.Length < 0 || e.Offset%Align != 0 {
			return fmt.Errorf("slot layout: a part at %d (%d bytes) is not aligned to %d", e.Offset, e.Length, Align)
		}
	}
	if l.Kernel.Length == 0 || l.Initrd.Length == 0 {
		return fmt.Errorf("slot layout: no kernel or no initrd")
	}
	if l.Kernel.Offset < l.Root.Offset+l.Root.Length || l.Initrd.Offset < l.Kernel.Offset+l.Kernel.Length {
		return fmt.Errorf("slot layout: parts overlap")
	}
	if size > 0 && l.End() > size {
		return fmt.Errorf("slot layout: %d bytes do not fit the slot's %d", l.End(), size)
	}
	return nil
}
