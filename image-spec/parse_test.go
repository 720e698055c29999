package imagespec

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/minikit/minikit/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func mustParse(t *testing.T, src string) (*Spec, []Warning) {
	t.Helper()
	s, warns, err := Parse("t.yml", []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%v\nof:\n%s", err, src)
	}
	return s, warns
}

func ptr[T any](v T) *T { return &v }

func TestParseReadsEveryContainerField(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		want  func(c *Container) any // what the field holds
		equal any
	}{
		{"capabilities", "    capabilities: [CAP_NET_ADMIN, CAP_SYS_ADMIN]\n", func(c *Container) any { return c.Capabilities }, []string{"CAP_NET_ADMIN", "CAP_SYS_ADMIN"}},
		{"capabilities all in any case", "    capabilities: [ALL]\n", func(c *Container) any { return c.Capabilities }, []string{"ALL"}},
		{"capabilities.add", "    capabilities.add: [CAP_CHOWN]\n", func(c *Container) any { return c.CapabilitiesAdd }, []string{"CAP_CHOWN"}},
		{"an empty list is given, not absent", "    capabilities: []\n", func(c *Container) any { return c.Capabilities }, []string{}},
		{"an absent list is nil", "", func(c *Container) any { return c.Capabilities }, []string(nil)},
		{"ambient", "    ambient: [CAP_NET_BIND_SERVICE]\n", func(c *Container) any { return c.Ambient }, []string{"CAP_NET_BIND_SERVICE"}},
		{"command", "    command: [\"/bin/sh\", \"-c\", \"echo hi\"]\n", func(c *Container) any { return c.Command }, []string{"/bin/sh", "-c", "echo hi"}},
		{"env", "    env:\n      - A=1\n      - B=\n", func(c *Container) any { return c.Env }, []string{"A=1", "B="}},
		{"cwd", "    cwd: /srv\n", func(c *Container) any { return c.Cwd }, "/srv"},
		{"binds with a volume", "    binds: [\"/etc:/etc:ro\", \"v:/data\"]\nvolumes:\n  - name: v\n", func(c *Container) any { return c.Binds }, []string{"/etc:/etc:ro", "v:/data"}},
		{"binds.add", "    binds.add: [/var:/var]\n", func(c *Container) any { return c.BindsAdd }, []string{"/var:/var"}},
		{"mounts with a type only", "    mounts:\n      - type: cgroup\n        options: [rw]\n", func(c *Container) any { return c.Mounts }, []specs.Mount{{Type: "cgroup", Options: []string{"rw"}}}},
		{"tmpfs", "    tmpfs: [\"/run:size=1m,mode=755\"]\n", func(c *Container) any { return c.Tmpfs }, []string{"/run:size=1m,mode=755"}},
		{"devices", "    devices:\n      - {path: /dev/fuse, type: c, major: 10, minor: 229, mode: \"0666\"}\n", func(c *Container) any { return c.Devices }, []Device{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, Mode: "0666"}}},
		{"net new", "    net: new\n", func(c *Container) any { return c.Net }, "new"},
		{"net none", "    net: none\n", func(c *Container) any { return c.Net }, "none"},
		{"net path", "    net: /run/netns/wg0\n", func(c *Container) any { return c.Net }, "/run/netns/wg0"},
		{"pid host", "    pid: host\n", func(c *Container) any { return c.Pid }, "host"},
		{"ipc new", "    ipc: new\n", func(c *Container) any { return c.Ipc }, "new"},
		{"uts root, LinuxKit's host", "    uts: root\n", func(c *Container) any { return c.Uts }, "root"},
		{"userns", "    userns: new\n", func(c *Container) any { return c.Userns }, "new"},
		{"hostname", "    hostname: box\n", func(c *Container) any { return c.Hostname }, "box"},
		{"readonly", "    readonly: true\n", func(c *Container) any { return c.Readonly }, ptr(true)},
		{"readonly false is given", "    readonly: false\n", func(c *Container) any { return c.Readonly }, ptr(false)},
		{"maskedPaths", "    maskedPaths: [/proc/kcore]\n", func(c *Container) any { return c.MaskedPaths }, []string{"/proc/kcore"}},
		{"readonlyPaths", "    readonlyPaths: [/proc/sys]\n", func(c *Container) any { return c.ReadonlyPaths }, []string{"/proc/sys"}},
		{"uid as a number", "    uid: 1000\n", func(c *Container) any { return c.UID }, &ID{Num: 1000}},
		{"uid as root", "    uid: root\n", func(c *Container) any { return c.UID }, &ID{Name: "root"}},
		{"uid as a container name", "    uid: svc\n", func(c *Container) any { return c.UID }, &ID{Name: "svc"}},
		{"gid quoted number is a name", "    gid: \"svc\"\n", func(c *Container) any { return c.GID }, &ID{Name: "svc"}},
		{"additionalGids", "    additionalGids: [10, svc]\n", func(c *Container) any { return c.AdditionalGids }, []ID{{Num: 10}, {Name: "svc"}}},
		{"noNewPrivileges", "    noNewPrivileges: true\n", func(c *Container) any { return c.NoNewPrivileges }, ptr(true)},
		{"oomScoreAdj", "    oomScoreAdj: -500\n", func(c *Container) any { return c.OOMScoreAdj }, ptr(-500)},
		{"rootfsPropagation", "    rootfsPropagation: shared\n", func(c *Container) any { return c.RootfsPropagation }, "shared"},
		{"cgroupsPath", "    cgroupsPath: /minikit/svc\n", func(c *Container) any { return c.CgroupsPath }, "/minikit/svc"},
		{"resources", "    resources:\n      memory: {limit: 1048576, disableOOMKiller: true}\n      pids: {limit: 64}\n      cpu: {shares: 512, cpus: \"0-1\"}\n      hugepageLimits: [{pageSize: 2MB, limit: 0}]\n      unified: {memory.high: \"1M\"}\n",
			func(c *Container) any { return c.Resources },
			&specs.LinuxResources{
				Memory:         &specs.LinuxMemory{Limit: ptr(int64(1048576)), DisableOOMKiller: ptr(true)},
				Pids:           &specs.LinuxPids{Limit: ptr(int64(64))},
				CPU:            &specs.LinuxCPU{Shares: ptr(uint64(512)), Cpus: "0-1"},
				HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB"}},
				Unified:        map[string]string{"memory.high": "1M"},
			}},
		{"sysctl", "    sysctl:\n      net.ipv4.ip_forward: \"1\"\n      kernel.shmmax: \"4096\"\n", func(c *Container) any { return c.Sysctl }, map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "4096"}},
		{"rlimits", "    rlimits: [\"nofile,1024,4096\", \"RLIMIT_CORE,unlimited,unlimited\"]\n", func(c *Container) any { return c.Rlimits }, []string{"nofile,1024,4096", "RLIMIT_CORE,unlimited,unlimited"}},
		{"uidMappings", "    uidMappings: [{containerID: 0, hostID: 100000, size: 65536}]\n", func(c *Container) any { return c.UIDMappings }, []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}},
		{"annotations", "    annotations: {com.example.role: web}\n", func(c *Container) any { return c.Annotations }, map[string]string{"com.example.role": "web"}},
		{"runtime", "    runtime:\n      cgroups: [svc]\n      mkdir: [/var/lib/svc]\n      mounts: [{type: bind, source: /a, destination: rel, options: [rbind]}]\n      interfaces: [{name: veth0, add: veth, peer: veth1, createInRoot: true}]\n      bindNS: {net: /run/netns/svc}\n      namespace: ns\n",
			func(c *Container) any { return c.Runtime },
			&bundle.Runtime{
				Cgroups:    []string{"svc"},
				Mkdir:      []string{"/var/lib/svc"},
				Mounts:     []bundle.Mount{{Type: "bind", Source: "/a", Destination: "rel", Options: []string{"rbind"}}},
				Interfaces: []bundle.Interface{{Name: "veth0", Add: "veth", Peer: "veth1", CreateInRoot: true}},
				BindNS:     bundle.Namespaces{Net: "/run/netns/svc"},
				Namespace:  "ns",
			}},
		{"restart", "    restart: on-failure\n", func(c *Container) any { return c.Restart }, "on-failure"},
		{"stopSignal is normalised", "    stopSignal: hup\n", func(c *Container) any { return c.StopSignal }, "SIGHUP"},
		{"stopSignal real-time", "    stopSignal: SIGRTMIN+3\n", func(c *Container) any { return c.StopSignal }, "SIGRTMIN+3"},
		{"stopTimeout", "    stopTimeout: 30\n", func(c *Container) any { return c.StopTimeout }, ptr(30)},
		{"notify", "    notify: true\n", func(c *Container) any { return c.Notify }, ptr(true)},
		{"dependsOn", "    dependsOn: [db]\n  - name: db\n    image: postgres:16\n", func(c *Container) any { return c.DependsOn }, []string{"db"}},
		{"an anchor reused with an alias", "    env: &env [A=1]\n  - name: two\n    image: alpine\n    env: *env\n", func(c *Container) any { return c.Env }, []string{"A=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := mustParse(t, service(tt.extra))
			if got := tt.want(s.Services[0]); !reflect.DeepEqual(got, tt.equal) {
				t.Errorf("got  %#v\nwant %#v", got, tt.equal)
			}
		})
	}
}

