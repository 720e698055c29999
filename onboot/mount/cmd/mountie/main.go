// Command mountie mounts a persistent disk, taking LinuxKit's mountie
// command lines:
//
//	mountie MOUNTPOINT            the first disk or partition with a filesystem
//	mountie DEVICE MOUNTPOINT     that device
//	mountie -label L MOUNTPOINT   the filesystem labelled L (-uuid U likewise)
//
// The mount point is made if missing. Devices already mounted, swap space
// and ISO 9660 (the boot medium) are passed over. The filesystem type is
// read from the device unless -type gives it.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
)

func main() {
	device := flag.String("device", "", "device to mount")
	label := flag.String("label", "", "mount the filesystem with this label")
	uuid := flag.String("uuid", "", "mount the filesystem with this UUID")
	fsType := flag.String("type", "", "filesystem type (default: read from the device)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: mountie [-device DEV | -label L | -uuid U] [-type T] [DEVICE] MOUNTPOINT")
		flag.PrintDefaults()
	}
	flag.Parse()
	var mountpoint string
	switch flag.NArg() {
	case 1:
		mountpoint = flag.Arg(0)
	case 2:
		*device, mountpoint = flag.Arg(0), flag.Arg(1)
	default:
		flag.Usage()
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	m := &mounter{sys: "/sys", dev: "/dev", mountinfo: "/proc/self/mountinfo", log: log}
	dev, fs, err := m.find(*device, *label, *uuid)
	if err == nil {
		if *fsType != "" {
			fs.Type = *fsType
		}
		err = m.mountAt(dev, fs.Type, mountpoint)
	}
	if err != nil {
		log.Error("mountie", "err", err)
		os.Exit(1)
	}
	log.Info("mounted", "device", dev, "type", fs.Type, "mountpoint", mountpoint)
}
