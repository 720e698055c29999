package supervisor

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The build refuses unknown dependencies and cycles, so these checks only
// guard against a hand-made or damaged image: a service in a cycle would
// otherwise wait forever without saying why.

// dependencyErrors returns, for each service whose dependencies cannot be
// met, why: a dependency that is no service of this image, or a cycle.
// deps maps each service to the services it depends on.
func dependencyErrors(deps map[string][]string) map[string]error {
	errs := map[string]error{}
	for _, name := range slices.Sorted(maps.Keys(deps)) {
		for _, d := range deps[name] {
			if _, ok := deps[d]; !ok {
				errs[name] = fmt.Errorf("depends on %q, which is no service of this system", d)
			}
		}
	}
	// Depth-first search; a dependency found on the current path closes a
	// cycle, and every service on it is in error.
	const (
		unseen = iota
		onPath
		done
	)
	mark := map[string]int{}
	var path []string
	var visit func(string)
	visit = func(name string) {
		mark[name] = onPath
		path = append(path, name)
		for _, d := range deps[name] {
			switch mark[d] {
			case onPath:
				cycle := append(slices.Clone(path[slices.Index(path, d):]), d)
				for _, n := range cycle[:len(cycle)-1] {
					if errs[n] == nil {
						errs[n] = fmt.Errorf("dependency cycle: %s", strings.Join(cycle, " → "))
					}
				}
			case unseen:
				if _, ok := deps[d]; ok {
					visit(d)
				}
			}
		}
		path = path[:len(path)-1]
		mark[name] = done
	}
	for _, name := range slices.Sorted(maps.Keys(deps)) {
		if mark[name] == unseen {
			visit(name)
		}
	}
	return errs
}

// stopOrder groups services so that each group can be stopped in
// parallel once the groups before it have stopped: a service is stopped
// before the services it depends on. Services in a cycle end up in the
// last group, together.
func stopOrder(deps map[string][]string) [][]string {
	dependents := map[string]int{} // how many not-yet-stopped services depend on each
	for _, name := range slices.Sorted(maps.Keys(deps)) {
		for _, d := range deps[name] {
			dependents[d]++
		}
	}
	left := slices.Sorted(maps.Keys(deps))
	var groups [][]string
	for len(left) > 0 {
		var group, rest []string
		for _, name := range left {
			if dependents[name] == 0 {
				group = append(group, name)
			} else {
				rest = append(rest, name)
			}
		}
		if len(group) == 0 { // a cycle: stop what is left at once
			return append(groups, rest)
		}
		for _, name := range group {
			for _, d := range deps[name] {
				dependents[d]--
			}
		}
		groups = append(groups, group)
		left = rest
	}
	return groups
}
