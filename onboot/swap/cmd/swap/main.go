// Command swap makes and enables a swap file at onboot, as LinuxKit's
// swap package does; the image installs it as /swap.sh, the name LinuxKit
// specs run.
//
// usage: /swap.sh --path /var/PATH --size SIZE [--encrypt] [--condition C]... [--debug]
//
// SIZE is bytes or a number with K, M or G. The file must be under /var
// (on a persistent disk: swap cannot live on a tmpfs). --encrypt maps it
// through dm-crypt with a random key made at each boot, as
// /dev/mapper/swapfile. Each condition must hold, or no swap is made:
//
//	part:PATH[:true]            PATH is a mount point
//	partsize:PATH:SIZE[:true]   the filesystem at PATH is at least SIZE
//
// A condition that fails ends the command with status 0, or 1 when it
// ends in :true (required).
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
)

func main() {
	opts, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "swap:", err)
		fmt.Fprintln(os.Stderr, "usage: /swap.sh --path /var/PATH --size SIZE [--encrypt] [--condition TYPE:ARGS[:true]]... [--debug]")
		os.Exit(1)
	}
	level := slog.LevelInfo
	if opts.debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	s := &swapper{opts: opts, sys: realSystem{}, log: log}
	if err := s.run(); err != nil {
		var unmet *unmetError
		if errors.As(err, &unmet) {
			log.Info("no swap: "+unmet.Error(), "required", unmet.required)
			if unmet.required {
				os.Exit(1)
			}
			return
		}
		log.Error("swap: "+err.Error(), "path", opts.path)
		os.Exit(1)
	}
}
