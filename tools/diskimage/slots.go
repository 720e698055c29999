package diskimage

import (
	"fmt"
	"io"
	"os"

	"github.com/minikit/minikit/internal/slots"
)

// The slots of a disk (internal/slots): each a partition that holds a
// whole system, the root image at its start and the kernel and initrd
// after it, which GRUB loads by their sectors as the slot's boot script
// on the boot partition says.

// minSlot is the smallest slot a disk gets unless Boot.SlotBytes says
// otherwise: room for a system to grow by updates. The unused part of a
// raw image is a hole, and of a qcow2 image not stored at all.
const minSlot = 256 << 20

// slotLayout is where slot A's parts go.
func (im *image) slotLayout() (slots.Layout, error) {
	var size [3]int64
	for i, p := range []string{im.Root, im.Kernel, im.Initrd} {
		if p == "" {
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return slots.Layout{}, err
		}
		size[i] = st.Size()
	}
	return slots.Plan(size[0], size[1], size[2]), nil
}

// slotBytes is each slot's size: Boot.SlotBytes, or twice what slot A
// holds and at least minSlot, in whole MiB.
func (im *image) slotBytes() int64 {
	const mib = 1 << 20
	l, err := im.slotLayout()
	if err != nil {
		return minSlot // slotBootFiles reported the error already
	}
	n := im.SlotBytes
	if n == 0 {
		n = max(2*l.End(), minSlot)
	}
	return (max(n, l.End()) + mib - 1) / mib * mib
}

// slotBootFiles writes what the boot partition of a disk with slots
// carries besides GRUB itself: grub.cfg, the environment block with the
// boot state of a new disk (slot A good), slot A's boot script, slot B's
// (empty), and the marker by which GRUB finds the partition.
func (im *image) slotBootFiles(fw Firmware) ([]fatFile, error) {
	l, err := im.slotLayout()
	if err != nil {
		return nil, err
	}
	if im.SlotBytes != 0 && im.SlotBytes < l.End() {
		return nil, fmt.Errorf("a slot of %d MiB cannot hold this system's %d MiB", im.SlotBytes>>20, (l.End()+1<<20-1)>>20)
	}
	scheme := slots.SchemeMBR
	if fw == EFI {
		scheme = slots.SchemeGPT
	}
	env, err := slots.Initial().Block()
	if err != nil {
		return nil, err
	}
	a, err := slots.Script{Slot: slots.A, Version: im.Version, Spec: im.Spec, Cmdline: im.Cmdline, Layout: l}.Format()
	if err != nil {
		return nil, err
	}
	content := []struct {
		dest string
		data []byte
	}{
		{grubCfg, []byte(slots.GrubConfig(scheme))},
		{slots.EnvPath, env},
		{slots.ScriptPath(slots.A), a},
		{slots.ScriptPath(slots.B), slots.EmptyScript(slots.B, "no system yet: an update writes one here")},
		{im.marker(), []byte("minikit\n")},
	}
	var files []fatFile
	for _, c := range content {
		p, err := im.writeScratch("slots/"+c.dest, string(c.data))
		if err != nil {
			return nil, err
		}
		files = append(files, fatFile{src: p, dest: c.dest})
	}
	return files, nil
}

// writeSlot writes slot A's parts into the disk w at the slot's offset;
// the rest of a new sparse disk reads as zeros already.
func (im *image) writeSlot(w io.WriterAt, offset int64) error {
	l, err := im.slotLayout()
	if err != nil {
		return err
	}
	for _, p := range []struct {
		file string
		at   slots.Extent
	}{{im.Root, l.Root}, {im.Kernel, l.Kernel}, {im.Initrd, l.Initrd}} {
		if p.file == "" {
			continue
		}
		if err := copySparse(w, p.file, offset+p.at.Offset); err != nil {
			return err
		}
	}
	return nil
}
