package pkgbuild

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// expandPatterns replaces each package named by a pattern with the newest
// package apt knows whose name matches it.
func expandPatterns(ctx context.Context, pkgs []Package) ([]Package, error) {
	out := make([]Package, len(pkgs))
	for i, p := range pkgs {
		out[i] = p
		if !strings.Contains(p.Name, "*") {
			continue
		}
		name, arch, _ := strings.Cut(p.Name, ":")
		names, err := aptNames(ctx, name[:strings.Index(name, "*")])
		if err != nil {
			return nil, err
		}
		newest := newestMatch(name, names)
		if newest == "" {
			return nil, fmt.Errorf("resolve Debian package %s: apt knows no package whose name matches", p.Name)
		}
		if arch != "" {
			newest += ":" + arch
		}
		out[i].Name = newest
	}
	return out, nil
}

// aptNames lists the names of the packages apt knows that start with prefix.
func aptNames(ctx context.Context, prefix string) ([]string, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "apt-cache", "pkgnames", prefix)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("apt-cache pkgnames %s: %w: %s", prefix, err, strings.TrimSpace(stderr.String()))
	}
	return strings.Fields(string(out)), nil
}

// newestMatch is the name among names that matches pattern (each * a run
// of digits and dots) with the highest numbers, or "".
func newestMatch(pattern string, names []string) string {
	parts := strings.Split(pattern, "*")
	for i, part := range parts {
		parts[i] = regexp.QuoteMeta(part)
	}
	re := regexp.MustCompile("^" + strings.Join(parts, "([0-9][0-9.]*)") + "$")
	best := ""
	for _, n := range names {
		if re.MatchString(n) && (best == "" || naturalLess(best, n)) {
			best = n
		}
	}
	return best
}

// naturalLess orders names by their text, with runs of digits compared
// as numbers: linux-image-6.1.0-9-amd64 before linux-image-6.1.0-10-amd64.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
