package main

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// setting is one "PATH = VALUE" line.
type setting struct {
	Path, Value string
	At          string // FILE:LINE, for messages
}

// run applies every settings file of configDir under sysfsDir and returns
// how many files or settings failed.
func run(configDir, sysfsDir string, log *slog.Logger) int {
	entries, err := os.ReadDir(configDir) // sorted by name
	if err != nil {
		log.Error("sysfs", "err", err)
		return 1
	}
	failed := 0
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		settings, err := parseFile(filepath.Join(configDir, e.Name()))
		if err != nil {
			log.Error("sysfs", "err", err)
			failed++
			continue
		}
		failed += apply(sysfsDir, settings, log)
	}
	return failed
}

// parseFile reads PATH = VALUE lines; blank lines and those starting with
// # are skipped. A PATH may not leave the sysfs directory.
func parseFile(name string) ([]setting, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var settings []setting
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: %q is not PATH = VALUE", name, n, line)
		}
		p := strings.TrimSpace(key)
		if p == "" || !filepath.IsLocal(strings.TrimPrefix(p, "/")) {
			return nil, fmt.Errorf("%s:%d: %q is not a path inside sysfs", name, n, p)
		}
		settings = append(settings, setting{Path: p, Value: strings.TrimSpace(value), At: fmt.Sprintf("%s:%d", name, n)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return settings, nil
}

// apply writes each setting and returns how many failed.
func apply(sysfsDir string, settings []setting, log *slog.Logger) int {
	failed := 0
	for _, s := range settings {
		p := filepath.Join(sysfsDir, s.Path)
		// Without O_CREATE: a missing attribute is an error, not a new
		// file. O_TRUNC is what a shell's > does; sysfs ignores it.
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
		if err == nil {
			_, err = f.WriteString(s.Value)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			log.Warn("sysfs not set", "path", s.Path, "value", s.Value, "at", s.At, "err", err)
			failed++
			continue
		}
		log.Info("sysfs set", "path", s.Path, "value", s.Value)
	}
	return failed
}
