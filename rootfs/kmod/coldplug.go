package kmod

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// A Coldplug table says which modules a device needs: each rule is one
// device alias of one module (pci:v00008086d0000100Esv*sd*bc*sc*i*) and
// the module's load order, dependencies first, as paths in the image.
// At build time Index.ColdplugRules makes it; at boot Match picks the
// rules that the devices present answer to.
type ColdplugRule struct {
	Pattern string
	Paths   []string
}

// DeviceAliases returns the aliases of module name that match devices
// (bus:…, such as pci:… or virtio:…), as opposed to other names for the
// module (fs-ext4).
func (ix *Index) DeviceAliases(name string) ([]string, error) {
	info, err := ix.info(normalize(name))
	if err != nil {
		return nil, err
	}
	var devices []string
	for _, a := range info.Aliases {
		if strings.Contains(a, ":") {
			devices = append(devices, a)
		}
	}
	return devices, nil
}

// ColdplugRules resolves each named module and makes one rule for each of
// its device aliases. pathOf maps a module name (as Resolve returns it)
// to its path in the image, as Copy wrote it. A name with no device
// alias is an error: nothing would ever load it.
func (ix *Index) ColdplugRules(names []string, pathOf map[string]string) ([]ColdplugRule, error) {
	var rules []ColdplugRule
	for _, name := range names {
		p, err := ix.provide(name)
		if err != nil {
			return nil, fmt.Errorf("coldplug module %s: %w", name, err)
		}
		if p.builtin {
			continue // the kernel binds the device itself
		}
		if len(p.modules) == 0 {
			return nil, ix.unknown(name)
		}
		for _, m := range p.modules {
			order, err := ix.Resolve([]string{m})
			if err != nil {
				return nil, err
			}
			paths := make([]string, 0, len(order))
			for _, dep := range order {
				p, ok := pathOf[dep]
				if !ok {
					return nil, fmt.Errorf("coldplug module %s: %s is not in the image", name, dep)
				}
				paths = append(paths, p)
			}
			aliases, err := ix.DeviceAliases(m)
			if err != nil {
				return nil, err
			}
			if len(aliases) == 0 {
				return nil, fmt.Errorf("coldplug module %s: it answers to no device, so nothing would load it (load it at every boot instead)", name)
			}
			for _, a := range aliases {
				rules = append(rules, ColdplugRule{Pattern: a, Paths: paths})
			}
		}
	}
	return rules, nil
}

// FormatColdplug is the text of a coldplug table: one rule a line, the
// pattern and then the paths, separated by spaces (neither holds one).
func FormatColdplug(rules []ColdplugRule) []byte {
	var b bytes.Buffer
	for _, r := range rules {
		b.WriteString(r.Pattern)
		for _, p := range r.Paths {
			b.WriteByte(' ')
			b.WriteString(p)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ReadColdplug reads a table FormatColdplug wrote. A missing file is an
// error wrapping fs.ErrNotExist.
func ReadColdplug(file string) ([]ColdplugRule, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read coldplug table: %w", err)
	}
	var rules []ColdplugRule
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("%s:%d: a rule needs a pattern and at least one module", file, n)
		}
		if _, err := path.Match(fields[0], ""); err != nil {
			return nil, fmt.Errorf("%s:%d: pattern %q: %w", file, n, fields[0], err)
		}
		rules = append(rules, ColdplugRule{Pattern: fields[0], Paths: fields[1:]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read coldplug table %s: %w", file, err)
	}
	return rules, nil
}

// Match returns the paths to load for the devices whose modaliases are
// given, in load order, each once, leaving out those in skip (already
// loaded), and the modalias that asked for each. As for modprobe, '-'
// and '_' are the same in patterns and modaliases.
func Match(rules []ColdplugRule, modaliases []string, skip map[string]bool) (paths []string, why map[string]string) {
	why = map[string]string{}
	seen := map[string]bool{}
	maps.Copy(seen, skip)
	devices := make([]string, len(modaliases))
	for i, d := range modaliases {
		devices[i] = normalizeAlias(d)
	}
	for _, r := range rules {
		pattern := normalizeAlias(r.Pattern)
		for i, dev := range devices {
			if !aliasMatch(pattern, dev) {
				continue
			}
			for _, p := range r.Paths {
				if !seen[p] {
					seen[p] = true
					paths = append(paths, p)
					why[p] = modaliases[i]
				}
			}
			break
		}
	}
	return paths, why
}

// Modaliases lists the modalias of every device under sysDevices
// (/sys/devices), sorted, each once.
func Modaliases(sysDevices string) ([]string, error) {
	var aliases []string
	err := filepath.WalkDir(sysDevices, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			// A device that goes away while we walk is no error.
			if os.IsNotExist(err) || os.IsPermission(err) {
				return nil
			}
			return err
		}
		// sysfs links subsystems and drivers back up the tree: follow no
		// links, only the directories and the modalias files.
		if d.Name() != "modalias" || !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		if a := strings.TrimSpace(string(data)); a != "" {
			aliases = append(aliases, a)
		}
		return nil
	})
	slices.Sort(aliases)
	return slices.Compact(aliases), err
}
