package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// setting is one "key = value" line of a settings file.
type setting struct {
	Key, Value string
	Optional   bool   // written "-key = value": a missing key is no error
	At         string // FILE:LINE, for messages
}

// confFiles expands directories to their *.conf files in name order.
func confFiles(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		matches, err := filepath.Glob(filepath.Join(p, "*.conf"))
		if err != nil {
			return nil, err
		}
		slices.Sort(matches)
		files = append(files, matches...)
	}
	return files, nil
}

// parseFile reads the sysctl.conf(5) format: "key = value" (or key.sub
// with / separators), comments starting with # or ;, blank lines.
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
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: %q is not key = value", name, n, line)
		}
		s := setting{Key: strings.TrimSpace(key), Value: strings.TrimSpace(value), At: fmt.Sprintf("%s:%d", name, n)}
		s.Key, s.Optional = strings.CutPrefix(s.Key, "-")
		if s.Key == "" || strings.Contains(s.Key, "..") {
			return nil, fmt.Errorf("%s:%d: %q is not a sysctl name", name, n, key)
		}
		settings = append(settings, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return settings, nil
}

// apply writes each setting under procSys (/proc/sys) and returns how
// many failed; each failure is logged with where the setting was written.
func apply(procSys string, settings []setting, log *slog.Logger) int {
	failed := 0
	for _, s := range settings {
		p := filepath.Join(procSys, strings.ReplaceAll(s.Key, ".", "/"))
		if strings.Contains(s.Key, "/") { // already a path: net/ipv4/ip_forward
			p = filepath.Join(procSys, s.Key)
		}
		err := os.WriteFile(p, []byte(s.Value+"\n"), 0)
		switch {
		case err == nil:
			log.Info("sysctl set", "key", s.Key, "value", s.Value)
		case s.Optional && errors.Is(err, fs.ErrNotExist):
			log.Info("sysctl not in this kernel; skipped", "key", s.Key, "at", s.At)
		default:
			log.Warn("sysctl not set", "key", s.Key, "value", s.Value, "at", s.At, "err", err)
			failed++
		}
	}
	return failed
}
