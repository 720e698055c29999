// Command binfmt registers interpreters for foreign binaries with the
// kernel's binfmt_misc at onboot, as LinuxKit's binfmt package does: it
// mounts binfmt_misc, then writes each line of every file of the
// configuration directory (in name order; # starts a comment) to its
// register file, replacing an entry of the same name. With the F flag the
// kernel opens the interpreter at once, so the registration serves every
// container, whatever its root holds.
//
// usage: binfmt [-dir /etc/binfmt.d] [-mount /proc/sys/fs/binfmt_misc]
package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"golang.org/x/sys/unix"
)

func main() {
	dir := flag.String("dir", "/etc/binfmt.d", "directory of registration files")
	mount := flag.String("mount", "/proc/sys/fs/binfmt_misc", "where to mount binfmt_misc")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: binfmt [-dir DIR] [-mount DIR]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	// This container's own mount of the one binfmt_misc there is; what it
	// registers holds for the whole system. EBUSY: already mounted.
	err := unix.Mount("binfmt_misc", *mount, "binfmt_misc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	if err != nil && !errors.Is(err, unix.EBUSY) {
		log.Error("binfmt: mount binfmt_misc (is the binfmt_misc module loaded?)", "path", *mount, "err", err)
		os.Exit(1)
	}
	if failed := run(*dir, *mount, log); failed > 0 {
		log.Error("binfmt: registrations failed", "count", failed)
		os.Exit(1)
	}
}
