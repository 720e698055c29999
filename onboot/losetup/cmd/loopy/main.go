// Command loopy attaches a file to a loop device at onboot, as LinuxKit's
// losetup package does, making the file (often on a persistent disk) a
// block device that dm-crypt, mount or format can take.
//
// usage: loopy [-c|--create] [-s|--size MiB] [-d|--dev DEVICE] FILE
//
// FILE is created with SIZE MiB (10 by default) if it is missing and -c is
// given; DEVICE is /dev/loop0 unless told. Exit status 2: the device or
// the file is missing; 1: the attach failed (the device is in use, say).
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
)

const usage = `usage: loopy [options] FILE
  -c, --create      create FILE if it is missing
  -s, --size MiB    size of a FILE created (default 10)
  -d, --dev DEVICE  loop device to use (default /dev/loop0)
  -h, --help        this text`

func main() {
	opts, err := parseArgs(os.Args[1:])
	if errors.Is(err, errHelp) {
		fmt.Println(usage)
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "loopy: %v\n%s\n", err, usage)
		os.Exit(1)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := attach(opts, log); err != nil {
		log.Error("loopy: "+err.Error(), "file", opts.file, "device", opts.device)
		var missing *missingError
		if errors.As(err, &missing) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
