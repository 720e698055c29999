package kmod

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
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
	aliases []moduleAlias // every module's aliases, read on the first alias lookup
	scanned bool
}

// moduleAlias is one alias= of one module, normalised.
type moduleAlias struct {
	pattern string
	module  string
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

// provider says what answers to a name: modules, the kernel itself, or
// nothing.
type provider struct {
	modules []string
	builtin bool
}

// provide finds what answers to name the way modprobe would: a module of
// that name, a built-in module of that name, a built-in alias, and then
// every module with a matching alias= (glob patterns allowed). Only the
// last step needs every module's .modinfo, so it runs only when the cheap
// ones fail.
func (ix *Index) provide(name string) (provider, error) {
	name = normalize(name)
	if _, ok := ix.paths[name]; ok {
		return provider{modules: []string{name}}, nil
	}
	if ix.builtin[name] {
		return provider{builtin: true}, nil
	}
	for _, pattern := range ix.builtinAliases {
		if aliasMatch(pattern, name) {
			return provider{builtin: true}, nil
		}
	}
	aliases, err := ix.allAliases()
	if err != nil {
		return provider{}, err
	}
	var mods []string
	for _, a := range aliases {
		if aliasMatch(a.pattern, name) && !slices.Contains(mods, a.module) {
			mods = append(mods, a.module)
		}
	}
	slices.Sort(mods)
	return provider{modules: mods}, nil
}

// normalizeAlias makes '-' and '_' equal in an alias, except inside a
// glob's [...] where '-' means a range; modprobe does the same.
func normalizeAlias(alias string) string {
	b := []byte(alias)
	inBracket := false
	for i, c := range b {
		switch {
		case c == '[':
			inBracket = true
		case c == ']':
			inBracket = false
		case c == '-' && !inBracket:
			b[i] = '_'
		}
	}
	return string(b)
}

// aliasMatch reports whether name matches an alias, which may be a glob
// as modprobe's fnmatch understands it.
func aliasMatch(pattern, name string) bool {
	if pattern == name {
		return true
	}
	ok, err := path.Match(pattern, name)
	return err == nil && ok
}

// allAliases reads every module's aliases, once. It is the slow path:
// thousands of files, taken only for names that are no module's name.
func (ix *Index) allAliases() ([]moduleAlias, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.scanned {
		return ix.aliases, nil
	}
	names := make([]string, 0, len(ix.paths))
	for name := range ix.paths {
		names = append(names, name)
	}
	slices.Sort(names)
	var aliases []moduleAlias
	for _, name := range names {
		info, err := ix.infoLocked(name)
		if err != nil {
			return nil, fmt.Errorf("read module aliases: %w", err)
		}
		for _, a := range info.Aliases {
			aliases = append(aliases, moduleAlias{pattern: normalizeAlias(a), module: name})
		}
	}
	ix.aliases, ix.scanned = aliases, true
	return aliases, nil
}
