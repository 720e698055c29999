package imagespec

import (
	"fmt"
	"path"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/minikit/minikit/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// entryKind says where a container entry was written, which decides the
// extensions it may use.
type entryKind int

const (
	kindLabel entryKind = iota // the org.mobyproject.config label of an image
	kindOnboot
	kindOnshutdown
	kindService
)

func (k entryKind) String() string {
	return [...]string{"label", "onboot", "onshutdown", "services"}[k]
}

// container reads one container entry (or an image's label) at path.
func (d *decoder) container(n ast.Node, fpath string, kind entryKind) *Container {
	c := &Container{path: fpath, fields: map[string]position{}}
	// An entry's position is that of its first key: the mapping itself
	// reports the position of its first ':'.
	c.at = d.firstKeyPos(n)
	rel := func(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, fpath), ".") }
	// mark remembers where a field (or one of its items) was written, for
	// checks that can only be made once the whole spec is known.
	mark := func(p string, n ast.Node) { c.fields[rel(p)] = d.pos(n) }

	strList := func(dst *[]string, check func(s string, at position, p string) bool) func(ast.Node, string) {
		return func(n ast.Node, p string) {
			mark(p, n)
			if v := d.strs(n, p, check); v != nil {
				*dst = v
			}
		}
	}
	str := func(dst *string, check func(s string) string) func(ast.Node, string) {
		return func(n ast.Node, p string) {
			mark(p, n)
			v, ok := d.str(n, p)
			if !ok {
				return
			}
			if check != nil {
				if msg := check(v); msg != "" {
					d.errorf(d.pos(n), p, "%s", msg)
					return
				}
			}
			*dst = v
		}
	}
	caps := func(dst *[]string) func(ast.Node, string) {
		return func(n ast.Node, p string) {
			mark(p, n)
			items, ok := d.list(n, p, "capabilities")
			if !ok {
				return
			}
			v, from := []string{}, []int{}
			for i, item := range items {
				if s, ok := d.str(item, index(p, i)); ok {
					v = append(v, s)
					from = append(from, i)
				}
			}
			if len(v) < len(items) {
				return
			}
			if bad, msg := checkCapabilities(v); bad >= 0 {
				d.errorf(d.pos(items[from[bad]]), index(p, from[bad]), "%s", msg)
				return
			}
			*dst = v
		}
	}
	binds := func(dst *[]string) func(ast.Node, string) {
		return strList(dst, func(s string, at position, p string) bool {
			c.fields[rel(p)] = at
			if _, _, msg := parseBind(s); msg != "" {
				d.errorf(at, p, "%s", msg)
				return false
			}
			return true
		})
	}
	absPaths := func(dst *[]string) func(ast.Node, string) {
		return strList(dst, func(s string, at position, p string) bool {
			if !path.IsAbs(s) {
				d.errorf(at, p, "%q is not an absolute path", s)
				return false
			}
			return true
		})
	}
	namespace := func(dst *string, kind string) func(ast.Node, string) {
		return str(dst, func(s string) string { return checkNamespace(kind, s) })
	}
	id := func(dst **ID) func(ast.Node, string) {
		return func(n ast.Node, p string) {
			mark(p, n)
			if v, ok := d.id(n, p); ok {
				*dst = &v
			}
		}
	}
	seconds := func(dst **int, lo int64) func(ast.Node, string) {
		return func(n ast.Node, p string) {
			if v, ok := d.integer(n, p, lo, 24*3600); ok {
				i := int(v)
				*dst = &i
			}
		}
	}

	fs := fields{
		"name": str(&c.Name, func(s string) string {
			if !nameRE.MatchString(s) {
				return fmt.Sprintf("%q is not a valid name (allowed: lower-case letters, digits, _ and -)", s)
			}
			return ""
		}),
		"image":            str(&c.Image, checkImage),
		"capabilities":     caps(&c.Capabilities),
		"capabilities.add": caps(&c.CapabilitiesAdd),
		"ambient":          caps(&c.Ambient),
		"mounts": func(n ast.Node, p string) {
			mark(p, n)
			c.Mounts = d.mounts(n, p, func(i int, at position) { c.fields[rel(index(p, i))] = at })
		},
		"binds":     binds(&c.Binds),
		"binds.add": binds(&c.BindsAdd),
		"devices":   func(n ast.Node, p string) { c.Devices = d.devices(n, p) },
		"tmpfs": strList(&c.Tmpfs, func(s string, at position, p string) bool {
			if _, msg := parseTmpfs(s); msg != "" {
				d.errorf(at, p, "%s", msg)
				return false
			}
			return true
		}),
		"command": strList(&c.Command, nil),
		"env": strList(&c.Env, func(s string, at position, p string) bool {
			if k, _, ok := strings.Cut(s, "="); !ok || k == "" {
				d.errorf(at, p, "%q is not VAR=value", s)
				return false
			}
			return true
		}),
		"cwd": str(&c.Cwd, func(s string) string {
			if !path.IsAbs(s) {
				return fmt.Sprintf("%q is not an absolute path", s)
			}
			return ""
		}),
		"net":    namespace(&c.Net, "net"),
		"pid":    namespace(&c.Pid, "pid"),
		"ipc":    namespace(&c.Ipc, "ipc"),
		"uts":    namespace(&c.Uts, "uts"),
		"userns": namespace(&c.Userns, "userns"),
		"hostname": str(&c.Hostname, func(s string) string {
			if len(s) > 64 || strings.ContainsAny(s, " \t\n/") {
				return fmt.Sprintf("%q is not a host name (at most 64 characters, no spaces or slashes)", s)
			}
			return ""
		}),
		"readonly":      setBool(d, &c.Readonly),
		"maskedPaths":   absPaths(&c.MaskedPaths),
		"readonlyPaths": absPaths(&c.ReadonlyPaths),
		"uid":           id(&c.UID),
		"gid":           id(&c.GID),
		"additionalGids": func(n ast.Node, p string) {
			items, ok := d.list(n, p, "ids")
			if !ok {
				return
			}
			c.AdditionalGids = []ID{}
			for i, item := range items {
				ip := index(p, i)
				mark(ip, item)
				if v, ok := d.id(item, ip); ok {
					c.AdditionalGids = append(c.AdditionalGids, v)
				}
			}
		},
		"noNewPrivileges": setBool(d, &c.NoNewPrivileges),
		"oomScoreAdj":     setNum(d, &c.OOMScoreAdj, -1000, 1000),
		"rootfsPropagation": str(&c.RootfsPropagation, func(s string) string {
			for _, p := range propagations {
				if p == s {
					return ""
				}
			}
			return fmt.Sprintf("%q is not a propagation (allowed: %s)", s, quoteList(propagations...))
		}),
		"cgroupsPath": str(&c.CgroupsPath, func(s string) string {
			if s == "" {
				return "is empty"
			}
			return ""
		}),
		"resources": func(n ast.Node, p string) { c.Resources = d.resources(n, p) },
		"sysctl": func(n ast.Node, p string) {
			c.Sysctl = d.strMap(n, p, func(k, v string, at position, p string) bool {
				if msg := checkSysctl(k, v); msg != "" {
					d.errorf(at, p, "%s", msg)
					return false
				}
				return true
			})
		},
		"rlimits": strList(&c.Rlimits, func(s string, at position, p string) bool {
			if _, msg := parseRlimit(s); msg != "" {
				d.errorf(at, p, "%s", msg)
				return false
			}
			return true
		}),
		"uidMappings": func(n ast.Node, p string) { c.UIDMappings = d.idMappings(n, p) },
		"gidMappings": func(n ast.Node, p string) { c.GIDMappings = d.idMappings(n, p) },
		"annotations": func(n ast.Node, p string) {
			c.Annotations = d.strMap(n, p, func(k, v string, at position, p string) bool {
				if strings.HasPrefix(k, "org.minikit.") {
					d.errorf(at, p, "annotations under org.minikit. are minikit's own (use the restart, stopSignal, stopTimeout, dependsOn, notify, timeout and required keys)")
					return false
				}
				return true
			})
		},
		"runtime": func(n ast.Node, p string) { c.Runtime = d.runtime(n, p) },

		// minikit extensions
		"restart": str(&c.Restart, func(s string) string {
			switch s {
			case "always", "on-failure", "never":
				return ""
			}
			return fmt.Sprintf("%q is not a restart policy (allowed: always, on-failure or never)", s)
		}),
		"stopSignal": func(n ast.Node, p string) {
			if s, ok := d.str(n, p); ok {
				sig, ok := normalizeSignal(s)
				if !ok {
					d.errorf(d.pos(n), p, "%q is not a signal (allowed: names such as SIGTERM, TERM or SIGRTMIN+3)", s)
					return
				}
				c.StopSignal = sig
			}
		},
		"stopTimeout": seconds(&c.StopTimeout, 0),
		"dependsOn": strList(&c.DependsOn, func(s string, at position, p string) bool {
			c.fields[rel(p)] = at
			return true
		}),
		"notify":   setBool(d, &c.Notify),
		"timeout":  seconds(&c.Timeout, 1),
		"required": setBool(d, &c.Required),
		"seccomp":  str(&c.Seccomp, checkSeccomp),
	}
	// Extensions are allowed only where they mean something.
	where := map[string][]entryKind{
		"restart":     {kindService, kindLabel},
		"stopSignal":  {kindService, kindOnboot, kindLabel},
		"stopTimeout": {kindService, kindOnboot, kindLabel},
		"dependsOn":   {kindService},
		"notify":      {kindService, kindLabel},
		"timeout":     {kindOnboot, kindOnshutdown, kindLabel},
		"required":    {kindOnboot, kindLabel},
	}
	for key, kinds := range where {
		allowed := false
		for _, k := range kinds {
			allowed = allowed || k == kind
		}
		if !allowed {
			fs[key] = func(n ast.Node, p string) {
				var in []string
				for _, k := range kinds {
					if k != kindLabel {
						in = append(in, k.String())
					}
				}
				d.errorf(d.pos(n), p, "not allowed in %s (allowed in %s)", kind, quoteList(in...))
			}
		}
	}
	if kind == kindLabel {
		for _, key := range []string{"name", "image"} {
			fs[key] = func(n ast.Node, p string) {
				d.errorf(d.pos(n), p, "cannot be set in the org.mobyproject.config label")
			}
		}
	}

	given, ok := d.object(n, fpath, fs)
	if !ok || kind == kindLabel {
		return c
	}
	// As in LinuxKit, a full list replaces the image label's and its .add
	// form is then dropped; say so rather than lose it silently.
	for _, key := range []string{"binds", "capabilities"} {
		if _, full := given[key]; full {
			if at, add := given[key+".add"]; add {
				d.warnf(at, join(fpath, key+".add"), "ignored: %s is given too and replaces the image's list entirely (move these into %s)", key, key)
			}
		}
	}
	if _, ok := given["name"]; !ok {
		d.errorf(c.at, join(fpath, "name"), "is missing (every entry needs a name)")
	}
	if _, ok := given["image"]; !ok {
		d.errorf(c.at, join(fpath, "image"), "is missing (every entry needs an image)")
	}
	return c
}

