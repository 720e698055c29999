// Package getopt reads command lines the way getopt(1) does for the shell
// scripts of LinuxKit's packages, so that the Go programs replacing them
// take the same arguments: short options, bundled (-cs 20) or with the
// value attached (-s20); long ones (--size 20, --size=20); options and
// operands in any order; -- ends the options.
package getopt

import (
	"fmt"
	"strings"
)

// Option is one option a program takes.
type Option struct {
	Short byte   // 0: none
	Long  string // "": none
	Value bool   // takes a value
}

// Result is a parsed command line: each option given, by its long name
// (or its short letter when it has none), with its values in order; an
// option without a value has "" once per time it was given.
type Result struct {
	Options  map[string][]string
	Operands []string
}

// Has reports whether the option was given.
func (r Result) Has(name string) bool { return len(r.Options[name]) > 0 }

// Last is the option's last value, or def when it was not given.
func (r Result) Last(name, def string) string {
	if v := r.Options[name]; len(v) > 0 {
		return v[len(v)-1]
	}
	return def
}

// Parse reads args with the options opts. An unknown option or a missing
// value is an error naming it.
func Parse(args []string, opts []Option) (Result, error) {
	r := Result{Options: map[string][]string{}}
	name := func(o Option) string {
		if o.Long != "" {
			return o.Long
		}
		return string(o.Short)
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			r.Operands = append(r.Operands, args[i+1:]...)
			return r, nil
		case strings.HasPrefix(a, "--"):
			long, inline, hasInline := strings.Cut(a[2:], "=")
			o, ok := find(opts, func(o Option) bool { return o.Long != "" && o.Long == long })
			switch {
			case !ok:
				return r, fmt.Errorf("unknown option --%s", long)
			case !o.Value && hasInline:
				return r, fmt.Errorf("option --%s takes no value", long)
			case !o.Value:
				r.Options[name(o)] = append(r.Options[name(o)], "")
			case hasInline:
				r.Options[name(o)] = append(r.Options[name(o)], inline)
			case i+1 < len(args):
				i++
				r.Options[name(o)] = append(r.Options[name(o)], args[i])
			default:
				return r, fmt.Errorf("option --%s needs a value", long)
			}
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				o, ok := find(opts, func(o Option) bool { return o.Short != 0 && o.Short == a[j] })
				switch {
				case !ok:
					return r, fmt.Errorf("unknown option -%c", a[j])
				case !o.Value:
					r.Options[name(o)] = append(r.Options[name(o)], "")
					continue
				case j+1 < len(a):
					r.Options[name(o)] = append(r.Options[name(o)], a[j+1:])
				case i+1 < len(args):
					i++
					r.Options[name(o)] = append(r.Options[name(o)], args[i])
				default:
					return r, fmt.Errorf("option -%c needs a value", a[j])
				}
				break
			}
		default:
			r.Operands = append(r.Operands, a)
		}
	}
	return r, nil
}

func find(opts []Option, match func(Option) bool) (Option, bool) {
	for _, o := range opts {
		if match(o) {
			return o, true
		}
	}
	return Option{}, false
}
