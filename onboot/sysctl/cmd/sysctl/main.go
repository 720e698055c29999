// Command sysctl applies sysctl settings files, as LinuxKit's sysctl
// package does at onboot: every *.conf of each directory given (in name
// order) and every file given, /etc/sysctl.d when none is. A setting the
// kernel refuses is reported and the others still applied; a key written
// with a leading "-" may be missing silently (a knob of a newer kernel).
//
// usage: sysctl [-strict] [FILE|DIR...]
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
)

func main() {
	strict := flag.Bool("strict", false, "exit 1 when a setting could not be applied")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: sysctl [-strict] [FILE|DIR...]   (default /etc/sysctl.d)")
		flag.PrintDefaults()
	}
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	paths := flag.Args()
	if len(paths) == 0 {
		paths = []string{"/etc/sysctl.d"}
	}
	files, err := confFiles(paths)
	if err != nil {
		log.Error("sysctl", "err", err)
		os.Exit(1)
	}
	failed := 0
	for _, f := range files {
		settings, err := parseFile(f)
		if err != nil {
			log.Error("sysctl", "err", err)
			failed++
			continue
		}
		failed += apply("/proc/sys", settings, log)
	}
	if failed > 0 && *strict {
		os.Exit(1)
	}
}
