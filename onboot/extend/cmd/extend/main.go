// Command extend grows a disk's only partition, and the ext4 filesystem
// on it, over the space the disk has gained (a cloud volume made larger,
// a VM image resized), as LinuxKit's extend package does at onboot. With
// no DEVICE, every disk with a partition table is tried. A disk with no
// partition or more than one, or no space to gain, is left alone.
//
// usage: extend [-type ext4] [-stop-on-error=true] [DEVICE...]
//
// Only ext4 is grown: minikit's format makes ext4 (LinuxKit's extend also
// took btrfs and xfs).
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/minikit/minikit/onboot/internal/disk"
)

func main() {
	fsType := flag.String("type", "ext4", "filesystem on the partition (ext4 only)")
	stopOnError := flag.Bool("stop-on-error", true, "stop at the first disk that cannot be extended")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: extend [-type ext4] [-stop-on-error=true] [DEVICE...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *fsType != "ext4" {
		log.Error("extend: only ext4 can be grown here (minikit's format makes ext4)", "type", *fsType)
		os.Exit(1)
	}
	e := &extender{run: runCommand, output: commandOutput, reread: rereadPartitions, log: log}
	devices := flag.Args()
	auto := len(devices) == 0
	if auto {
		disks, err := disk.List("/sys")
		if err != nil {
			log.Error("extend: "+err.Error(), "err", err)
			os.Exit(1)
		}
		for _, d := range disks {
			if !d.Partition {
				devices = append(devices, d.Path())
			}
		}
	}
	failed := false
	for _, d := range devices {
		if err := e.extend(d, auto); err != nil {
			log.Error("extend: "+err.Error(), "disk", d)
			failed = true
			if *stopOnError {
				break
			}
		}
	}
	if failed {
		os.Exit(1)
	}
}