// id reads a uid or gid: a number, or a name.
func (d *decoder) id(n ast.Node, fpath string) (ID, bool) {
	s, ok := d.scalar(n, fpath)
	if !ok {
		return ID{}, false
	}
	if s.isString {
		if s.text == "" {
			d.errorf(d.pos(n), fpath, "is empty (allowed: a number, root, or the name of a container)")
			return ID{}, false
		}
		return ID{Name: s.text}, true
	}
	v, ok := d.integer(n, fpath, 0, maxU32)
	return ID{Num: uint32(v)}, ok
}

// mounts reads a list of OCI mounts, checking each as LinuxKit completes
// it. at is told where each mount was written.
func (d *decoder) mounts(n ast.Node, fpath string, at func(i int, at position)) []specs.Mount {
	items, ok := d.list(n, fpath, "mounts")
	if !ok {
		return nil
	}
	out := []specs.Mount{}
	for i, item := range items {
		ip := index(fpath, i)
		m, ok := d.mount(item, ip)
		if !ok {
			continue
		}
		if at != nil {
			at(i, d.firstKeyPos(item))
		}
		if _, _, msg := completeMount(m); msg != "" {
			d.errorf(d.firstKeyPos(item), ip, "%s", msg)
			continue
		}
		out = append(out, m)
	}
	return out
}

