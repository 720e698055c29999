// Command sysfs writes settings into sysfs at onboot, as LinuxKit's sysfs
// package does: each file of the configuration directory, in name order,
// holds "PATH = VALUE" lines, PATH relative to /sys; # starts a comment.
// Every setting is tried; the command exits 1 if any could not be read or
// written, naming the file and line.
//
// usage: sysfs [-configDir /etc/sysfs.d] [-sysfsDir /sys]
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
)

func main() {
	configDir := flag.String("configDir", "/etc/sysfs.d", "directory of settings files")
	sysfsDir := flag.String("sysfsDir", "/sys", "where sysfs is mounted")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: sysfs [-configDir DIR] [-sysfsDir DIR]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if failed := run(*configDir, *sysfsDir, log); failed > 0 {
		log.Error("sysfs: settings not applied", "count", failed)
		os.Exit(1)
	}
}
