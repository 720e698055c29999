package main

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/minikit/minikit/onboot/internal/getopt"
)

// options are loopy's command line.
type options struct {
	create  bool
	sizeMiB int64
	device  string
	file    string
}

var errHelp = errors.New("help asked for")

// parseArgs reads the command line as LinuxKit's script reads it with
// getopt(1).
func parseArgs(args []string) (options, error) {
	r, err := getopt.Parse(args, []getopt.Option{
		{Short: 'c', Long: "create"},
		{Short: 's', Long: "size", Value: true},
		{Short: 'd', Long: "dev", Value: true},
		{Short: 'h', Long: "help"},
	})
	if err != nil {
		return options{}, err
	}
	if r.Has("help") {
		return options{}, errHelp
	}
	o := options{create: r.Has("create"), device: r.Last("dev", "/dev/loop0")}
	size := r.Last("size", "10")
	if o.sizeMiB, err = strconv.ParseInt(size, 10, 64); err != nil || o.sizeMiB <= 0 {
		return o, fmt.Errorf("size %q is not a positive number of MiB", size)
	}
	switch len(r.Operands) {
	case 0:
		return o, errors.New("missing argument FILE")
	case 1:
		o.file = r.Operands[0]
	default:
		return o, fmt.Errorf("one FILE, not %d", len(r.Operands))
	}
	return o, nil
}