// mount reads one mount as written, without completing it.
func (d *decoder) mount(n ast.Node, fpath string) (specs.Mount, bool) {
	var m specs.Mount
	before := len(d.errs)
	_, ok := d.object(n, fpath, fields{
		"destination": setStr(d, &m.Destination),
		"type":        setStr(d, &m.Type),
		"source":      setStr(d, &m.Source),
		"options":     func(n ast.Node, p string) { m.Options = d.strs(n, p, nil) },
		"uidmappings": func(n ast.Node, p string) { m.UIDMappings = d.idMappings(n, p) },
		"gidmappings": func(n ast.Node, p string) { m.GIDMappings = d.idMappings(n, p) },
	})
	return m, ok && len(d.errs) == before
}

// devices reads device nodes to create.
func (d *decoder) devices(n ast.Node, fpath string) []Device {
	items, ok := d.list(n, fpath, "devices")
	if !ok {
		return nil
	}
	out := []Device{}
	for i, item := range items {
		ip := index(fpath, i)
		var dev Device
		var major, minor *int64
		given, ok := d.object(item, ip, fields{
			"path":  setStr(d, &dev.Path),
			"type":  setStr(d, &dev.Type),
			"major": setNum(d, &major, -1, maxI64),
			"minor": setNum(d, &minor, -1, maxI64),
			"mode":  setStr(d, &dev.Mode),
		})
		if !ok {
			continue
		}
		if major != nil {
			dev.Major = *major
		}
		if minor != nil {
			dev.Minor = *minor
		}
		at := d.firstKeyPos(item)
		switch {
		case dev.Path == "all":
			if dev.Type != "a" && dev.Type != "b" && dev.Type != "c" {
				d.errorf(at, join(ip, "type"), "%q is not a device type for path all (allowed: a, b or c)", dev.Type)
				continue
			}
		case !path.IsAbs(dev.Path):
			d.errorf(at, join(ip, "path"), "%q is not an absolute path or all", dev.Path)
			continue
		case dev.Type != "c" && dev.Type != "b" && dev.Type != "u" && dev.Type != "p":
			d.errorf(at, join(ip, "type"), "%q is not a device type (allowed: c, b, u or p)", dev.Type)
			continue
		case given["mode"] == (position{}):
			d.errorf(at, join(ip, "mode"), "is missing (an octal string such as \"0666\")")
			continue
		}
		if dev.Path != "all" {
			if _, ok := parseOctal(dev.Mode, 0o7777); !ok {
				d.errorf(given["mode"], join(ip, "mode"), "%q is not an octal mode (such as \"0666\")", dev.Mode)
				continue
			}
		}
		out = append(out, dev)
	}
	return out
}

