package main

import (
	"fmt"
	"strconv"
)

// LinuxKit's command line is cobra's: long flags with two dashes, which
// Go's flag package takes as well as one. What differs is handled here:
// sizes written as LinuxKit reads them, -v with or without a level, and
// the flags that make no sense for minikit, which are refused by name.

// diskSizeFlag is -size: a disk size as LinuxKit reads it, in bytes. M is
// MiB, G GiB, T TiB; a bare number is GiB.
type diskSizeFlag int64

func (d *diskSizeFlag) String() string {
	if *d == 0 {
		return ""
	}
	return strconv.FormatInt(int64(*d)>>20, 10) + "M"
}

func (d *diskSizeFlag) Set(s string) error {
	n, err := parseDiskSize(s)
	if err != nil {
		return err
	}
	*d = diskSizeFlag(n)
	return nil
}

func parseDiskSize(s string) (int64, error) {
	digits, unit := s, int64(1<<30)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'm', 'M':
			digits, unit = s[:n-1], 1<<20
		case 'g', 'G':
			digits = s[:n-1]
		case 't', 'T':
			digits, unit = s[:n-1], 1<<40
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/unit {
		return 0, fmt.Errorf("%q: want a size such as 1024M or 2G (a bare number is GiB, as LinuxKit reads it)", s)
	}
	return n * unit, nil
}

// verbosity is -v: LinuxKit's log level, 0 quiet to 3 trace; -v alone
// is 2, debug.
type verbosity struct {
	level int
	set   bool
}

func (v *verbosity) String() string { return strconv.Itoa(v.level) }

func (v *verbosity) Set(s string) error {
	if s == "true" {
		s = "2"
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return fmt.Errorf("%q: want a level, 0 to 3", s)
	}
	v.level, v.set = n, true
	return nil
}

func (v *verbosity) IsBoolFlag() bool { return true }

// joinVerbose joins "-v N", as LinuxKit's scripts write it, into "-v=N":
// -v is a boolean flag to Go's flag package, so that "-v" alone works, and
// would leave N behind as a spec file.
func joinVerbose(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		switch a {
		case "-v", "--v", "-verbose", "--verbose":
			if i+1 < len(args) {
				if _, err := strconv.Atoi(args[i+1]); err == nil {
					out = append(out, a+"="+args[i+1])
					i++
					continue
				}
			}
		}
		out = append(out, a)
	}
	return out
}

// refusedFlag is a flag of linuxkit build that minikit does not take:
// parsed, so that the error names it and says why rather than "flag
// provided but not defined".
type refusedFlag struct {
	name, why string
	isBool    bool
	set       bool
}

func (r *refusedFlag) String() string   { return "" }
func (r *refusedFlag) Set(string) error { r.set = true; return nil }
func (r *refusedFlag) IsBoolFlag() bool { return r.isBool }
func (acceptedBool) String() string     { return "false" }
func (acceptedBool) Set(string) error   { return nil }
func (acceptedBool) IsBoolFlag() bool   { return true }

// acceptedBool is a boolean flag of LinuxKit's that asks for what
// minikit does anyway.
type acceptedBool struct{}
