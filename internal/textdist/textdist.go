// Package textdist measures how far apart two strings are, for the "did
// you mean" suggestions that errors about unknown names give.
package textdist

import (
	"cmp"
	"slices"
	"strings"
)

// Levenshtein is the number of single-byte insertions, deletions and
// substitutions that turn a into b.
func Levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Closest returns up to n of names that look like a typo or an
// abbreviation of name, closest first (ties in name order): those within
// an edit distance of a third of name's length (at least 2), ignoring
// case, and those that contain a name of three letters or more.
func Closest(name string, names []string, n int) []string {
	type scored struct {
		name string
		d    int
	}
	lname := strings.ToLower(name)
	limit := max(2, len(name)/3)
	var found []scored
	for _, c := range names {
		lc := strings.ToLower(c)
		d := Levenshtein(lname, lc)
		if d <= limit || (len(lname) >= 3 && strings.Contains(lc, lname)) {
			found = append(found, scored{c, d})
		}
	}
	slices.SortFunc(found, func(a, b scored) int {
		return cmp.Or(cmp.Compare(a.d, b.d), strings.Compare(a.name, b.name))
	})
	out := make([]string, 0, min(n, len(found)))
	for _, f := range found[:min(n, len(found))] {
		out = append(out, f.name)
	}
	return out
}
