package imagespec

import (
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/minikit/minikit/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// alpine is an image config like a plain alpine image's.
var alpine = v1.Config{
	Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	Cmd: []string{"/bin/sh"},
}

// withLabel is img with an org.mobyproject.config label.
func withLabel(img v1.Config, label string) v1.Config {
	img.Labels = map[string]string{LabelKey: label}
	return img
}

// translate parses a one-service spec with the extra keys and translates
// its service against img.
func translate(t *testing.T, extra string, img v1.Config) (*specs.Spec, *bundle.Runtime) {
	t.Helper()
	s, _ := mustParse(t, service(extra))
	spec, rt, err := s.OCISpec(s.Services[0], img, KindService)
	if err != nil {
		t.Fatalf("OCISpec: %v", err)
	}
	return spec, rt
}

func translateErr(t *testing.T, extra string, img v1.Config, kind string) error {
	t.Helper()
	s, _ := mustParse(t, service(extra))
	_, _, err := s.OCISpec(s.Services[0], img, kind)
	if err == nil {
		t.Fatal("no error")
	}
	return err
}

func TestTranslateProcess(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		img   v1.Config
		got   func(*specs.Spec) any
		want  any
	}{
		{"args are the image's entrypoint then cmd", "", v1.Config{Entrypoint: []string{"/init"}, Cmd: []string{"--debug"}},
			func(s *specs.Spec) any { return s.Process.Args }, []string{"/init", "--debug"}},
		{"command replaces entrypoint and cmd", "    command: [/bin/true]\n", v1.Config{Entrypoint: []string{"/init"}, Cmd: []string{"x"}},
			func(s *specs.Spec) any { return s.Process.Args }, []string{"/bin/true"}},
		{"the label's command replaces the image's", "", withLabel(alpine, `{"command":["/usr/bin/rngd","-f"]}`),
			func(s *specs.Spec) any { return s.Process.Args }, []string{"/usr/bin/rngd", "-f"}},
		{"the entry's command replaces the label's", "    command: [/bin/true]\n", withLabel(alpine, `{"command":["/usr/bin/rngd"]}`),
			func(s *specs.Spec) any { return s.Process.Args }, []string{"/bin/true"}},
		{"env is the image's", "", alpine,
			func(s *specs.Spec) any { return s.Process.Env }, alpine.Env},
		{"env replaces the image's, keeping a PATH", "    env: [INSECURE=true]\n", alpine,
			func(s *specs.Spec) any { return s.Process.Env }, []string{"INSECURE=true", defaultPath}},
		{"a PATH in env is kept as given", "    env: [PATH=/opt/bin]\n", alpine,
			func(s *specs.Spec) any { return s.Process.Env }, []string{"PATH=/opt/bin"}},
		{"cwd defaults to /", "", alpine,
			func(s *specs.Spec) any { return s.Process.Cwd }, "/"},
		{"cwd is the image's working directory", "", v1.Config{Cmd: []string{"x"}, WorkingDir: "/app"},
			func(s *specs.Spec) any { return s.Process.Cwd }, "/app"},
		{"cwd from the entry wins", "    cwd: /srv\n", v1.Config{Cmd: []string{"x"}, WorkingDir: "/app"},
			func(s *specs.Spec) any { return s.Process.Cwd }, "/srv"},
		{"root by default", "", alpine,
			func(s *specs.Spec) any { return s.Process.User }, specs.User{}},
		{"the image's numeric user", "", v1.Config{Cmd: []string{"x"}, User: "1000:1001"},
			func(s *specs.Spec) any { return s.Process.User }, specs.User{UID: 1000, GID: 1001}},
		{"uid replaces the image's user, gid then 0", "    uid: 7\n", v1.Config{Cmd: []string{"x"}, User: "1000:1001"},
			func(s *specs.Spec) any { return s.Process.User }, specs.User{UID: 7}},
		{"uid, gid and additionalGids", "    uid: 7\n    gid: 8\n    additionalGids: [9, root]\n", alpine,
			func(s *specs.Spec) any { return s.Process.User }, specs.User{UID: 7, GID: 8, AdditionalGids: []uint32{9, 0}}},
		{"uid as a container's name", "    uid: svc\n    gid: svc\n", alpine,
			func(s *specs.Spec) any { return s.Process.User }, specs.User{UID: 100, GID: 100}},
		{"uid from the label", "", withLabel(alpine, `{"uid":5,"gid":6}`),
			func(s *specs.Spec) any { return s.Process.User }, specs.User{UID: 5, GID: 6}},
		{"no new privileges", "    noNewPrivileges: true\n", alpine,
			func(s *specs.Spec) any { return s.Process.NoNewPrivileges }, true},
		{"oom score", "    oomScoreAdj: -100\n", alpine,
			func(s *specs.Spec) any { return *s.Process.OOMScoreAdj }, -100},
		{"RLIMIT_NOFILE unless given", "", alpine,
			func(s *specs.Spec) any { return s.Process.Rlimits }, []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 4096}}},
		{"rlimits", "    rlimits: [\"nofile,1024,4096\", \"Core,unlimited,unlimited\"]\n", alpine,
			func(s *specs.Spec) any { return s.Process.Rlimits },
			[]specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 4096}, {Type: "RLIMIT_CORE", Soft: math.MaxUint64, Hard: math.MaxUint64}}},
		{"rlimits from the label", "", withLabel(alpine, `{"rlimits":["memlock,64,64"]}`),
			func(s *specs.Spec) any { return s.Process.Rlimits }, []specs.POSIXRlimit{{Type: "RLIMIT_MEMLOCK", Soft: 64, Hard: 64}, {Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 4096}}},
		{"no terminal", "", alpine,
			func(s *specs.Spec) any { return s.Process.Terminal }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, _ := translate(t, tt.extra, tt.img)
			if got := tt.got(spec); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestTranslateImageUserByName(t *testing.T) {
	rootfs := fstest.MapFS{
		"etc/passwd": {Data: []byte("root:x:0:0:root:/root:/bin/sh\n# comment\nnginx:x:101:101:nginx:/var/cache/nginx:/sbin/nologin\n")},
		"etc/group":  {Data: []byte("root:x:0:\nnginx:x:101:\nwww:x:33:nginx,other\nadm:x:4:other\n")},
	}
	s, _ := mustParse(t, service(""))
	c := s.Services[0]
	tests := []struct {
		user string
		want specs.User
	}{
		{"nginx", specs.User{UID: 101, GID: 101, AdditionalGids: []uint32{33}}},
		{"nginx:adm", specs.User{UID: 101, GID: 4}},
		{"0:www", specs.User{UID: 0, GID: 33}},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			spec, _, err := Translate(c, v1.Config{Cmd: []string{"nginx"}, User: tt.user}, KindService, Options{Rootfs: rootfs})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(spec.Process.User, tt.want) {
				t.Errorf("got %+v, want %+v", spec.Process.User, tt.want)
			}
		})
	}
	t.Run("a name without the rootfs is an error that says what to do", func(t *testing.T) {
		_, _, err := OCISpec(c, v1.Config{Cmd: []string{"nginx"}, User: "nginx"}, KindService)
		if err == nil || !strings.Contains(err.Error(), `uid: the image runs as user "nginx"`) || !strings.Contains(err.Error(), "set uid and gid in the spec") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("an unknown user is an error", func(t *testing.T) {
		_, _, err := Translate(c, v1.Config{Cmd: []string{"x"}, User: "ghost"}, KindService, Options{Rootfs: rootfs})
		if err == nil || !strings.Contains(err.Error(), `user "ghost", who is not in the image's /etc/passwd`) {
			t.Errorf("got %v", err)
		}
	})
}

func TestTranslateCapabilities(t *testing.T) {
	none := &specs.LinuxCapabilities{Bounding: []string{}, Effective: []string{}, Inheritable: []string{}, Permitted: []string{}, Ambient: []string{}}
	tests := []struct {
		name  string
		extra string
		img   v1.Config
		want  *specs.LinuxCapabilities
	}{
		{"none unless granted", "", alpine, none},
		{"none written as none", "    capabilities: [none]\n", alpine, none},
		{"granted, sorted and once", "    capabilities: [CAP_SYS_ADMIN, CAP_CHOWN, CAP_CHOWN]\n", alpine, &specs.LinuxCapabilities{
			Bounding: []string{"CAP_CHOWN", "CAP_SYS_ADMIN"}, Effective: []string{"CAP_CHOWN", "CAP_SYS_ADMIN"},
			Inheritable: []string{"CAP_CHOWN", "CAP_SYS_ADMIN"}, Permitted: []string{"CAP_CHOWN", "CAP_SYS_ADMIN"}, Ambient: []string{}}},
		{"ambient ones are bounded but not effective", "    capabilities: [CAP_CHOWN]\n    ambient: [CAP_NET_BIND_SERVICE]\n", alpine, &specs.LinuxCapabilities{
			Bounding: []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE"}, Effective: []string{"CAP_CHOWN"},
			Inheritable: []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE"}, Permitted: []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE"}, Ambient: []string{"CAP_NET_BIND_SERVICE"}}},
		{"the label's capabilities", "", withLabel(alpine, `{"capabilities":["CAP_NET_ADMIN"]}`), &specs.LinuxCapabilities{
			Bounding: []string{"CAP_NET_ADMIN"}, Effective: []string{"CAP_NET_ADMIN"}, Inheritable: []string{"CAP_NET_ADMIN"}, Permitted: []string{"CAP_NET_ADMIN"}, Ambient: []string{}}},
		{"capabilities.add adds to the label's", "    capabilities.add: [CAP_NET_RAW]\n", withLabel(alpine, `{"capabilities":["CAP_NET_ADMIN"]}`), &specs.LinuxCapabilities{
			Bounding: []string{"CAP_NET_ADMIN", "CAP_NET_RAW"}, Effective: []string{"CAP_NET_ADMIN", "CAP_NET_RAW"},
			Inheritable: []string{"CAP_NET_ADMIN", "CAP_NET_RAW"}, Permitted: []string{"CAP_NET_ADMIN", "CAP_NET_RAW"}, Ambient: []string{}}},
		{"capabilities replace the label's", "    capabilities: [CAP_KILL]\n", withLabel(alpine, `{"capabilities":["CAP_NET_ADMIN"]}`), &specs.LinuxCapabilities{
			Bounding: []string{"CAP_KILL"}, Effective: []string{"CAP_KILL"}, Inheritable: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"}, Ambient: []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, _ := translate(t, tt.extra, tt.img)
			if !reflect.DeepEqual(spec.Process.Capabilities, tt.want) {
				t.Errorf("got  %+v\nwant %+v", spec.Process.Capabilities, tt.want)
			}
		})
	}
	t.Run("all is every capability", func(t *testing.T) {
		spec, _ := translate(t, "    capabilities: [all]\n", alpine)
		if got := spec.Process.Capabilities.Effective; len(got) != len(allCapabilities) || !slices.Contains(got, "CAP_SYS_ADMIN") {
			t.Errorf("got %d capabilities: %v", len(got), got)
		}
	})
}

