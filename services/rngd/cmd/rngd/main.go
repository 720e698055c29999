// Command rngd feeds the kernel's random pool from a hardware RNG. It
// takes LinuxKit's rngd command lines and runs Debian's rngd (rng-tools5)
// for the daemon:
//
//	rngd       keep feeding: Debian's rngd in the foreground, with the
//	           hardware RNG and the CPU's RDRAND as sources
//	rngd -1    feed once from /dev/hwrng and exit, as an onboot entry
//
// With no source at all the daemon waits for its stop signal instead of
// failing, so that the service is not restarted in a loop on machines
// without one; the kernel seeds itself from interrupts (and RDRAND) anyway.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// debianRngd is where the recipe moves Debian's rngd, to give this
// program its name.
const debianRngd = "/usr/lib/rng-tools5/rngd"

func main() {
	once := flag.Bool("1", false, "add entropy from /dev/hwrng once and exit")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: rngd [-1] [Debian rngd options...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *once {
		if err := feedOnce("/dev/hwrng", "/dev/random", 512, log); err != nil {
			log.Error("rngd", "err", err)
			os.Exit(1)
		}
		return
	}
	if !haveSource("/dev/hwrng", "/proc/cpuinfo") {
		log.Info("no hardware RNG and no RDRAND: nothing to feed; waiting to be stopped")
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		return
	}
	args := append([]string{debianRngd, "-f"}, flag.Args()...)
	err := syscall.Exec(debianRngd, args, os.Environ())
	log.Error("rngd: run Debian's rngd", "path", debianRngd, "err", err)
	os.Exit(1)
}
