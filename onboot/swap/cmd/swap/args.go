package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/minikit/minikit/onboot/internal/getopt"
)

// options are the command line of LinuxKit's swap.sh.
type options struct {
	path       string
	size       int64
	encrypt    bool
	debug      bool
	conditions []condition
}

// condition is one --condition: the swap file is made only if it holds.
type condition struct {
	kind     string // part or partsize
	path     string
	minSize  int64 // partsize
	required bool  // a failure is an error, not a quiet "no swap"
	text     string
}

func parseArgs(args []string) (options, error) {
	r, err := getopt.Parse(args, []getopt.Option{
		{Long: "path", Value: true},
		{Long: "size", Value: true},
		{Long: "encrypt"},
		{Long: "condition", Value: true},
		{Long: "debug"},
	})
	if err != nil {
		return options{}, err
	}
	if len(r.Operands) > 0 {
		return options{}, fmt.Errorf("unknown argument %q", r.Operands[0])
	}
	o := options{path: r.Last("path", ""), encrypt: r.Has("encrypt"), debug: r.Has("debug")}
	if n := len(r.Options["path"]); n != 1 {
		return o, fmt.Errorf("exactly one --path is required, not %d", n)
	}
	if !strings.HasPrefix(o.path, "/var/") || len(o.path) < 6 {
		return o, fmt.Errorf("--path %q must be a file under /var", o.path)
	}
	if !r.Has("size") {
		return o, errors.New("--size is required")
	}
	if o.size, err = parseSize(r.Last("size", "")); err != nil {
		return o, fmt.Errorf("--size: %w", err)
	}
	for _, c := range r.Options["condition"] {
		cond, err := parseCondition(c)
		if err != nil {
			return o, err
		}
		o.conditions = append(o.conditions, cond)
	}
	return o, nil
}

// parseSize reads bytes, or a number of KiB, MiB or GiB written with K,
// M or G.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size (bytes, or a number with K, M or G)", s)
	}
	return n * mult, nil
}

func parseCondition(s string) (condition, error) {
	f := strings.Split(s, ":")
	c := condition{kind: f[0], text: s}
	bad := fmt.Errorf("condition %q is not part:PATH[:true] or partsize:PATH:SIZE[:true]", s)
	switch {
	case c.kind == "part" && (len(f) == 2 || len(f) == 3):
		c.path = f[1]
		c.required = len(f) == 3 && f[2] == "true"
	case c.kind == "partsize" && (len(f) == 3 || len(f) == 4):
		c.path = f[1]
		n, err := parseSize(f[2])
		if err != nil {
			return c, fmt.Errorf("condition %q: %w", s, err)
		}
		c.minSize = n
		c.required = len(f) == 4 && f[3] == "true"
	default:
		return c, bad
	}
	if c.path == "" {
		return c, bad
	}
	return c, nil
}