// mountAt returns the mount at dest, failing the test when there is none.
func mountAt(t *testing.T, spec *specs.Spec, dest string) specs.Mount {
	t.Helper()
	for _, m := range spec.Mounts {
		if m.Destination == dest {
			return m
		}
	}
	t.Fatalf("no mount at %s in %+v", dest, spec.Mounts)
	return specs.Mount{}
}

func TestTranslateMounts(t *testing.T) {
	t.Run("the defaults are LinuxKit's, in order", func(t *testing.T) {
		spec, _ := translate(t, "", alpine)
		var dests []string
		for _, m := range spec.Mounts {
			dests = append(dests, m.Destination+" "+m.Type)
		}
		want := []string{"/dev tmpfs", "/dev/pts devpts", "/proc proc", "/sys sysfs", "/sys/fs/cgroup cgroup"}
		if !reflect.DeepEqual(dests, want) {
			t.Errorf("got %v, want %v", dests, want)
		}
		if slices.Contains(mountAt(t, spec, "/sys").Options, "ro") || !slices.Contains(mountAt(t, spec, "/sys/fs/cgroup").Options, "ro") {
			t.Errorf("/sys is read-write and cgroup read-only unless the root is read-only: %+v", spec.Mounts)
		}
	})
	t.Run("a read-only root makes /dev and /sys read-only", func(t *testing.T) {
		spec, _ := translate(t, "    readonly: true\n", alpine)
		if !spec.Root.Readonly || !slices.Contains(mountAt(t, spec, "/dev").Options, "ro") || !slices.Contains(mountAt(t, spec, "/sys").Options, "ro") {
			t.Errorf("root %+v, mounts %+v", spec.Root, spec.Mounts)
		}
	})
	tests := []struct {
		name  string
		extra string
		img   v1.Config
		dest  string
		want  specs.Mount
	}{
		{"a bind defaults to rw, rbind, rshared", "    binds: [/etc/resolv.conf:/etc/resolv.conf]\n", alpine, "/etc/resolv.conf",
			specs.Mount{Destination: "/etc/resolv.conf", Type: "bind", Source: "/etc/resolv.conf", Options: []string{"rw", "rbind", "rshared"}}},
		{"a bind with options gets rbind", "    binds: [\"/var:/var:ro,rslave\"]\n", alpine, "/var",
			specs.Mount{Destination: "/var", Type: "bind", Source: "/var", Options: []string{"ro", "rslave", "rbind"}}},
		{"a bind from a volume", "    binds: [data:/data]\nvolumes:\n  - name: data\n", alpine, "/data",
			specs.Mount{Destination: "/data", Type: "bind", Source: "/containers/volumes/data/merged", Options: []string{"rw", "rbind", "rshared"}}},
		{"binds.add keeps the label's binds", "    binds.add: [/b:/b]\n", withLabel(alpine, `{"binds":["/a:/a"]}`), "/a",
			specs.Mount{Destination: "/a", Type: "bind", Source: "/a", Options: []string{"rw", "rbind", "rshared"}}},
		{"a tmpfs", "    tmpfs: [\"/run:size=1m,mode=755\"]\n", alpine, "/run",
			specs.Mount{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m", "mode=755"}}},
		{"a mount with only a type gets its place", "    mounts: [{type: mqueue}]\n", alpine, "/dev/mqueue",
			specs.Mount{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue"}},
		{"a mount replaces the default at its place", "    mounts:\n      - type: cgroup\n        options: [rw, nosuid]\n", alpine, "/sys/fs/cgroup",
			specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"rw", "nosuid"}}},
		{"a bind replaces a tmpfs at the same place", "    tmpfs: [/x]\n    binds: [/y:/x]\n", alpine, "/x",
			specs.Mount{Destination: "/x", Type: "bind", Source: "/y", Options: []string{"rw", "rbind", "rshared"}}},
		{"the label's tmpfs", "", withLabel(alpine, `{"tmpfs":["/tmp"]}`), "/tmp",
			specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, _ := translate(t, tt.extra, tt.img)
			if got := mountAt(t, spec, tt.dest); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if !slices.IsSortedFunc(spec.Mounts, func(a, b specs.Mount) int { return strings.Compare(a.Destination, b.Destination) }) {
				t.Errorf("mounts not sorted by destination: %+v", spec.Mounts)
			}
		})
	}
	t.Run("binds replace the label's", func(t *testing.T) {
		spec, _ := translate(t, "    binds: [/b:/b]\n", withLabel(alpine, `{"binds":["/a:/a"]}`))
		for _, m := range spec.Mounts {
			if m.Destination == "/a" {
				t.Errorf("the label's bind survived: %+v", spec.Mounts)
			}
		}
	})
	t.Run("binds.add adds its own", func(t *testing.T) {
		spec, _ := translate(t, "    binds.add: [/b:/b]\n", withLabel(alpine, `{"binds":["/a:/a"]}`))
		mountAt(t, spec, "/b")
	})
}

func TestTranslateNamespaces(t *testing.T) {
	ns := func(pairs ...string) []specs.LinuxNamespace {
		var out []specs.LinuxNamespace
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, specs.LinuxNamespace{Type: specs.LinuxNamespaceType(pairs[i]), Path: pairs[i+1]})
		}
		return out
	}
	tests := []struct {
		name  string
		extra string
		img   v1.Config
		want  []specs.LinuxNamespace
	}{
		{"host's but pid, mount and cgroup", "", alpine, ns("pid", "", "mount", "", "cgroup", "")},
		{"new net", "    net: new\n", alpine, ns("network", "", "pid", "", "mount", "", "cgroup", "")},
		{"net none is a new empty one", "    net: none\n", alpine, ns("network", "", "pid", "", "mount", "", "cgroup", "")},
		{"net at a path", "    net: /run/netns/wg0\n", alpine, ns("network", "/run/netns/wg0", "pid", "", "mount", "", "cgroup", "")},
		{"host pid", "    pid: host\n", alpine, ns("mount", "", "cgroup", "")},
		{"new ipc and uts", "    ipc: new\n    uts: new\n", alpine, ns("ipc", "", "uts", "", "pid", "", "mount", "", "cgroup", "")},
		{"the label's net", "", withLabel(alpine, `{"net":"new"}`), ns("network", "", "pid", "", "mount", "", "cgroup", "")},
		{"the entry's net wins", "    net: host\n", withLabel(alpine, `{"net":"new"}`), ns("pid", "", "mount", "", "cgroup", "")},
		{"new user namespace", "    userns: new\n    uidMappings: [{containerID: 0, hostID: 1000, size: 1}]\n    gidMappings: [{containerID: 0, hostID: 1000, size: 1}]\n", alpine,
			ns("pid", "", "user", "", "mount", "", "cgroup", "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, _ := translate(t, tt.extra, tt.img)
			if !reflect.DeepEqual(spec.Linux.Namespaces, tt.want) {
				t.Errorf("got  %+v\nwant %+v", spec.Linux.Namespaces, tt.want)
			}
		})
	}
}

