package imagespec

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/minikit/minikit/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// LabelKey is the image label whose JSON gives defaults for the fields of
// a container entry, as in LinuxKit.
const LabelKey = "org.mobyproject.config"

// The kinds of container entry OCISpec translates.
const (
	KindOnboot     = "onboot"
	KindOnshutdown = "onshutdown"
	KindService    = "service"
)

// Defaults of minikit's supervision extensions, written into every
// config.json so that init need not know them.
const (
	DefaultRestart     = "always"
	DefaultStopSignal  = "SIGTERM"
	DefaultStopTimeout = 10
)

// defaultPath is the PATH a container gets when neither its image nor its
// entry sets one, as Docker does, so that a command given by name is found.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Options are what a translation may need beyond the entry and its image.
type Options struct {
	// IDs maps container names to ids, for uid, gid and additionalGids
	// written as names (see Spec.IDs).
	IDs map[string]uint32
	// Rootfs is the unpacked image. It is read only when the image's
	// config names its user by name, to look that name up in /etc/passwd
	// and /etc/group; without it such an image is an error unless the
	// entry or label sets uid.
	Rootfs fs.FS
}

// OCISpec turns one entry plus its image's config into an OCI runtime spec
// (Root.Path "rootfs") and its runtime section. kind is KindOnboot,
// KindOnshutdown or KindService. uid and gid written as container names
// need the whole spec: use (*Spec).OCISpec for those.
func OCISpec(c *Container, img v1.Config, kind string) (*specs.Spec, *bundle.Runtime, error) {
	return Translate(c, img, kind, Options{})
}

// OCISpec translates an entry of s, resolving uid and gid written as
// container names.
func (s *Spec) OCISpec(c *Container, img v1.Config, kind string) (*specs.Spec, *bundle.Runtime, error) {
	return Translate(c, img, kind, Options{IDs: s.IDs()})
}

// Translate is OCISpec with Options.
//
// It follows LinuxKit's ConfigToOCI: the image config gives command, env
// and working directory; the image's org.mobyproject.config label gives
// defaults for every field of the entry; a field the entry gives replaces
// the label's, except capabilities.add and binds.add, which add to it.
// What neither grants, the container does not get.
func Translate(c *Container, img v1.Config, kind string, opts Options) (*specs.Spec, *bundle.Runtime, error) {
	k, ok := map[string]entryKind{KindOnboot: kindOnboot, KindOnshutdown: kindOnshutdown, KindService: kindService}[kind]
	if !ok {
		return nil, nil, fmt.Errorf("translate %s: kind %q is not %s", c.Name, kind, quoteList(KindOnboot, KindOnshutdown, KindService))
	}
	label, err := parseLabel(img.Labels[LabelKey])
	if err != nil {
		return nil, nil, fmt.Errorf("translate %s: image label %s: %w", c.Name, LabelKey, err)
	}
	t := &translation{c: c, label: label, img: img, kind: k, opts: opts, p: &problems{}}
	spec, rt := t.run()
	if err := t.p.err(); err != nil {
		return nil, nil, fmt.Errorf("translate %s: %w", c.Name, err)
	}
	return spec, rt, nil
}

// parseLabel reads an image's org.mobyproject.config label: JSON with the
// fields of a container entry but no name or image. An empty label is an
// empty entry. The minikit extensions it holds are checked against the
// entry's kind at translation, as the label cannot know where the image
// will be used.
func parseLabel(label string) (*Container, error) {
	if strings.TrimSpace(label) == "" {
		return &Container{}, nil
	}
	p := &problems{}
	d := newDecoder("label", p)
	body, ok := d.parseYAML([]byte(label))
	c := &Container{}
	if ok && body != nil {
		c = d.container(body, "", kindLabel)
	}
	return c, p.err()
}

// translation carries one entry through the translation, collecting
// problems found only now that the label and image are known.
type translation struct {
	c, label *Container
	img      v1.Config
	kind     entryKind
	opts     Options
	p        *problems
}

func (t *translation) fail(field, format string, args ...any) {
	t.p.errorf(t.c.fieldAt(field), field, format, args...)
}

// pick returns the entry's value when it gave one, else the label's.
func pick[T any](entry, label T, given func(T) bool) T {
	if given(entry) {
		return entry
	}
	return label
}

func listGiven[T any](v []T) bool         { return v != nil }
func ptrGiven[T any](v *T) bool           { return v != nil }
func strGiven(v string) bool              { return v != "" }
func mapGiven[V any](v map[string]V) bool { return v != nil }

