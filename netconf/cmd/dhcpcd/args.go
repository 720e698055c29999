package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// options are the command line, which follows the real dhcpcd's so that
// LinuxKit specs run unchanged: options and interface names in any order.
type options struct {
	oneshot    bool
	confFile   string // "" means DefaultConfFile when it exists
	timeout    time.Duration
	timeoutSet bool
	debug      bool
	persistent bool
	hostname   string // -h: the host name to send
	runDir     string
	interfaces []string
	// notes are options accepted but meaningless here.
	notes []string
}

const usage = `usage: dhcpcd [--nobackground] [-1|--oneshot] [-f CONFFILE] [-t SECONDS]
              [-p|--persistent] [-h HOSTNAME] [-d|--debug] [--rundir DIR] [INTERFACE…]

Keeps a DHCPv4 lease on each interface (all but loopback unless some are
named, and those the configuration file allows) and configures the
interface from it. With -1 it exits once an address is configured (every
named interface, or any one when none is named), or with status 1 when the
timeout (default 30 s, 0 for none) passes first.`

// DefaultConfFile is read when -f is not given, if it exists.
const DefaultConfFile = "/etc/dhcpcd.conf"

// DefaultRunDir holds resolv.conf and the dhcpcd/ state directory.
const DefaultRunDir = "/run"

// errHelp asks main to print the usage and succeed.
var errHelp = errors.New("help requested")

func parseArgs(args []string) (options, error) {
	o := options{runDir: DefaultRunDir, timeout: 30 * time.Second}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, inline, hasInline := strings.Cut(a, "=")
		if !strings.HasPrefix(a, "--") {
			name, hasInline = a, false
		}
		value := func() (string, error) {
			if hasInline {
				return inline, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs a value\n%s", name, usage)
			}
			i++
			return args[i], nil
		}
		var err error
		switch name {
		case "--":
			o.interfaces = append(o.interfaces, args[i+1:]...)
			i = len(args)
		case "-1", "--oneshot":
			o.oneshot = true
		case "-B", "--nobackground":
			// We never fork: a container's process must stay.
		case "-b", "--background":
			o.notes = append(o.notes, name+": ignored; dhcpcd always stays in the foreground")
		case "-4", "--ipv4only", "-w", "--waitip", "-A", "--noarp", "-L", "--noipv4ll":
			// What we do anyway.
		case "-f", "--config":
			o.confFile, err = value()
		case "-t", "--timeout":
			var v string
			if v, err = value(); err == nil {
				var n int
				n, err = strconv.Atoi(v)
				if err != nil || n < 0 {
					err = fmt.Errorf("%s: want a number of seconds, got %q", name, v)
				}
				o.timeout, o.timeoutSet = time.Duration(n)*time.Second, true
			}
		case "-p", "--persistent":
			o.persistent = true
		case "-h", "--hostname":
			o.hostname, err = value()
		case "-d", "--debug":
			o.debug = true
		case "--rundir":
			o.runDir, err = value()
		case "--help":
			return o, errHelp
		default:
			if strings.HasPrefix(a, "-") {
				return o, fmt.Errorf("unknown option %s\n%s", a, usage)
			}
			o.interfaces = append(o.interfaces, a)
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}
