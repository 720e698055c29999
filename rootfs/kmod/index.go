package kmod

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Index maps module names to files in one kernel's modules tree
// (lib/modules/VERSION). It reads a module's .modinfo only when asked
// about that module, and remembers it. An Index is safe for concurrent use.
type Index struct {
	dir     string
	version string
	paths   map[string]string // normalised name → slash-separated path relative to dir
	builtin map[string]bool   // names in modules.builtin
	// builtinAliases are the aliases of built-in modules, from
	// modules.builtin.modinfo, normalised.
	builtinAliases []string

	mu      sync.Mutex
	infos   map[string]*Info
	aliases *aliasTable // every module's aliases, read on the first alias lookup
}

// NewIndex lists the modules under dir, a kernel's modules tree such as
// lib/modules/6.1.0-28-amd64, whose base name is taken as the kernel
// version. modules.builtin and modules.builtin.modinfo are read when
// present, so that built-in modules count as satisfied.
func NewIndex(dir string) (*Index, error) {
	ix := &Index{
		dir:     dir,
		version: filepath.Base(filepath.Clean(dir)),
		paths:   map[string]string{},
		builtin: map[string]bool{},
		infos:   map[string]*Info{},
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// Symlinks (build, source) point at headers elsewhere: not modules.
		if !d.Type().IsRegular() || !isModule(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		name := nameFromPath(rel)
		if other, dup := ix.paths[name]; dup {
			return fmt.Errorf("module %s is both %s and %s", name, other, rel)
		}
		ix.paths[name] = rel
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index modules in %s: %w", dir, err)
	}
	if err := ix.readBuiltin(); err != nil {
		return nil, err
	}
	if len(ix.paths) == 0 && len(ix.builtin) == 0 {
		return nil, fmt.Errorf("index modules in %s: no modules and no modules.builtin", dir)
	}
	return ix, nil
}

// Version is the kernel version the tree belongs to: its directory name.
func (ix *Index) Version() string { return ix.version }

// readBuiltin reads the names of built-in modules from modules.builtin
// (one path a line, kernel/lib/crc32.ko) and their aliases from
// modules.builtin.modinfo (NUL-separated "name.key=value").
func (ix *Index) readBuiltin() error {
	list := filepath.Join(ix.dir, "modules.builtin")
	f, err := os.Open(list)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read builtin modules: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			ix.builtin[nameFromPath(line)] = true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read builtin modules %s: %w", list, err)
	}

	modinfo := filepath.Join(ix.dir, "modules.builtin.modinfo")
	data, err := os.ReadFile(modinfo)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read builtin modules: %w", err)
	}
	for field := range bytes.SplitSeq(data, []byte{0}) {
		key, value, ok := strings.Cut(string(field), "=")
		if ok && strings.HasSuffix(key, ".alias") {
			ix.builtinAliases = append(ix.builtinAliases, normalizeAlias(value))
		}
	}
	return nil
}

// info returns the parsed .modinfo of the named module, reading it once.
func (ix *Index) info(name string) (*Info, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.infoLocked(name)
}

func (ix *Index) infoLocked(name string) (*Info, error) {
	if info, ok := ix.infos[name]; ok {
		return info, nil
	}
	rel, ok := ix.paths[name]
	if !ok {
		return nil, fmt.Errorf("module %s not in %s", name, ix.dir)
	}
	info, err := ReadInfo(filepath.Join(ix.dir, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	ix.infos[name] = info
	return info, nil
}