func TestParseReadsOnbootExtensions(t *testing.T) {
	s, _ := mustParse(t, "onboot:\n  - name: format\n    image: linuxkit/format:v1\n    timeout: 60\n    required: true\n    stopSignal: INT\n    stopTimeout: 3\nonshutdown:\n  - name: bye\n    image: busybox\n    timeout: 5\n")
	c := s.Onboot[0]
	if *c.Timeout != 60 || !*c.Required || c.StopSignal != "SIGINT" || *c.StopTimeout != 3 {
		t.Errorf("onboot extensions not read: %+v", c)
	}
	if *s.Onshutdown[0].Timeout != 5 {
		t.Errorf("onshutdown timeout not read: %+v", s.Onshutdown[0])
	}
}

func TestParseMergeKeyFillsMissingKeys(t *testing.T) {
	s, _ := mustParse(t, `services:
  - &base
    name: base
    image: alpine:3.20
    net: host
  - <<: *base
    name: a
    net: new
`)
	c := s.Services[1]
	if c.Image != "alpine:3.20" || c.Net != "new" {
		t.Errorf("merge key: got image %q net %q, want alpine:3.20 and the entry's own net", c.Image, c.Net)
	}
}

func TestParseReadsTopLevelSections(t *testing.T) {
	s, warns := mustParse(t, `kernel:
  image: linuxkit/kernel:6.12.59
  cmdline: "console=ttyS0"
  tar: none
  ucode: intel-ucode.cpio
  modules: [virtio_net, nf_tables]
  coldplug: [e1000, virtio-blk]
init:
  - linuxkit/init:v1
onboot:
onshutdown: []
files:
  - path: /etc/motd
    contents: ""
  - path: var/lib
    directory: true
  - path: etc/localtime
    symlink: /usr/share/zoneinfo/UTC
    uid: 1
    gid: root
  - path: etc/id
    source: ~/.ssh/id.pub
    optional: true
    mode: "0644"
  - path: etc/linuxkit.yml
    metadata: yaml
volumes:
  - name: data
    image: alpine:3.20
    readonly: true
    format: oci
    platforms: [linux/amd64, linux/arm64/v8]
trust:
  org: [linuxkit]
`)
	want := Kernel{Image: "linuxkit/kernel:6.12.59", Cmdline: "console=ttyS0", Tar: "none", UCode: "intel-ucode.cpio", Modules: []string{"virtio_net", "nf_tables"},
		Coldplug: []string{"e1000", "virtio-blk"}}
	if !reflect.DeepEqual(s.Kernel, want) {
		t.Errorf("kernel: got %+v, want %+v", s.Kernel, want)
	}
	if s.Kernel.TarName() != "" || s.Kernel.BinaryName() != "kernel" {
		t.Errorf("kernel defaults: tar %q binary %q", s.Kernel.TarName(), s.Kernel.BinaryName())
	}
	if !reflect.DeepEqual(s.Init, []string{"linuxkit/init:v1"}) || len(s.Onboot) != 0 || len(s.Onshutdown) != 0 {
		t.Errorf("init/onboot/onshutdown: %v %v %v", s.Init, s.Onboot, s.Onshutdown)
	}
	if len(s.Files) != 5 || s.Files[0].Contents == nil || *s.Files[0].Contents != "" || !s.Files[1].Directory ||
		s.Files[2].Symlink == "" || *s.Files[2].UID != (ID{Num: 1}) || *s.Files[2].GID != (ID{Name: "root"}) ||
		!s.Files[3].Optional || s.Files[3].Mode != "0644" || s.Files[4].Metadata != "yaml" {
		t.Errorf("files not read as written: %+v", s.Files)
	}
	wantVol := Volume{Name: "data", Image: "alpine:3.20", Readonly: true, Format: "oci", Platforms: []string{"linux/amd64", "linux/arm64/v8"}}
	if got := s.Volumes[0]; !reflect.DeepEqual(got.Platforms, wantVol.Platforms) || got.Name != wantVol.Name || got.Image != wantVol.Image || !got.Readonly || got.Format != "oci" {
		t.Errorf("volume: got %+v, want %+v", got, wantVol)
	}
	if len(warns) != 1 || !strings.HasPrefix(warns[0].String(), "t.yml:33:1: trust: unused") {
		t.Errorf("want one warning that trust is unused, got %v", warns)
	}
}