// idMappings reads user namespace id mappings.
func (d *decoder) idMappings(n ast.Node, fpath string) []specs.LinuxIDMapping {
	items, ok := d.list(n, fpath, "id mappings")
	if !ok {
		return nil
	}
	out := []specs.LinuxIDMapping{}
	for i, item := range items {
		var c, h, s *uint32
		ip := index(fpath, i)
		given, ok := d.object(item, ip, fields{
			"containerID": setNum(d, &c, 0, maxU32),
			"hostID":      setNum(d, &h, 0, maxU32),
			"size":        setNum(d, &s, 1, maxU32),
		})
		if !ok {
			continue
		}
		if c == nil || h == nil || s == nil {
			if len(given) == 3 {
				continue // already reported
			}
			d.errorf(d.firstKeyPos(item), ip, "needs containerID, hostID and size")
			continue
		}
		out = append(out, specs.LinuxIDMapping{ContainerID: *c, HostID: *h, Size: *s})
	}
	return out
}

// runtime reads the runtime section: what init does in the root namespace
// around the container's start.
func (d *decoder) runtime(n ast.Node, fpath string) *bundle.Runtime {
	r := &bundle.Runtime{}
	d.object(n, fpath, fields{
		"cgroups": func(n ast.Node, p string) {
			r.Cgroups = d.strs(n, p, func(s string, at position, p string) bool {
				if s == "" || strings.Contains(s, "..") {
					d.errorf(at, p, "%q is not a cgroup path", s)
					return false
				}
				return true
			})
		},
		"mounts": func(n ast.Node, p string) {
			items, ok := d.list(n, p, "mounts")
			if !ok {
				return
			}
			r.Mounts = []bundle.Mount{}
			for i, item := range items {
				ip := index(p, i)
				m, ok := d.mount(item, ip)
				if !ok {
					continue
				}
				if m.Destination == "" {
					// A relative destination is relative to the bundle,
					// as in LinuxKit, so only an empty one is wrong.
					d.errorf(d.firstKeyPos(item), join(ip, "destination"), "is missing")
					continue
				}
				r.Mounts = append(r.Mounts, bundle.Mount{Destination: m.Destination, Type: m.Type, Source: m.Source, Options: m.Options})
			}
		},
		"mkdir": func(n ast.Node, p string) {
			r.Mkdir = d.strs(n, p, func(s string, at position, p string) bool {
				if !path.IsAbs(s) {
					d.errorf(at, p, "%q is not an absolute path", s)
					return false
				}
				return true
			})
		},
		"interfaces": func(n ast.Node, p string) {
			items, ok := d.list(n, p, "interfaces")
			if !ok {
				return
			}
			r.Interfaces = []bundle.Interface{}
			for i, item := range items {
				ip := index(p, i)
				var iface bundle.Interface
				var createInRoot *bool
				if _, ok := d.object(item, ip, fields{
					"name":         setStr(d, &iface.Name),
					"add":          setStr(d, &iface.Add),
					"peer":         setStr(d, &iface.Peer),
					"createInRoot": setBool(d, &createInRoot),
				}); !ok {
					continue
				}
				iface.CreateInRoot = createInRoot != nil && *createInRoot
				if iface.Peer != "" && iface.Add == "" {
					iface.Add = "veth" // as in LinuxKit, a peer implies a veth pair
				}
				switch {
				case iface.Name == "":
					d.errorf(d.firstKeyPos(item), join(ip, "name"), "is missing (the interface to move into the container, or to create)")
				case len(iface.Name) > 15 || strings.ContainsAny(iface.Name, "/ :"):
					d.errorf(d.firstKeyPos(item), join(ip, "name"), "%q is not an interface name (at most 15 characters, no '/', ':' or spaces)", iface.Name)
				case iface.Peer != "" && iface.Add != "veth":
					d.errorf(d.firstKeyPos(item), join(ip, "peer"), "only a veth pair has a peer (add: veth, or no add)")
				case iface.Add == "veth" && iface.Peer == "":
					d.errorf(d.firstKeyPos(item), join(ip, "peer"), "is missing (a veth pair needs the name of its other end)")
				default:
					r.Interfaces = append(r.Interfaces, iface)
				}
			}
		},
		"bindNS": func(n ast.Node, p string) {
			ns := &r.BindNS
			abs := func(dst *string) func(ast.Node, string) {
				return func(n ast.Node, p string) {
					if s, ok := d.str(n, p); ok {
						if !path.IsAbs(s) {
							d.errorf(d.pos(n), p, "%q is not an absolute path to bind the namespace to", s)
							return
						}
						*dst = s
					}
				}
			}
			d.object(n, p, fields{
				"cgroup": abs(&ns.Cgroup), "ipc": abs(&ns.Ipc), "mnt": abs(&ns.Mnt),
				"net": abs(&ns.Net), "pid": abs(&ns.Pid), "user": abs(&ns.User), "uts": abs(&ns.Uts),
			})
		},
		"namespace": setStr(d, &r.Namespace),
	})
	return r
}