func TestTranslateLinuxFields(t *testing.T) {
	mode := os.FileMode(0o666)
	major, minor := int64(10), int64(229)
	tests := []struct {
		name  string
		extra string
		img   v1.Config
		got   func(*specs.Spec) any
		want  any
	}{
		{"root is rootfs, writable by default", "", alpine, func(s *specs.Spec) any { return *s.Root }, specs.Root{Path: "rootfs"}},
		{"hostname with its own uts", "    uts: new\n    hostname: box\n", alpine, func(s *specs.Spec) any { return s.Hostname }, "box"},
		{"masked and read-only paths", "    maskedPaths: [/proc/kcore]\n    readonlyPaths: [/proc/sys]\n", alpine,
			func(s *specs.Spec) any { return [][]string{s.Linux.MaskedPaths, s.Linux.ReadonlyPaths} }, [][]string{{"/proc/kcore"}, {"/proc/sys"}}},
		{"sysctl in its own namespace", "    net: new\n    sysctl: {net.ipv4.ip_forward: \"1\"}\n", alpine,
			func(s *specs.Spec) any { return s.Linux.Sysctl }, map[string]string{"net.ipv4.ip_forward": "1"}},
		{"cgroups path", "    cgroupsPath: /minikit/svc\n", alpine, func(s *specs.Spec) any { return s.Linux.CgroupsPath }, "/minikit/svc"},
		{"rootfs propagation", "    rootfsPropagation: shared\n", alpine, func(s *specs.Spec) any { return s.Linux.RootfsPropagation }, "shared"},
		{"no resources unless given", "", alpine, func(s *specs.Spec) any { return s.Linux.Resources }, (*specs.LinuxResources)(nil)},
		{"resources", "    resources: {pids: {limit: 10}}\n", alpine,
			func(s *specs.Spec) any { return s.Linux.Resources }, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(10))}}},
		{"a device gets a node and an allow rule", "    devices: [{path: /dev/fuse, type: c, major: 10, minor: 229, mode: \"0666\"}]\n", alpine,
			func(s *specs.Spec) any { return []any{s.Linux.Devices, s.Linux.Resources.Devices} },
			[]any{[]specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: &mode}},
				[]specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "rwm"}}}},
		{"devices all allows a whole type", "    devices: [{path: all, type: b}]\n", alpine,
			func(s *specs.Spec) any { return []any{s.Linux.Devices, s.Linux.Resources.Devices} },
			[]any{[]specs.LinuxDevice(nil), []specs.LinuxDeviceCgroup{{Allow: true, Type: "b", Access: "rwm"}}}},
		{"id mappings", "    userns: new\n    uidMappings: [{containerID: 0, hostID: 1000, size: 2}]\n    gidMappings: [{containerID: 0, hostID: 2000, size: 3}]\n", alpine,
			func(s *specs.Spec) any { return [][]specs.LinuxIDMapping{s.Linux.UIDMappings, s.Linux.GIDMappings} },
			[][]specs.LinuxIDMapping{{{ContainerID: 0, HostID: 1000, Size: 2}}, {{ContainerID: 0, HostID: 2000, Size: 3}}}},
		{"the label's sysctl", "    net: new\n", withLabel(alpine, `{"sysctl":{"net.core.somaxconn":"1024"}}`),
			func(s *specs.Spec) any { return s.Linux.Sysctl }, map[string]string{"net.core.somaxconn": "1024"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, _ := translate(t, tt.extra, tt.img)
			if got := tt.got(spec); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestTranslateAnnotations(t *testing.T) {
	onboot := func(extra string) (map[string]string, error) {
		s, _ := mustParse(t, "onboot:\n  - name: x\n    image: alpine\n"+extra)
		spec, _, err := s.OCISpec(s.Onboot[0], alpine, KindOnboot)
		if err != nil {
			return nil, err
		}
		return spec.Annotations, nil
	}
	tests := []struct {
		name  string
		annot func() (map[string]string, error)
		want  map[string]string
	}{
		{"a service gets the default policy", func() (map[string]string, error) {
			spec, _ := translate(t, "", alpine)
			return spec.Annotations, nil
		}, map[string]string{bundle.AnnotationRestart: "always", bundle.AnnotationStopSignal: "SIGTERM", bundle.AnnotationStopTimeout: "10"}},
		{"a service's own policy and annotations", func() (map[string]string, error) {
			spec, _ := translate(t, "    restart: on-failure\n    stopSignal: SIGINT\n    stopTimeout: 3\n    notify: true\n    dependsOn: [db, cache]\n    annotations: {a: b}\n  - {name: db, image: alpine}\n  - {name: cache, image: alpine}\n", alpine)
			return spec.Annotations, nil
		}, map[string]string{"a": "b", bundle.AnnotationRestart: "on-failure", bundle.AnnotationStopSignal: "SIGINT", bundle.AnnotationStopTimeout: "3",
			bundle.AnnotationNotify: "true", bundle.AnnotationDependsOn: "db,cache"}},
		{"the label's policy", func() (map[string]string, error) {
			spec, _ := translate(t, "", withLabel(alpine, `{"restart":"never","stopSignal":"SIGQUIT"}`))
			return spec.Annotations, nil
		}, map[string]string{bundle.AnnotationRestart: "never", bundle.AnnotationStopSignal: "SIGQUIT", bundle.AnnotationStopTimeout: "10"}},
		{"onboot gets stop policy, timeout and required", func() (map[string]string, error) {
			return onboot("    timeout: 30\n    required: true\n")
		}, map[string]string{bundle.AnnotationStopSignal: "SIGTERM", bundle.AnnotationStopTimeout: "10", bundle.AnnotationTimeout: "30", bundle.AnnotationRequired: "true"}},
		{"required false is not written", func() (map[string]string, error) {
			return onboot("    required: false\n")
		}, map[string]string{bundle.AnnotationStopSignal: "SIGTERM", bundle.AnnotationStopTimeout: "10"}},
		{"onshutdown gets only its timeout", func() (map[string]string, error) {
			s, _ := mustParse(t, "onshutdown:\n  - {name: x, image: alpine, timeout: 5}\n")
			spec, _, err := s.OCISpec(s.Onshutdown[0], alpine, KindOnshutdown)
			if err != nil {
				return nil, err
			}
			return spec.Annotations, nil
		}, map[string]string{bundle.AnnotationTimeout: "5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.annot()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestTranslateRuntimeMergesTheLabelsFieldByField(t *testing.T) {
	_, rt := translate(t, "    runtime:\n      mkdir: [/var/lib/svc]\n      bindNS: {net: /run/netns/svc}\n",
		withLabel(alpine, `{"runtime":{"mkdir":["/var/lib/label"],"cgroups":["svc"],"bindNS":{"ipc":"/run/ipc"}}}`))
	want := &bundle.Runtime{
		Cgroups: []string{"svc"},
		Mkdir:   []string{"/var/lib/svc"},
		BindNS:  bundle.Namespaces{Net: "/run/netns/svc", Ipc: "/run/ipc"},
	}
	if !reflect.DeepEqual(rt, want) {
		t.Errorf("got  %+v\nwant %+v", rt, want)
	}
	if _, rt := translate(t, "", alpine); !rt.IsZero() {
		t.Errorf("an entry without runtime must give an empty one, got %+v", rt)
	}
}

func TestTranslateRefusesWhatRuncWouldRefuse(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		img   v1.Config
		kind  string
		want  string
	}{
		{"nothing to run", "", v1.Config{}, KindService, "t.yml:2:5: command: nothing to run"},
		{"hostname without its own uts", "    hostname: box\n", alpine, KindService, "t.yml:4:15: hostname: needs its own UTS namespace (add uts: new)"},
		{"a net sysctl in the host's namespace", "    sysctl: {net.ipv4.ip_forward: \"1\"}\n", alpine, KindService, "sysctl: net.ipv4.ip_forward would change the host's net namespace"},
		{"an ipc sysctl in the host's namespace", "    sysctl: {kernel.shmmax: \"1\"}\n", alpine, KindService, "kernel.shmmax would change the host's ipc namespace"},
		{"a new user namespace without mappings", "    userns: new\n", alpine, KindService, "userns: a new user namespace needs uidMappings and gidMappings"},
		{"a label that is not JSON", "", withLabel(alpine, `{"capabilities": [`), KindService, "image label org.mobyproject.config: label:1:"},
		{"a label with a bad capability", "", withLabel(alpine, `{"capabilities":["CAP_FOO"]}`), KindService, `label:1:18: capabilities[0]: unknown capability "CAP_FOO"`},
		{"a label naming the container", "", withLabel(alpine, `{"name":"x"}`), KindService, "label:1:9: name: cannot be set in the org.mobyproject.config label"},
		{"a label restart policy on onboot", "", withLabel(alpine, `{"restart":"never"}`), KindOnboot, "restart: the image label sets restart, which is not allowed in onboot"},
		{"capabilities.add making all not alone", "    capabilities.add: [CAP_CHOWN]\n", withLabel(alpine, `{"capabilities":["all"]}`), KindService, `capabilities.add: with the image label's capabilities: "all" must be the only entry`},
		{"an unknown kind", "", alpine, "daemon", `kind "daemon" is not onboot, onshutdown or service`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := translateErr(t, tt.extra, tt.img, tt.kind)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got  %v\nwant it to contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "translate svc: ") {
				t.Errorf("the error must name the entry: %v", err)
			}
		})
	}
	t.Run("a uid name without the whole spec", func(t *testing.T) {
		s, _ := mustParse(t, service("    uid: svc\n"))
		_, _, err := OCISpec(s.Services[0], alpine, KindService)
		if err == nil || !strings.Contains(err.Error(), `uid: "svc" names a container, which needs the whole spec`) {
			t.Errorf("got %v", err)
		}
	})
}