func TestParseWarnsWhenAnAddFormIsOverridden(t *testing.T) {
	_, warns := mustParse(t, service("    binds: [/a:/a]\n    binds.add: [/b:/b]\n    capabilities: [CAP_KILL]\n    capabilities.add: [CAP_CHOWN]\n"))
	want := []string{
		"t.yml:5:5: services[0].binds.add: ignored: binds is given too",
		"t.yml:7:5: services[0].capabilities.add: ignored: capabilities is given too",
	}
	if len(warns) != len(want) {
		t.Fatalf("got %v, want %d warnings", warns, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(warns[i].String(), w) {
			t.Errorf("got %s, want %s…", warns[i], w)
		}
	}
}

func TestFileModeDefaults(t *testing.T) {
	tests := []struct {
		name string
		file File
		want os.FileMode
	}{
		{"a file defaults to 0600", File{Path: "f"}, 0o600},
		{"a directory defaults to 0700", File{Path: "d", Directory: true}, 0o700},
		{"a given mode wins", File{Path: "f", Mode: "0644"}, 0o644},
		{"setuid and sticky bits", File{Path: "f", Mode: "5755"}, 0o755 | os.ModeSetuid | os.ModeSticky},
		{"setgid", File{Path: "f", Mode: "2750"}, 0o750 | os.ModeSetgid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.file.FileMode(); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIDsCountFromOnbootThroughServices(t *testing.T) {
	s, _ := mustParse(t, "onboot:\n  - {name: a, image: alpine}\nonshutdown:\n  - {name: b, image: alpine}\nservices:\n  - {name: c, image: alpine}\n  - {name: d, image: alpine}\n")
	want := map[string]uint32{"a": 100, "b": 101, "c": 102, "d": 103}
	if got := s.IDs(); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseFilesMergesInOrder(t *testing.T) {
	dir := t.TempDir()
	base := writeFile(t, dir, "base.yml", `kernel:
  image: linuxkit/kernel:6.6
  cmdline: console=ttyS0
  modules: [a]
init: [linuxkit/init:v1]
onboot:
  - {name: sysctl, image: linuxkit/sysctl:v1}
services:
  - {name: getty, image: linuxkit/getty:v1}
files:
  - {path: etc/a, contents: a}
`)
	extra := writeFile(t, dir, "extra.yml", `kernel:
  image: linuxkit/kernel:6.12
init: [linuxkit/runc:v1]
onboot:
  - {name: dhcpcd, image: linuxkit/dhcpcd:v1}
services:
  - {name: sshd, image: linuxkit/sshd:v1, dependsOn: [getty]}
files:
  - {path: etc/b, contents: b}
volumes:
  - name: v
`)
	s, _, err := ParseFiles(base, extra)
	if err != nil {
		t.Fatal(err)
	}
	if s.Kernel.Image != "linuxkit/kernel:6.12" || s.Kernel.Cmdline != "console=ttyS0" || !reflect.DeepEqual(s.Kernel.Modules, []string{"a"}) {
		t.Errorf("kernel: the later image must replace, other fields stay: %+v", s.Kernel)
	}
	names := func(cs []*Container) (out []string) {
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	if got := names(s.Onboot); !reflect.DeepEqual(got, []string{"sysctl", "dhcpcd"}) {
		t.Errorf("onboot: got %v", got)
	}
	if got := names(s.Services); !reflect.DeepEqual(got, []string{"getty", "sshd"}) {
		t.Errorf("services: got %v", got)
	}
	if !reflect.DeepEqual(s.Init, []string{"linuxkit/init:v1", "linuxkit/runc:v1"}) || len(s.Files) != 2 || len(s.Volumes) != 1 {
		t.Errorf("init %v, %d files, %d volumes", s.Init, len(s.Files), len(s.Volumes))
	}
}

func TestParseFilesReportsEveryFilesErrorsAndTheMergedSpecs(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.yml", "services:\n  - {name: web, image: nginx, net: bridge}\n")
	b := writeFile(t, dir, "b.yml", "services:\n  - {name: web, image: nginx}\n  - {name: x, image: \"\"}\n")
	_, _, err := ParseFiles(a, b, filepath.Join(dir, "missing.yml"))
	if err == nil {
		t.Fatal("no error")
	}
	got := err.Error()
	for _, want := range []string{
		a + `:2:36: services[0].net: "bridge" is not a namespace`,
		b + `:2:12: services[0].name: duplicate service name "web" (first at ` + a + ":2:12",
		b + `:3:22: services[1].image: is empty`,
		filepath.Join(dir, "missing.yml") + ": cannot read",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if lines := strings.Count(got, "\n") + 1; lines != 4 {
		t.Errorf("got %d errors, want 4:\n%s", lines, got)
	}
	if i, j := strings.Index(got, a+":"), strings.Index(got, b+":"); i > j {
		t.Errorf("errors must come in file order:\n%s", got)
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	src := service(`    capabilities: [CAP_NET_ADMIN]
    uid: svc
    additionalGids: [10, svc]
    binds: ["/a:/a:ro"]
    restart: never
    dependsOn: [db]
  - name: db
    image: postgres:16
    resources:
      memory: {limit: 1024}
files:
  - path: etc/x
    contents: |
      line one
      line two
    mode: "0644"
`)
	s, _ := mustParse(t, src)
	out, err := s.YAML()
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := Parse("again.yml", out)
	if err != nil {
		t.Fatalf("the written spec does not parse:\n%v\n%s", err, out)
	}
	out2, _ := again.YAML()
	if string(out) != string(out2) {
		t.Errorf("writing the spec again differs:\n%s\n---\n%s", out, out2)
	}
	if *again.Services[0].UID != (ID{Name: "svc"}) || *again.Files[0].Contents != "line one\nline two\n" {
		t.Errorf("values changed in the round trip:\n%s", out)
	}
}
