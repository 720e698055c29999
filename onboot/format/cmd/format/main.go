// Command format prepares a persistent disk, as LinuxKit's format package
// does at onboot: it gives the first empty disk (no partition table, no
// filesystem) one partition and makes a filesystem on it. At later boots,
// a disk whose first partition holds that filesystem (type, and label if
// -label is given) is taken as the one it prepared, and format succeeds
// without writing; LinuxKit's fails there, for want of an empty disk.
//
// usage: format [-type ext4|xfs|btrfs] [-label LABEL] [-partition dos|gpt] [-force] [DEVICE]
//
// With DEVICE, that disk is formatted, unless it already holds a partition
// table or a filesystem: onboot runs at every boot, and the data of the
// last boot must survive it. -force formats it all the same.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/minikit/minikit/onboot/internal/disk"
)

func main() {
	fsType := flag.String("type", "ext4", "filesystem to make: ext4, xfs or btrfs (any TYPE whose mkfs.TYPE the image has)")
	label := flag.String("label", "", "filesystem label")
	partitioning := flag.String("partition", "dos", "partition table to write: dos (an MBR) or gpt")
	force := flag.Bool("force", false, "format DEVICE even if it holds data")
	flag.Bool("verbose", false, "accepted for compatibility: every step is logged")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: format [-type ext4|xfs|btrfs] [-label LABEL] [-partition dos|gpt] [-force] [DEVICE]")
		flag.PrintDefaults()
	}
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	table, err := disk.ParsePartitioning(*partitioning)
	if err != nil {
		log.Error("format: -partition", "err", err)
		os.Exit(2)
	}
	f := &formatter{sys: "/sys", dev: "/dev", mountinfo: "/proc/self/mountinfo", fsType: *fsType, label: *label, table: table, log: log}
	switch flag.NArg() {
	case 0:
		err = f.formatFirstEmpty()
	case 1:
		err = f.formatDevice(flag.Arg(0), *force)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		log.Error("format", "err", err)
		os.Exit(1)
	}
}
