package imagespec

import (
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// Parse reads one spec file. name is used in positions of messages. The
// error, if any, is an Errors listing every problem found; warnings are
// returned either way.
func Parse(name string, data []byte) (*Spec, []Warning, error) {
	p := &problems{}
	s := decodeSpec(name, data, p)
	s.check(p)
	return s, p.warns, p.err(name)
}

// ParseFiles reads spec files and merges them in order, as LinuxKit does:
// lists (init, onboot, onshutdown, services, files, volumes) append, and a
// kernel field given by a later file replaces the earlier one. Problems of
// every file, and of the merged spec, are reported together.
func ParseFiles(paths ...string) (*Spec, []Warning, error) {
	p := &problems{}
	merged := &Spec{}
	for _, file := range paths {
		data, err := os.ReadFile(file)
		if err != nil {
			p.errorf(position{file: file}, "", "cannot read: %v", err)
			continue
		}
		merged.merge(decodeSpec(file, data, p))
	}
	merged.check(p)
	return merged, p.warns, p.err(paths...)
}

// merge appends the sections of next to s, lets next's kernel and
// update fields replace those of s, and merges the observe sections.
func (s *Spec) merge(next *Spec) {
	k := &s.Kernel
	for _, f := range []struct{ dst, src *string }{
		{&k.Image, &next.Kernel.Image}, {&k.Cmdline, &next.Kernel.Cmdline},
		{&k.Binary, &next.Kernel.Binary}, {&k.Tar, &next.Kernel.Tar}, {&k.UCode, &next.Kernel.UCode},
	} {
		if *f.src != "" {
			*f.dst = *f.src
		}
	}
	if next.Kernel.Modules != nil {
		k.Modules = next.Kernel.Modules
	}
	if next.Kernel.Coldplug != nil {
		k.Coldplug = next.Kernel.Coldplug
	}
	s.Init = append(s.Init, next.Init...)
	s.Onboot = append(s.Onboot, next.Onboot...)
	s.Onshutdown = append(s.Onshutdown, next.Onshutdown...)
	s.Services = append(s.Services, next.Services...)
	s.Files = append(s.Files, next.Files...)
	s.Volumes = append(s.Volumes, next.Volumes...)
	s.mergeUpdate(next.Update)
	s.mergeObserve(next.Observe)
}

// decodeSpec reads one file, recording its problems in p. It returns what
// could be read even when there were problems, so that checks across the
// merged spec can still run.
func decodeSpec(file string, data []byte, p *problems) *Spec {
	s := &Spec{}
	d := newDecoder(file, p)
	body, ok := d.parseYAML(data)
	if !ok || body == nil {
		return s
	}
	section := func(read func(item ast.Node, path string)) func(ast.Node, string) {
		return func(n ast.Node, path string) {
			if d.isNull(n) {
				return // an empty section, such as "onboot:" with nothing under it
			}
			items, _ := d.list(n, path, "entries")
			for i, item := range items {
				read(item, index(path, i))
			}
		}
	}
	containers := func(dst *[]*Container, kind entryKind) func(ast.Node, string) {
		return section(func(item ast.Node, path string) {
			*dst = append(*dst, d.container(item, path, kind))
		})
	}
	given, _ := d.object(body, "", fields{
		"kernel": func(n ast.Node, path string) { s.Kernel = d.kernel(n, path) },
		"init": section(func(item ast.Node, path string) {
			if ref, ok := d.str(item, path); ok {
				if msg := checkImage(ref); msg != "" {
					d.errorf(d.pos(item), path, "%s", msg)
					return
				}
				s.Init = append(s.Init, ref)
			}
		}),
		"onboot":     containers(&s.Onboot, kindOnboot),
		"onshutdown": containers(&s.Onshutdown, kindOnshutdown),
		"services":   containers(&s.Services, kindService),
		"files": section(func(item ast.Node, path string) {
			if f, ok := d.fileEntry(item, path); ok {
				s.Files = append(s.Files, f)
			}
		}),
		"volumes": section(func(item ast.Node, path string) {
			if v, ok := d.volumeEntry(item, path); ok {
				s.Volumes = append(s.Volumes, v)
			}
		}),
		"trust":   func(n ast.Node, path string) { d.registerAnchors(n) },
		"update":  func(n ast.Node, path string) { s.Update = d.update(n, path) },
		"observe": func(n ast.Node, path string) { s.Observe = d.observe(n, path) },
	})
	if at, ok := given["trust"]; ok {
		d.warnf(at, "trust", "unused: minikit does not verify images with Docker Content Trust; pin images by digest instead")
	}
	return s
}

func (d *decoder) kernel(n ast.Node, fpath string) Kernel {
	var k Kernel
	d.object(n, fpath, fields{
		"image": func(n ast.Node, p string) {
			if s, ok := d.str(n, p); ok {
				if msg := checkImage(s); msg != "" {
					d.errorf(d.pos(n), p, "%s", msg)
					return
				}
				k.Image = s
			}
		},
		"cmdline":  setStr(d, &k.Cmdline),
		"binary":   setStr(d, &k.Binary),
		"tar":      setStr(d, &k.Tar),
		"ucode":    setStr(d, &k.UCode),
		"modules":  d.moduleList(&k.Modules),
		"coldplug": d.moduleList(&k.Coldplug),
	})
	return k
}

// moduleList reads a list of module names into dst.
func (d *decoder) moduleList(dst *[]string) func(ast.Node, string) {
	return func(n ast.Node, p string) {
		*dst = d.strs(n, p, func(m string, at position, p string) bool {
			if msg := checkModule(m); msg != "" {
				d.errorf(at, p, "%s", msg)
				return false
			}
			return true
		})
	}
}

func (d *decoder) fileEntry(n ast.Node, fpath string) (File, bool) {
	f := File{at: d.firstKeyPos(n), path: fpath}
	var directory, optional *bool
	before := len(d.errs)
	nonEmpty := func(dst *string, what string) func(ast.Node, string) {
		return func(n ast.Node, p string) {
			if s, ok := d.str(n, p); ok {
				if s == "" {
					d.errorf(d.pos(n), p, "is empty (give %s)", what)
					return
				}
				*dst = s
			}
		}
	}
	given, ok := d.object(n, fpath, fields{
		"path":      setStr(d, &f.Path),
		"directory": setBool(d, &directory),
		"symlink":   nonEmpty(&f.Symlink, "the link's target"),
		"contents": func(n ast.Node, p string) {
			if s, ok := d.str(n, p); ok {
				f.Contents = &s
			}
		},
		"source":   nonEmpty(&f.Source, "a path on the build host"),
		"metadata": setStr(d, &f.Metadata),
		"optional": setBool(d, &optional),
		"mode": func(n ast.Node, p string) {
			if s, ok := d.str(n, p); ok {
				if _, ok := parseOctal(s, 0o7777); !ok {
					d.errorf(d.pos(n), p, "%q is not an octal mode (allowed: a quoted octal string from \"0\" to \"07777\", such as \"0644\")", s)
					return
				}
				f.Mode = s
			}
		},
		"uid": func(n ast.Node, p string) {
			if id, ok := d.id(n, p); ok {
				f.UID = &id
			}
		},
		"gid": func(n ast.Node, p string) {
			if id, ok := d.id(n, p); ok {
				f.GID = &id
			}
		},
	})
	if !ok {
		return f, false
	}
	f.Directory = directory != nil && *directory
	f.Optional = optional != nil && *optional
	good := true
	bad := func(key, format string, args ...any) {
		at, ok := given[key]
		if !ok {
			at = f.at
		}
		d.errorf(at, join(fpath, key), format, args...)
		good = false
	}
	if _, ok := given["path"]; !ok || f.Path == "" {
		bad("path", "is missing (where the file goes in the image, such as etc/motd)")
	} else if slices.Contains(strings.Split(path.Clean("/"+f.Path), "/"), "..") || slices.Contains(strings.Split(f.Path, "/"), "..") {
		bad("path", "%q leaves the root filesystem (no .. components)", f.Path)
	}
	var kinds []string
	for _, k := range []string{"contents", "source", "metadata", "symlink"} {
		if _, ok := given[k]; ok {
			kinds = append(kinds, k)
		}
	}
	if f.Directory {
		kinds = append(kinds, "directory")
	}
	switch {
	case len(kinds) == 0:
		bad("contents", "the file has no content (give one of contents, source, metadata, symlink or directory: true)")
	case len(kinds) > 1:
		bad(kinds[1], "%s and %s cannot both be given (a file has one of contents, source, metadata, symlink or directory: true)", kinds[0], kinds[1])
	}
	if f.Metadata != "" && f.Metadata != "yaml" && f.Metadata != "json" {
		bad("metadata", "%q is not a metadata format (allowed: yaml or json)", f.Metadata)
	}
	return f, good && len(d.errs) == before
}

// platformRE is an OCI platform: os/arch or os/arch/variant.
var platformRE = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$`)

func (d *decoder) volumeEntry(n ast.Node, fpath string) (Volume, bool) {
	v := Volume{at: d.firstKeyPos(n), path: fpath}
	var readonly *bool
	before := len(d.errs)
	given, ok := d.object(n, fpath, fields{
		"name": func(n ast.Node, p string) {
			if s, ok := d.str(n, p); ok {
				if !nameRE.MatchString(s) {
					d.errorf(d.pos(n), p, "%q is not a volume name (allowed: lower-case letters, digits, _ and -)", s)
				}
				v.Name = s
			}
		},
		"image": func(n ast.Node, p string) {
			if s, ok := d.str(n, p); ok {
				if msg := checkImage(s); msg != "" {
					d.errorf(d.pos(n), p, "%s", msg)
					return
				}
				v.Image = s
			}
		},
		"readonly": setBool(d, &readonly),
		"format": func(n ast.Node, p string) {
			if s, ok := d.str(n, p); ok {
				if s != "filesystem" && s != "oci" {
					d.errorf(d.pos(n), p, "%q is not a volume format (allowed: filesystem or oci)", s)
				}
				v.Format = s
			}
		},
		"platforms": func(n ast.Node, p string) {
			v.Platforms = d.strs(n, p, func(s string, at position, p string) bool {
				if !platformRE.MatchString(s) {
					d.errorf(at, p, "%q is not a platform (allowed: os/arch[/variant], such as linux/arm64)", s)
					return false
				}
				return true
			})
		},
	})
	if !ok {
		return v, false
	}
	v.Readonly = readonly != nil && *readonly
	if _, ok := given["name"]; !ok {
		d.errorf(v.at, join(fpath, "name"), "is missing (binds refer to a volume by its name)")
	}
	return v, len(d.errs) == before
}

// check makes the checks that need the whole (merged) spec: unique names,
// references to services, containers and volumes, and dependency cycles.
func (s *Spec) check(p *problems) {
	services := map[string]*Container{}
	for _, c := range s.Services {
		if c.Name == "" {
			continue
		}
		if first, dup := services[c.Name]; dup {
			p.errorf(c.fieldAt("name"), c.path+".name",
				"duplicate service name %q (first at %s; services run side by side, so names must be unique)", c.Name, first.fieldAt("name"))
			continue
		}
		services[c.Name] = c
	}

	volumes := map[string]Volume{}
	for _, v := range s.Volumes {
		if first, dup := volumes[v.Name]; dup && v.Name != "" {
			p.errorf(v.at, v.path+".name", "duplicate volume name %q (first at %s)", v.Name, first.at)
			continue
		}
		volumes[v.Name] = v
	}

	ids := s.IDs()
	checkID := func(id *ID, at position, field string) {
		if id == nil || id.Name == "" || id.Name == "root" {
			return
		}
		if _, ok := ids[id.Name]; !ok {
			p.errorf(at, field, "%q is neither a number, root, nor the name of a container in this spec", id.Name)
		}
	}
	for _, f := range s.Files {
		checkID(f.UID, f.at, f.path+".uid")
		checkID(f.GID, f.at, f.path+".gid")
	}

	for _, sec := range s.sections() {
		for _, c := range sec.entries {
			path := c.path
			checkID(c.UID, c.fieldAt("uid"), path+".uid")
			checkID(c.GID, c.fieldAt("gid"), path+".gid")
			for j := range c.AdditionalGids {
				f := index("additionalGids", j)
				checkID(&c.AdditionalGids[j], c.fieldAt(f), path+"."+f)
			}
			s.checkVolumeRefs(c, path, volumes, p)
		}
	}

	for _, c := range s.Services {
		for j, dep := range c.DependsOn {
			f := index("dependsOn", j)
			switch _, ok := services[dep]; {
			case dep == c.Name:
				p.errorf(c.fieldAt(f), c.path+"."+f, "a service cannot depend on itself")
			case !ok:
				p.errorf(c.fieldAt(f), c.path+"."+f, "%q is not a service in this spec (allowed: %s)", dep, quoteList(slices.Sorted(maps.Keys(services))...))
			}
		}
	}
	s.checkCycles(services, p)
}

// checkVolumeRefs checks that binds and bind mounts name volumes that
// exist, and that a read-only volume is bound read-only.
func (s *Spec) checkVolumeRefs(c *Container, path string, volumes map[string]Volume, p *problems) {
	check := func(field, volume string, opts []string) {
		if volume == "" {
			return
		}
		v, ok := volumes[volume]
		switch {
		case !ok:
			p.errorf(c.fieldAt(field), path+"."+field, "%q is neither an absolute path nor a volume of this spec", volume)
		case v.Readonly && !isReadonly(opts):
			p.errorf(c.fieldAt(field), path+"."+field, "volume %q is read-only, so it must be bound with the ro option", volume)
		}
	}
	for key, list := range map[string][]string{"binds": c.Binds, "binds.add": c.BindsAdd} {
		for j, b := range list {
			m, vol, _ := parseBind(b)
			check(index(key, j), vol, m.Options)
		}
	}
	for j, m := range c.Mounts {
		cm, vol, _ := completeMount(m)
		check(index("mounts", j), vol, cm.Options)
	}
}

// checkCycles reports each dependency cycle among services once.
func (s *Spec) checkCycles(services map[string]*Container, p *problems) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(name string)
	visit = func(name string) {
		state[name] = visiting
		stack = append(stack, name)
		for _, dep := range services[name].DependsOn {
			if _, ok := services[dep]; !ok || dep == name {
				continue // reported already
			}
			switch state[dep] {
			case visiting:
				cycle := append(slices.Clone(stack[slices.Index(stack, dep):]), dep)
				c := services[cycle[0]]
				p.errorf(c.fieldAt("dependsOn"), c.path+".dependsOn",
					"dependency cycle: %s (services must start in some order)", strings.Join(cycle, " → "))
			case unvisited:
				visit(dep)
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
	}
	for _, c := range s.Services {
		if _, ok := services[c.Name]; ok && state[c.Name] == unvisited {
			visit(c.Name)
		}
	}
}

type section struct {
	name    string
	entries []*Container
}

func (s *Spec) sections() []section {
	return []section{{"onboot", s.Onboot}, {"onshutdown", s.Onshutdown}, {"services", s.Services}}
}

// IDs gives each container the uid and gid that a uid, gid or
// additionalGids written as its name stands for, as LinuxKit does: 100 for
// the first onboot entry and counting up through onshutdown and services.
// A name used twice stands for its last entry.
func (s *Spec) IDs() map[string]uint32 {
	ids := map[string]uint32{}
	next := uint32(100)
	for _, sec := range s.sections() {
		for _, c := range sec.entries {
			ids[c.Name] = next
			next++
		}
	}
	return ids
}
