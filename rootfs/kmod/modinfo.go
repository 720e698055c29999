package kmod

import (
	"bytes"
	"debug/elf"
	"fmt"
	"path/filepath"
	"strings"
)

// Info is what a module says about itself in its .modinfo section.
type Info struct {
	// Name is the module's name as the kernel knows it (name=), or, for a
	// module without one, the name taken from its file name; either way
	// with '-' normalised to '_'.
	Name string
	// Depends lists the modules whose symbols this one uses (depends=);
	// they must be loaded first.
	Depends []string
	// SoftdepPre lists the modules or aliases modprobe loads before this
	// one (softdep=pre: ...), although nothing links them.
	SoftdepPre []string
	// Aliases lists the names and device patterns this module answers to
	// (alias=), such as "fs-ext4" or "pci:v00008086d0000100Esv*sd*bc*sc*i*".
	Aliases []string
}

// ReadInfo parses the .modinfo section of the kernel module at path, which
// may be plain (.ko) or compressed (.ko.gz, .ko.zst).
func ReadInfo(path string) (*Info, error) {
	f, closeFile, err := openELF(path)
	if err != nil {
		return nil, err
	}
	defer closeFile()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("read modinfo %s: no .modinfo section, not a kernel module", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read modinfo %s: %w", path, err)
	}
	info, err := parseModinfo(data)
	if err != nil {
		return nil, fmt.Errorf("read modinfo %s: %w", path, err)
	}
	if info.Name == "" {
		info.Name = nameFromPath(path)
	}
	return info, nil
}

// openELF opens the module at path as an ELF file, decompressing it in
// memory when its name says it is compressed. Plain modules are read
// lazily, so parsing one costs its headers and .modinfo, not the whole file.
func openELF(path string) (*elf.File, func(), error) {
	if compression(path) == "" {
		f, err := elf.Open(path)
		if err != nil {
			return nil, nil, fmt.Errorf("read modinfo %s: %w", path, err)
		}
		return f, func() { f.Close() }, nil
	}
	data, err := readModule(path)
	if err != nil {
		return nil, nil, err
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("read modinfo %s: %w", path, err)
	}
	return f, func() {}, nil
}

// parseModinfo reads the NUL-separated key=value strings of a .modinfo
// section. Keys it does not need (license, parm, vermagic, ...) are skipped.
func parseModinfo(data []byte) (*Info, error) {
	info := &Info{}
	for field := range bytes.SplitSeq(data, []byte{0}) {
		if len(field) == 0 {
			continue // padding between entries
		}
		key, value, ok := strings.Cut(string(field), "=")
		if !ok {
			return nil, fmt.Errorf("malformed .modinfo entry %q: no '='", field)
		}
		switch key {
		case "name":
			info.Name = normalize(value)
		case "depends":
			for dep := range strings.SplitSeq(value, ",") {
				if dep = strings.TrimSpace(dep); dep != "" {
					info.Depends = append(info.Depends, normalize(dep))
				}
			}
		case "softdep":
			info.SoftdepPre = append(info.SoftdepPre, parseSoftdep(value)...)
		case "alias":
			info.Aliases = append(info.Aliases, value)
		}
	}
	return info, nil
}

// parseSoftdep returns the "pre:" part of a softdep value such as
// "pre: crc32c post: foo"; post dependencies are not needed before load.
// Words before any "pre:" or "post:" are ignored, as modprobe ignores
// them: Debian 12's cifs declares softdep=gcm, softdep=ccm, ... that way.
func parseSoftdep(value string) []string {
	var pre []string
	mode := ""
	for _, word := range strings.Fields(value) {
		switch word {
		case "pre:", "post:":
			mode = word
		default:
			if mode == "pre:" {
				pre = append(pre, normalize(word))
			}
		}
	}
	return pre
}

// normalize makes '-' and '_' equal in module names, as the kernel does.
func normalize(name string) string {
	return strings.ReplaceAll(name, "-", "_")
}

// nameFromPath is the module name a file name implies:
// kernel/drivers/char/hw_random/virtio-rng.ko.zst is virtio_rng.
func nameFromPath(path string) string {
	base := filepath.Base(path)
	base = strings.TrimSuffix(base, compression(base))
	return normalize(strings.TrimSuffix(base, ".ko"))
}
