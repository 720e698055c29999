package kmod

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/minikit/minikit/internal/textdist"
)

// Resolve returns the named modules and everything they need, in an order
// where every module comes after its dependencies: depends= always, and
// softdep pre: when something in the tree answers to it. Names may use
// '-' or '_', and may be aliases (fs-ext4, crypto-crc32c) as for modprobe.
//
// The result is module names, each once; the same names in the same order
// give the same result. Modules built into the kernel are satisfied
// without appearing. A name nothing answers to is an error that suggests
// close names; so is a cycle of depends=.
func (ix *Index) Resolve(names []string) ([]string, error) {
	r := &resolver{ix: ix, state: map[string]visitState{}}
	for _, name := range names {
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, fmt.Errorf("resolve modules: empty module name")
		}
		p, err := ix.provide(name)
		if err != nil {
			return nil, fmt.Errorf("resolve module %s: %w", name, err)
		}
		if p.builtin {
			continue
		}
		if len(p.modules) == 0 {
			return nil, ix.unknown(name)
		}
		for _, m := range p.modules {
			if err := r.visit(m, false); err != nil {
				return nil, err
			}
		}
	}
	return r.order, nil
}

// ListFile is the modules list (see List) that loads names, modules in
// the load order Resolve gives them, from the path pathOf gives each in
// the image, with what each needs among those before it: its depends=,
// and what answers to its softdep pre:, as Resolve ordered them.
func (ix *Index) ListFile(names []string, pathOf map[string]string) ([]byte, error) {
	var paths []string
	needs := map[string][]string{}
	before := map[string]bool{}
	for _, name := range names {
		p, ok := pathOf[name]
		if !ok {
			return nil, fmt.Errorf("module list: no path for module %s", name)
		}
		needed, err := ix.needs(name)
		if err != nil {
			return nil, err
		}
		for _, n := range needed {
			// A softdep that closed a cycle comes after: Resolve dropped it.
			if before[n] {
				needs[p] = append(needs[p], pathOf[n])
			}
		}
		paths = append(paths, p)
		before[name] = true
	}
	return FormatList(paths, needs)
}

// needs returns the modules that answer to name's softdep pre: and its
// depends=, sorted, each once, built-in ones left out.
func (ix *Index) needs(name string) ([]string, error) {
	info, err := ix.info(name)
	if err != nil {
		return nil, fmt.Errorf("module list: %w", err)
	}
	var out []string
	for _, pre := range info.SoftdepPre {
		p, err := ix.provide(pre)
		if err != nil {
			return nil, fmt.Errorf("module list: softdep %s of %s: %w", pre, name, err)
		}
		out = append(out, p.modules...)
	}
	for _, dep := range info.Depends {
		if !ix.builtin[dep] {
			out = append(out, dep)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

type visitState int

const (
	unvisited visitState = iota
	visiting
	done
)

// resolver is one depth-first walk: a module is appended to order after
// everything it needs, which is what makes order a load order.
type resolver struct {
	ix    *Index
	state map[string]visitState
	stack []string // the modules being visited, outermost first
	order []string
}

// visit adds name and its dependencies to the order. soft says name was
// reached through a softdep: a softdep that closes a cycle is dropped, as
// modprobe does, since nothing links the two modules.
func (r *resolver) visit(name string, soft bool) error {
	switch r.state[name] {
	case done:
		return nil
	case visiting:
		if soft {
			return nil
		}
		return r.cycle(name)
	}
	r.state[name] = visiting
	r.stack = append(r.stack, name)

	info, err := r.ix.info(name)
	if err != nil {
		return fmt.Errorf("resolve module %s: %w", name, err)
	}
	for _, pre := range info.SoftdepPre {
		p, err := r.ix.provide(pre)
		if err != nil {
			return fmt.Errorf("resolve softdep %s of %s: %w", pre, name, err)
		}
		// A softdep nothing answers to is skipped: it is a preference,
		// and the module loads without it.
		for _, m := range p.modules {
			if err := r.visit(m, true); err != nil {
				return err
			}
		}
	}
	for _, dep := range info.Depends {
		if _, ok := r.ix.paths[dep]; !ok {
			if r.ix.builtin[dep] {
				continue
			}
			return fmt.Errorf("resolve module %s: it depends on %s, which is not in %s", name, dep, r.ix.dir)
		}
		if err := r.visit(dep, false); err != nil {
			return err
		}
	}

	r.stack = r.stack[:len(r.stack)-1]
	r.state[name] = done
	r.order = append(r.order, name)
	return nil
}

// cycle describes the depends= cycle that leads back to name.
func (r *resolver) cycle(name string) error {
	start := slices.Index(r.stack, name)
	path := append(slices.Clone(r.stack[start:]), name)
	return fmt.Errorf("resolve modules: dependency cycle %s", strings.Join(path, " -> "))
}

// unknown is the error for a name nothing answers to, with the closest
// module names as suggestions.
func (ix *Index) unknown(name string) error {
	msg := fmt.Sprintf("module %s not found in %s", name, ix.dir)
	if near := ix.closeNames(normalize(name), 3); len(near) > 0 {
		msg += " (did you mean " + strings.Join(near, ", ") + "?)"
	}
	return errors.New(msg)
}

// closeNames returns up to limitN module names within a small edit distance
// of name, closest first.
func (ix *Index) closeNames(name string, limitN int) []string {
	names := slices.Collect(maps.Keys(ix.paths))
	for n := range ix.builtin {
		names = append(names, n)
	}
	return textdist.Closest(name, names, limitN)
}
