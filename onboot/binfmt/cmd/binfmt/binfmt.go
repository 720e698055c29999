package main

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// registration is one line of a configuration file, in the kernel's
// :name:type:offset:magic:mask:interpreter:flags format.
type registration struct {
	Name, Line string
	At         string // FILE:LINE
}

// run registers every line of every file of dir with the binfmt_misc
// mounted at mount and returns how many files or lines failed.
func run(dir, mount string, log *slog.Logger) int {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		log.Error("binfmt", "err", err)
		return 1
	}
	failed := 0
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		regs, err := parseFile(filepath.Join(dir, e.Name()))
		if err != nil {
			log.Error("binfmt", "err", err)
			failed++
			continue
		}
		for _, r := range regs {
			if err := register(mount, r); err != nil {
				log.Error("binfmt: not registered", "name", r.Name, "at", r.At, "err", err)
				failed++
				continue
			}
			log.Info("binfmt registered", "name", r.Name)
		}
	}
	return failed
}

// parseFile reads registration lines; blank lines and # comments are
// skipped. The name must be usable as a file of binfmt_misc.
func parseFile(name string) ([]registration, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var regs []registration
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		at := fmt.Sprintf("%s:%d", name, n)
		// The first character is the field separator (":" by custom).
		fields := strings.Split(line[1:], line[:1])
		if len(fields) < 6 {
			return nil, fmt.Errorf("%s: %q is not :name:type:offset:magic:mask:interpreter:flags", at, line)
		}
		entry := fields[0]
		if entry == "" || entry == "." || entry == ".." || entry == "register" || entry == "status" || strings.Contains(entry, "/") {
			return nil, fmt.Errorf("%s: %q cannot name a binfmt_misc entry", at, entry)
		}
		regs = append(regs, registration{Name: entry, Line: line, At: at})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return regs, nil
}

// register writes r to mount/register; an entry of that name already
// there (EEXIST) is removed and r written again.
func register(mount string, r registration) error {
	err := writeFile(filepath.Join(mount, "register"), r.Line)
	if !errors.Is(err, os.ErrExist) {
		return err
	}
	if err := writeFile(filepath.Join(mount, r.Name), "-1"); err != nil {
		return fmt.Errorf("remove the entry already there: %w", err)
	}
	return writeFile(filepath.Join(mount, "register"), r.Line)
}

// writeFile writes s to an existing file in one write, as binfmt_misc
// wants it; tests replace it.
var writeFile = writeExisting

func writeExisting(p, s string) error {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
