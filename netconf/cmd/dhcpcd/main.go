// Command dhcpcd keeps DHCPv4 leases on a system's interfaces and
// configures them, or configures them from static values in its
// configuration file. It takes the real dhcpcd's command line and reads
// the parts of a dhcpcd.conf that LinuxKit specs use; it is what the
// minikit/dhcpcd service image runs.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/minikit/minikit/netconf"
	"github.com/minikit/minikit/netconf/dhcpcdconf"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run is main with an exit status: 0, 1 when oneshot mode timed out or
// dhcpcd failed, 2 for a bad command line or configuration.
func run(args []string) int {
	opts, err := parseArgs(args)
	if errors.Is(err, errHelp) {
		fmt.Println(usage)
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dhcpcd:", err)
		return 2
	}
	log := newLogger(os.Stderr, opts.debug)
	conf, err := readConf(opts, log)
	if err != nil {
		log.Error("bad configuration", "err", err)
		return 2
	}
	if !opts.timeoutSet && conf.Timeout > 0 {
		opts.timeout = conf.Timeout
	}

	// SIGTERM is how init stops a service; SIGHUP is dhcpcd's "release
	// and exit". All three stop cleanly. Only a signal cancels ctx: when
	// oneshot mode returns, the clients must not see a stop and release.
	ctx, stop := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		log.Info("stopping", "signal", (<-sigs).String())
		stop()
	}()

	links, err := netconf.Open()
	if err != nil {
		log.Error("dhcpcd cannot start", "err", err)
		return 1
	}
	defer links.Close()
	d := newDaemon(opts, conf, links, log)
	log.Info("dhcpcd started", "interfaces", strings.Join(opts.interfaces, ","), "oneshot", opts.oneshot)

	if !opts.oneshot {
		if err := d.run(ctx); err != nil {
			log.Error("dhcpcd failed", "err", err)
			return 1
		}
		log.Info("dhcpcd stopped")
		return 0
	}

	// Oneshot: leave the configuration in place and exit as soon as it
	// is there; the goroutines end with the process, releasing nothing.
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	if d.waitConfigured(ctx, opts.timeout) {
		log.Info("configured; exiting (oneshot)")
		return 0
	}
	if ctx.Err() != nil {
		<-done
		return 1
	}
	log.Error("timed out waiting for an address (oneshot)", "timeout", opts.timeout, "waiting_for", strings.Join(d.unconfigured(), ","))
	return 1
}

// readConf reads -f, or DefaultConfFile when it exists, and logs what of
// it is ignored.
func readConf(opts options, log *slog.Logger) (*dhcpcdconf.Config, error) {
	path := opts.confFile
	if path == "" {
		if _, err := os.Stat(DefaultConfFile); err != nil {
			return &dhcpcdconf.Config{}, nil
		}
		path = DefaultConfFile
	}
	conf, err := dhcpcdconf.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for _, n := range append(opts.notes, conf.Notes...) {
		log.Info("ignored", "note", n)
	}
	return conf, nil
}
