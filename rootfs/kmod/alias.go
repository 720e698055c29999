package kmod

import (
	"fmt"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// aliasTable is every module's alias=, normalised: plain names in a map,
// glob patterns (the device aliases, pci:v00008086d*...) in a list, since
// only those need matching one by one.
type aliasTable struct {
	exact map[string][]string // alias → modules, in name order
	globs []moduleAlias
}

// moduleAlias is one glob alias= of one module.
type moduleAlias struct {
	pattern string
	prefix  string // the literal start of pattern: a cheap first test
	module  string
}

// lookup returns the modules answering to name, sorted, each once.
func (t *aliasTable) lookup(name string) []string {
	mods := slices.Clone(t.exact[name])
	for _, a := range t.globs {
		if !strings.HasPrefix(name, a.prefix) {
			continue
		}
		if ok, err := path.Match(a.pattern, name); err == nil && ok {
			mods = append(mods, a.module)
		}
	}
	slices.Sort(mods)
	return slices.Compact(mods)
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
	return provider{modules: aliases.lookup(name)}, nil
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
// thousands of files, taken only for a name that is no module's name.
// A few readers share the work, as most of the time is spent in open and
// read calls; the table is the same whatever order they finish in.
func (ix *Index) allAliases() (*aliasTable, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.aliases != nil {
		return ix.aliases, nil
	}
	names := make([]string, 0, len(ix.paths))
	for name := range ix.paths {
		names = append(names, name)
	}
	slices.Sort(names)

	infos := make([]*Info, len(names))
	errs := make([]error, len(names))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(4, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(names); i = int(next.Add(1) - 1) {
				if info, ok := ix.infos[names[i]]; ok {
					infos[i] = info
					continue
				}
				infos[i], errs[i] = ReadInfo(filepath.Join(ix.dir, filepath.FromSlash(ix.paths[names[i]])))
			}
		})
	}
	wg.Wait()

	table := &aliasTable{exact: map[string][]string{}}
	for i, name := range names {
		if errs[i] != nil {
			return nil, fmt.Errorf("read module aliases: %w", errs[i])
		}
		ix.infos[name] = infos[i]
		for _, a := range infos[i].Aliases {
			a = normalizeAlias(a)
			if meta := strings.IndexAny(a, `*?[\`); meta >= 0 {
				table.globs = append(table.globs, moduleAlias{pattern: a, prefix: a[:meta], module: name})
			} else {
				table.exact[a] = append(table.exact[a], name)
			}
		}
	}
	ix.aliases = table
	return table, nil
}