func (t *translation) run() (*specs.Spec, *bundle.Runtime) {
	c, l, img := t.c, t.label, t.img

	args := pick(c.Command, l.Command, listGiven)
	if args == nil {
		args = append(slices.Clone(img.Entrypoint), img.Cmd...)
	}
	if len(args) == 0 {
		t.fail("command", "nothing to run: the image has no entrypoint or cmd, so the entry must give a command")
	}
	env := pick(c.Env, l.Env, listGiven)
	if env == nil {
		env = slices.Clone(img.Env)
	}
	if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
		env = append(env, defaultPath)
	}
	cwd := pick(c.Cwd, l.Cwd, strGiven)
	if cwd == "" {
		cwd = img.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	readonly := pick(c.Readonly, l.Readonly, ptrGiven)
	ro := readonly != nil && *readonly

	spec := &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: "rootfs", Readonly: ro},
		Hostname: pick(c.Hostname, l.Hostname, strGiven),
		Mounts:   t.mounts(ro),
		Process: &specs.Process{
			Args:         args,
			Env:          env,
			Cwd:          cwd,
			User:         t.user(),
			Capabilities: t.capabilities(),
			Rlimits:      t.rlimits(),
			OOMScoreAdj:  pick(c.OOMScoreAdj, l.OOMScoreAdj, ptrGiven),
		},
		Linux: &specs.Linux{
			Namespaces:        t.namespaces(),
			UIDMappings:       pick(c.UIDMappings, l.UIDMappings, listGiven),
			GIDMappings:       pick(c.GIDMappings, l.GIDMappings, listGiven),
			Sysctl:            pick(c.Sysctl, l.Sysctl, mapGiven),
			CgroupsPath:       pick(c.CgroupsPath, l.CgroupsPath, strGiven),
			RootfsPropagation: pick(c.RootfsPropagation, l.RootfsPropagation, strGiven),
			MaskedPaths:       pick(c.MaskedPaths, l.MaskedPaths, listGiven),
			ReadonlyPaths:     pick(c.ReadonlyPaths, l.ReadonlyPaths, listGiven),
		},
		Annotations: t.annotations(),
	}
	t.devices(spec.Linux)
	t.confine(spec)
	spec.Linux.Namespaces = hostCgroupNamespaceForHostHierarchy(spec.Mounts, spec.Linux.Namespaces)
	t.checkNamespaceUse(spec)
	return spec, t.runtime()
}

// hostCgroupNamespaceForHostHierarchy drops the new cgroup namespace of a
// container that binds the host's /sys/fs/cgroup. Such a container (a
// container engine, say) sees cgroups by their host paths, so it must
// also see its processes' cgroups by host paths in /proc/PID/cgroup; in a
// cgroup namespace of its own those read "/../../…", which containerd's
// shim cannot parse, and the kernel refuses to move tasks across the
// namespace's root. LinuxKit runs its containerd outside any container
// and so never meets this.
func hostCgroupNamespaceForHostHierarchy(mounts []specs.Mount, nss []specs.LinuxNamespace) []specs.LinuxNamespace {
	bindsHierarchy := false
	for _, m := range mounts {
		if m.Type == "bind" && path.Clean(m.Source) == "/sys/fs/cgroup" {
			bindsHierarchy = true
		}
	}
	if !bindsHierarchy {
		return nss
	}
	out := nss[:0:0]
	for _, ns := range nss {
		if ns.Type != specs.CgroupNamespace || ns.Path != "" {
			out = append(out, ns)
		}
	}
	return out
}

func boolOf(b *bool) bool { return b != nil && *b }

