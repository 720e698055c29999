package imagespec

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// position is where something was written: a file (or an image label) and
// a 1-based line and column. A zero line means "somewhere in this file".
type position struct {
	file      string
	line, col int
}

func (p position) String() string {
	if p.line == 0 {
		return p.file
	}
	return fmt.Sprintf("%s:%d:%d", p.file, p.line, p.col)
}

// Error is one problem found in a spec, at a place a person can go to.
type Error struct {
	Pos   string // FILE:LINE:COL
	Field string // path of the field, such as services[2].binds[0]
	Msg   string // what is wrong, and in parentheses what is allowed

	at position
}

// Error prints the problem as "FILE:LINE:COL: field: message".
func (e *Error) Error() string {
	if e.Field == "" {
		return e.Pos + ": " + e.Msg
	}
	return e.Pos + ": " + e.Field + ": " + e.Msg
}

// Errors is every problem found in one or more spec files. Parsing goes on
// after a mistake so that one run reports all of them.
type Errors []*Error

// Error prints one problem a line, in the order they appear in the files.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sort puts the errors in file order, keeping the order of files as given
// and, within one place, the order in which they were found.
func (es Errors) sort(fileOrder []string) {
	rank := func(file string) int {
		if i := slices.Index(fileOrder, file); i >= 0 {
			return i
		}
		return len(fileOrder)
	}
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(rank(a.at.file), rank(b.at.file)),
			cmp.Compare(a.at.line, b.at.line),
			cmp.Compare(a.at.col, b.at.col),
		)
	})
}

// Warning is something accepted but not acted upon, such as a LinuxKit
// key that minikit deliberately ignores.
type Warning struct {
	Pos string // FILE:LINE:COL
	Msg string // "field: what is ignored and why"
}

// String prints the warning as "FILE:LINE:COL: field: message".
func (w Warning) String() string { return w.Pos + ": " + w.Msg }

// problems collects errors and warnings as they are found.
type problems struct {
	errs  Errors
	warns []Warning
}

func (p *problems) errorf(at position, field, format string, args ...any) {
	p.errs = append(p.errs, &Error{Pos: at.String(), Field: field, Msg: fmt.Sprintf(format, args...), at: at})
}

func (p *problems) warnf(at position, field, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + ": " + msg
	}
	p.warns = append(p.warns, Warning{Pos: at.String(), Msg: msg})
}

// err returns the collected errors as an error, or nil when there are none.
func (p *problems) err(fileOrder ...string) error {
	if len(p.errs) == 0 {
		return nil
	}
	p.errs.sort(fileOrder)
	return p.errs
}

// join makes a field path: join("services[1]", "binds") is "services[1].binds".
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// index makes a list element's path: index("binds", 2) is "binds[2]".
func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