// mounts builds the mount list as LinuxKit does: the default pseudo
// filesystems, then tmpfs, binds and mounts in that order, a later one at
// the same destination replacing an earlier one; sorted by destination so
// that a mount comes after the one it sits on.
func (t *translation) mounts(readonly bool) []specs.Mount {
	c, l := t.c, t.label
	roIf := func(opts ...string) []string {
		if readonly {
			return append(opts, "ro")
		}
		return opts
	}
	byDest := map[string]specs.Mount{
		"/proc":          {Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "nodev", "noexec", "relatime"}},
		"/dev":           {Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: roIf("nosuid", "strictatime", "mode=755", "size=65536k")},
		"/dev/pts":       {Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		"/sys":           {Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: roIf("nosuid", "noexec", "nodev")},
		"/sys/fs/cgroup": {Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
	}
	for i, s := range pick(c.Tmpfs, l.Tmpfs, listGiven) {
		m, msg := parseTmpfs(s)
		if msg != "" {
			t.fail(index("tmpfs", i), "%s", msg)
			continue
		}
		byDest[m.Destination] = m
	}
	binds := l.Binds
	if c.BindsAdd != nil {
		binds = appendUnique(binds, c.BindsAdd...)
	}
	if c.Binds != nil {
		binds = c.Binds
	}
	for i, b := range binds {
		m, _, msg := parseBind(b)
		if msg != "" {
			t.fail(index("binds", i), "%s", msg)
			continue
		}
		byDest[m.Destination] = m
	}
	for i, m := range pick(c.Mounts, l.Mounts, listGiven) {
		cm, _, msg := completeMount(m)
		if msg != "" {
			t.fail(index("mounts", i), "%s", msg)
			continue
		}
		byDest[cm.Destination] = cm
	}
	mounts := make([]specs.Mount, 0, len(byDest))
	for _, d := range slices.Sorted(maps.Keys(byDest)) {
		mounts = append(mounts, byDest[d])
	}
	return mounts
}

// appendUnique appends the items of add that list does not hold yet.
func appendUnique(list []string, add ...string) []string {
	out := slices.Clone(list)
	for _, a := range add {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// namespaces follows LinuxKit: net, ipc, uts and user are the host's unless
// asked otherwise, pid is new unless asked otherwise, and mount and cgroup
// namespaces are always new.
func (t *translation) namespaces() []specs.LinuxNamespace {
	c, l := t.c, t.label
	var nss []specs.LinuxNamespace
	add := func(typ specs.LinuxNamespaceType, v, def string) {
		if v == "" {
			v = def
		}
		switch v {
		case "host", "root":
			return
		case "new", "none":
			v = ""
		}
		nss = append(nss, specs.LinuxNamespace{Type: typ, Path: v})
	}
	add(specs.NetworkNamespace, pick(c.Net, l.Net, strGiven), "host")
	add(specs.IPCNamespace, pick(c.Ipc, l.Ipc, strGiven), "host")
	add(specs.UTSNamespace, pick(c.Uts, l.Uts, strGiven), "host")
	add(specs.PIDNamespace, pick(c.Pid, l.Pid, strGiven), "new")
	add(specs.UserNamespace, pick(c.Userns, l.Userns, strGiven), "host")
	add(specs.MountNamespace, "new", "")
	add(specs.CgroupNamespace, "new", "")
	return nss
}

// capabilities follows LinuxKit: the effective set is what is granted (the
// label's list plus capabilities.add, or the entry's capabilities); the
// bounding, permitted and inheritable sets add the ambient ones.
func (t *translation) capabilities() *specs.LinuxCapabilities {
	c, l := t.c, t.label
	granted := l.Capabilities
	if c.CapabilitiesAdd != nil {
		granted = appendUnique(granted, c.CapabilitiesAdd...)
		if bad, msg := checkCapabilities(granted); bad >= 0 {
			t.fail("capabilities.add", "with the image label's capabilities: %s", msg)
			granted = nil
		}
	}
	if c.Capabilities != nil {
		granted = c.Capabilities
	}
	effective := sortUnique(expandCapabilities(granted))
	ambient := sortUnique(expandCapabilities(pick(c.Ambient, l.Ambient, listGiven)))
	bounding := sortUnique(append(slices.Clone(effective), ambient...))
	return &specs.LinuxCapabilities{
		Bounding:    bounding,
		Effective:   effective,
		Inheritable: bounding,
		Permitted:   bounding,
		Ambient:     ambient,
	}
}

// sortUnique sorts a list and drops repeats, so that config.json does not
// depend on the order capabilities were written in; it is never nil, so
// that "no capabilities" is written as [] rather than left to defaults.
func sortUnique(list []string) []string {
	out := slices.Clone(list)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

func (t *translation) rlimits() []specs.POSIXRlimit {
	var out []specs.POSIXRlimit
	for i, s := range pick(t.c.Rlimits, t.label.Rlimits, listGiven) {
		r, msg := parseRlimit(s)
		if msg != "" {
			t.fail(index("rlimits", i), "%s", msg)
			continue
		}
		out = append(out, r)
	}
	return out
}

// user is the entry's or label's uid and gid, else the image's user.
func (t *translation) user() specs.User {
	c, l := t.c, t.label
	var u specs.User
	uid := pick(c.UID, l.UID, ptrGiven)
	gid := pick(c.GID, l.GID, ptrGiven)
	if uid == nil && t.img.User != "" {
		iu, err := imageUser(t.img.User, t.opts.Rootfs)
		if err != nil {
			t.fail("uid", "%v", err)
		}
		u = iu
	}
	if uid != nil {
		u.UID = t.resolveID(*uid, "uid")
		u.GID = 0
	}
	if gid != nil {
		u.GID = t.resolveID(*gid, "gid")
	}
	if ag := pick(c.AdditionalGids, l.AdditionalGids, listGiven); ag != nil {
		u.AdditionalGids = nil
		for i, g := range ag {
			u.AdditionalGids = append(u.AdditionalGids, t.resolveID(g, index("additionalGids", i)))
		}
	}
	return u
}

func (t *translation) resolveID(id ID, field string) uint32 {
	switch {
	case id.Name == "":
		return id.Num
	case id.Name == "root":
		return 0
	case t.opts.IDs == nil:
		t.fail(field, "%q names a container, which needs the whole spec (translate with (*Spec).OCISpec)", id.Name)
		return 0
	}
	n, ok := t.opts.IDs[id.Name]
	if !ok {
		t.fail(field, "%q is neither a number, root, nor the name of a container in this spec", id.Name)
	}
	return n
}

// imageUser reads the image config's User: "uid", "uid:gid", or names,
// which are looked up in the image's /etc/passwd and /etc/group.
func imageUser(user string, rootfs fs.FS) (specs.User, error) {
	name, group, hasGroup := strings.Cut(user, ":")
	var u specs.User
	uid, err := strconv.ParseUint(name, 10, 32)
	if err == nil {
		u.UID = uint32(uid)
	} else {
		if rootfs == nil {
			return u, fmt.Errorf("the image runs as user %q, which can only be looked up in the image's /etc/passwd (set uid and gid in the spec)", user)
		}
		pw, err := lookupPasswd(rootfs, name)
		if err != nil {
			return u, err
		}
		u.UID, u.GID = pw.uid, pw.gid
		if !hasGroup {
			u.AdditionalGids, err = supplementaryGroups(rootfs, name, pw.gid)
			if err != nil {
				return u, err
			}
		}
	}
	if hasGroup {
		gid, err := strconv.ParseUint(group, 10, 32)
		if err == nil {
			u.GID = uint32(gid)
		} else {
			if rootfs == nil {
				return u, fmt.Errorf("the image runs as group %q, which can only be looked up in the image's /etc/group (set gid in the spec)", group)
			}
			g, err := lookupGroup(rootfs, group)
			if err != nil {
				return u, err
			}
			u.GID = g
		}
	}
	return u, nil
}

// devices adds device nodes and the device cgroup rules that let the
// container use them, as LinuxKit does; a device with path "all" only
// allows its whole type.
func (t *translation) devices(lx *specs.Linux) {
	res := pick(t.c.Resources, t.label.Resources, ptrGiven)
	var r specs.LinuxResources
	if res != nil {
		r = *res
		r.Devices = slices.Clone(res.Devices)
	}
	for i, d := range pick(t.c.Devices, t.label.Devices, listGiven) {
		if d.Path == "all" {
			r.Devices = append(r.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: d.Type, Access: "rwm"})
			continue
		}
		mode, ok := parseOctal(d.Mode, 0o7777)
		if !ok {
			t.fail(index("devices", i)+".mode", "%q is not an octal mode", d.Mode)
			continue
		}
		fm := os.FileMode(mode)
		major, minor := d.Major, d.Minor
		lx.Devices = append(lx.Devices, specs.LinuxDevice{Path: d.Path, Type: d.Type, Major: major, Minor: minor, FileMode: &fm})
		r.Devices = append(r.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: d.Type, Major: &major, Minor: &minor, Access: "rwm"})
	}
	if res != nil || r.Devices != nil {
		lx.Resources = &r
	}
}

// checkNamespaceUse catches, before boot, what runc would refuse at start:
// a hostname or sysctls for a namespace the container shares with the host.
func (t *translation) checkNamespaceUse(spec *specs.Spec) {
	has := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range spec.Linux.Namespaces {
		has[ns.Type] = true
	}
	if spec.Hostname != "" && !has[specs.UTSNamespace] {
		t.fail("hostname", "needs its own UTS namespace (add uts: new)")
	}
	for _, k := range slices.Sorted(maps.Keys(spec.Linux.Sysctl)) {
		ns, _ := sysctlNamespace(k)
		if !has[ns] {
			key := map[specs.LinuxNamespaceType]string{specs.NetworkNamespace: "net", specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts"}[ns]
			t.fail("sysctl", "%s would change the host's %s namespace (add %s: new, or set it on the host with the sysctl onboot image)", k, key, key)
		}
	}
	if has[specs.UserNamespace] && (len(spec.Linux.UIDMappings) == 0 || len(spec.Linux.GIDMappings) == 0) {
		for _, ns := range spec.Linux.Namespaces {
			if ns.Type == specs.UserNamespace && ns.Path == "" {
				t.fail("userns", "a new user namespace needs uidMappings and gidMappings")
			}
		}
	}
}

// annotations are the entry's (or label's) annotations plus minikit's
// supervision policy for the entry's kind.
func (t *translation) annotations() map[string]string {
	c, l := t.c, t.label
	a := map[string]string{}
	for k, v := range pick(c.Annotations, l.Annotations, mapGiven) {
		a[k] = v
	}
	// An extension in the label is checked against the entry's kind here,
	// as the label could not know where the image would be used.
	ext := func(key string, allowed ...entryKind) bool {
		if slices.Contains(allowed, t.kind) {
			return true
		}
		t.fail(key, "the image label sets %s, which is not allowed in %s", key, t.kind)
		return false
	}
	restart := pick(c.Restart, l.Restart, strGiven)
	signal := pick(c.StopSignal, l.StopSignal, strGiven)
	stopTimeout := pick(c.StopTimeout, l.StopTimeout, ptrGiven)
	notify := pick(c.Notify, l.Notify, ptrGiven)
	timeout := pick(c.Timeout, l.Timeout, ptrGiven)
	required := pick(c.Required, l.Required, ptrGiven)
	if l.Restart != "" && c.Restart == "" {
		ext("restart", kindService)
	}
	if l.Notify != nil && c.Notify == nil {
		ext("notify", kindService)
	}
	if (l.StopSignal != "" && c.StopSignal == "") || (l.StopTimeout != nil && c.StopTimeout == nil) {
		ext("stopSignal", kindService, kindOnboot)
	}
	if l.Timeout != nil && c.Timeout == nil {
		ext("timeout", kindOnboot, kindOnshutdown)
	}
	if l.Required != nil && c.Required == nil {
		ext("required", kindOnboot)
	}

	if t.kind == kindService {
		a[bundle.AnnotationRestart] = cmpOr(restart, DefaultRestart)
		if len(c.DependsOn) > 0 {
			a[bundle.AnnotationDependsOn] = strings.Join(c.DependsOn, ",")
		}
		if boolOf(notify) {
			a[bundle.AnnotationNotify] = "true"
		}
	}
	if t.kind == kindService || t.kind == kindOnboot {
		a[bundle.AnnotationStopSignal] = cmpOr(signal, DefaultStopSignal)
		st := DefaultStopTimeout
		if stopTimeout != nil {
			st = *stopTimeout
		}
		a[bundle.AnnotationStopTimeout] = strconv.Itoa(st)
	}
	if (t.kind == kindOnboot || t.kind == kindOnshutdown) && timeout != nil {
		a[bundle.AnnotationTimeout] = strconv.Itoa(*timeout)
	}
	if t.kind == kindOnboot && boolOf(required) {
		a[bundle.AnnotationRequired] = "true"
	}
	return a
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// runtime merges the label's and the entry's runtime sections field by
// field, the entry winning, as LinuxKit does.
func (t *translation) runtime() *bundle.Runtime {
	l, c := t.label.Runtime, t.c.Runtime
	if l == nil {
		l = &bundle.Runtime{}
	}
	if c == nil {
		c = &bundle.Runtime{}
	}
	str := func(e, lv string) string { return pick(e, lv, strGiven) }
	return &bundle.Runtime{
		Cgroups:    pick(c.Cgroups, l.Cgroups, listGiven),
		Mounts:     pick(c.Mounts, l.Mounts, listGiven),
		Mkdir:      pick(c.Mkdir, l.Mkdir, listGiven),
		Interfaces: pick(c.Interfaces, l.Interfaces, listGiven),
		BindNS: bundle.Namespaces{
			Cgroup: str(c.BindNS.Cgroup, l.BindNS.Cgroup),
			Ipc:    str(c.BindNS.Ipc, l.BindNS.Ipc),
			Mnt:    str(c.BindNS.Mnt, l.BindNS.Mnt),
			Net:    str(c.BindNS.Net, l.BindNS.Net),
			Pid:    str(c.BindNS.Pid, l.BindNS.Pid),
			User:   str(c.BindNS.User, l.BindNS.User),
			Uts:    str(c.BindNS.Uts, l.BindNS.Uts),
		},
		Namespace: str(c.Namespace, l.Namespace),
	}
}
