package imagespec

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// service is a spec with one service whose extra keys are given, indented
// by the caller as they sit under the entry (four spaces). The extra lines
// start on line 4, column 5.
func service(extra string) string {
	return "services:\n  - name: svc\n    image: alpine:3.20\n" + extra
}

// parseErrors parses src as t.yml and returns its errors, failing the test
// when there are none.
func parseErrors(t *testing.T, src string) Errors {
	t.Helper()
	_, _, err := Parse("t.yml", []byte(src))
	if err == nil {
		t.Fatalf("no error for:\n%s", src)
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error is %T, not Errors: %v", err, err)
	}
	return errs
}

// laughs is a spec whose merge keys double at each of n levels.
func laughs(n int) string {
	var b strings.Builder
	b.WriteString("services:\n  - &a0 {name: a, image: b}\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "  - &a%d {<<: [*a%d, *a%d], name: x%d}\n", i, i-1, i-1, i)
	}
	return b.String()
}

func TestParseReportsEachMistakeWithItsPosition(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // the one error, as "LINE:COL: field: message" (message may be cut short)
	}{
		// structure
		{"invalid YAML", "services: [\n", "1:11: invalid YAML"},
		{"a second document", "init: [alpine]\n---\ninit: [alpine]\n", "3:1: a second YAML document"},
		{"top level is not a mapping", "- a\n- b\n", "1:1: expected a mapping of keys to values, found a list"},
		{"unknown top-level key, with the nearest", "kernal:\n  image: k:1\n", `1:1: kernal: unknown key (did you mean "kernel"?`},
		{"unknown entry key, with the nearest", service("    capabilites: [CAP_CHOWN]\n"), `4:5: services[0].capabilites: unknown key (did you mean "capabilities"?`},
		{"duplicate key", service("    env: [A=1]\n    env: [B=2]\n"), "5:5: services[0].env: duplicate key (first given at line 4)"},
		{"brackets nested too deep", "services: " + strings.Repeat("[", 5000), "1:1011: brackets nested more than 1000 deep"},
		{"aliases that grow exponentially", laughs(30), "3:15: services[12]: aliases expand to more than 10000 values"},
		{"alias to no anchor", service("    env: *nothing\n"), "4:10: services[0].env: alias *nothing refers to no anchor &nothing defined before it"},

		// types
		{"string where a list is expected", service("    command: /bin/sh\n"), `4:14: services[0].command: expected a list of strings, found a string`},
		{"number where a string is expected", service("    cwd: 1\n"), `4:10: services[0].cwd: expected a string, found a number (quote it: "1")`},
		{"string where a boolean is expected", service("    readonly: yes\n"), "4:15: services[0].readonly: expected true or false, found a string"},
		{"nothing where a string is expected", service("    cwd:\n"), "4:5: services[0].cwd: expected a string, found nothing"},
		{"mapping where a list item string is expected", service("    env:\n      - A: 1\n"), "5:10: services[0].env[0]: expected a single value, found a mapping"},
		{"number out of range", service("    oomScoreAdj: 2000\n"), "4:18: services[0].oomScoreAdj: 2000 is out of range (-1000 to 1000)"},
		{"negative uid", service("    uid: -1\n"), "4:10: services[0].uid: -1 is out of range (0 to 4294967295)"},

		// names and images
		{"missing name", "services:\n  - image: alpine\n", "2:5: services[0].name: is missing"},
		{"missing image", "services:\n  - name: svc\n", "2:5: services[0].image: is missing"},
		{"empty image", "services:\n  - name: svc\n    image: \"\"\n", "3:12: services[0].image: is empty"},
		{"bad image reference", "services:\n  - name: svc\n    image: \"alpine:bad tag\"\n", `3:12: services[0].image: "alpine:bad tag" is not an image reference`},
		{"bad name", "services:\n  - name: My.Service\n    image: alpine\n", `2:11: services[0].name: "My.Service" is not a valid name`},
		{"duplicate service names", service("  - name: svc\n    image: alpine\n"), `4:11: services[1].name: duplicate service name "svc" (first at t.yml:2:11`},
		{"bad init reference", "init:\n  - \"Not A Ref\"\n", `2:5: init[0]: "Not A Ref" is not an image reference`},

		// capabilities
		{"unknown capability", service("    capabilities: [CAP_CHOWN, CAP_FLY]\n"), `4:31: services[0].capabilities[1]: unknown capability "CAP_FLY"`},
		{"capability in lower case", service("    capabilities: [net_admin]\n"), `4:20: services[0].capabilities[0]: unknown capability "net_admin" (did you mean CAP_NET_ADMIN?`},
		{"all beside other capabilities", service("    capabilities.add: [CAP_CHOWN, all]\n"), `4:35: services[0].capabilities.add[1]: "all" must be the only entry`},
		{"bad ambient capability", service("    ambient: [CAP_NOPE]\n"), `4:15: services[0].ambient[0]: unknown capability "CAP_NOPE"`},

		// binds, mounts, tmpfs
		{"bind without destination", service("    binds: [/etc]\n"), `4:13: services[0].binds[0]: "/etc" has no destination`},
		{"bind with too many colons", service("    binds: [\"/a:/b:ro:x\"]\n"), `4:13: services[0].binds[0]: "/a:/b:ro:x" has too many ':'`},
		{"bind to a relative destination", service("    binds: [\"/a:b\"]\n"), `4:13: services[0].binds[0]: destination "b" is not an absolute path`},
		{"bind with a mistyped option", service("    binds.add: [\"/a:/a:rshard\"]\n"), `4:17: services[0].binds.add[0]: unknown option "rshard"`},
		{"bind from a relative source", service("    binds: [\"./a:/a\"]\n"), `4:13: services[0].binds[0]: source "./a" is neither an absolute path nor a volume name`},
		{"bind from an unknown volume", service("    binds: [\"/x:/x\", \"data:/data\"]\n"), `4:22: services[0].binds[1]: "data" is neither an absolute path nor a volume of this spec`},
		{"read-only volume bound read-write", service("    binds: [\"data:/data\"]\nvolumes:\n  - name: data\n    readonly: true\n"), `4:13: services[0].binds[0]: volume "data" is read-only, so it must be bound with the ro option`},
		{"mount whose type cannot be inferred", service("    mounts:\n      - destination: /x\n"), "5:9: services[0].mounts[0]: type is missing and cannot be inferred"},
		{"bind mount without destination", service("    mounts:\n      - type: bind\n        source: /x\n"), "5:9: services[0].mounts[0]: destination is missing"},
		{"mount with an unknown key", service("    mounts:\n      - type: proc\n        dest: /proc\n"), `6:9: services[0].mounts[0].dest: unknown key (did you mean "destination"?`},
		{"tmpfs at a relative path", service("    tmpfs: [tmp]\n"), `4:13: services[0].tmpfs[0]: destination "tmp" is not an absolute path`},
		{"tmpfs with too many colons", service("    tmpfs: [\"/t:size=1m:x\"]\n"), `4:13: services[0].tmpfs[0]: "/t:size=1m:x" has too many ':'`},
		{"tmpfs with an unknown flag", service("    tmpfs: [\"/t:nosiud\"]\n"), `4:13: services[0].tmpfs[0]: unknown option "nosiud"`},

		// namespaces
		{"net that is no namespace", service("    net: bridge\n"), `4:10: services[0].net: "bridge" is not a namespace (allowed: host, new, none or an absolute path`},
		{"pid none", service("    pid: none\n"), `4:10: services[0].pid: "none" is not a namespace (allowed: host, new or an absolute path`},
		{"ipc at a relative path", service("    ipc: run/ipc\n"), `4:10: services[0].ipc: "run/ipc" is not a namespace`},
		{"uts with a typo", service("    uts: nwe\n"), `4:10: services[0].uts: "nwe" is not a namespace`},

		// other container fields
		{"env without =", service("    env: [DEBUG]\n"), `4:11: services[0].env[0]: "DEBUG" is not VAR=value`},
		{"relative cwd", service("    cwd: srv\n"), `4:10: services[0].cwd: "srv" is not an absolute path`},
		{"relative masked path", service("    maskedPaths: [proc/kcore]\n"), `4:19: services[0].maskedPaths[0]: "proc/kcore" is not an absolute path`},
		{"unknown propagation", service("    rootfsPropagation: sharde\n"), `4:24: services[0].rootfsPropagation: "sharde" is not a propagation`},
		{"sysctl that is not namespaced", service("    sysctl:\n      vm.swappiness: \"10\"\n"), `5:7: services[0].sysctl[vm.swappiness]: "vm.swappiness" is not a namespaced sysctl`},
		{"sysctl that is no name", service("    sysctl:\n      \"net ipv4\": \"1\"\n"), `5:7: services[0].sysctl[net ipv4]: "net ipv4" is not a sysctl name`},
		{"sysctl value that is a number", service("    sysctl:\n      net.ipv4.ip_forward: 1\n"), `5:28: services[0].sysctl[net.ipv4.ip_forward]: expected a string, found a number (quote it: "1")`},
		{"rlimit without hard limit", service("    rlimits: [\"nofile,1024\"]\n"), `4:15: services[0].rlimits[0]: "nofile,1024" is not name,soft,hard`},
		{"unknown rlimit", service("    rlimits: [\"files,1,2\"]\n"), `4:15: services[0].rlimits[0]: unknown limit "files"`},
		{"rlimit soft above hard", service("    rlimits: [\"nofile,2048,1024\"]\n"), `4:15: services[0].rlimits[0]: soft limit 2048 is above hard limit 1024`},
		{"rlimit that is no number", service("    rlimits: [\"nofile,lots,unlimited\"]\n"), `4:15: services[0].rlimits[0]: "lots" is not a limit`},
		{"reserved annotation", service("    annotations:\n      org.minikit.restart: never\n"), "5:7: services[0].annotations[org.minikit.restart]: annotations under org.minikit. are minikit's own"},
		{"device without mode", service("    devices:\n      - {path: /dev/fuse, type: c, major: 10, minor: 229}\n"), "5:10: services[0].devices[0].mode: is missing"},
		{"device of unknown type", service("    devices:\n      - {path: /dev/x, type: z, major: 1, minor: 1, mode: \"0600\"}\n"), `5:10: services[0].devices[0].type: "z" is not a device type`},
		{"id mapping without size", service("    uidMappings:\n      - {containerID: 0, hostID: 1000}\n"), "5:10: services[0].uidMappings[0]: needs containerID, hostID and size"},
		{"unknown resources key", service("    resources:\n      memory:\n        limt: 1\n"), `6:9: services[0].resources.memory.limt: unknown key (did you mean "limit"?`},
		{"swappiness out of range", service("    resources:\n      memory:\n        swappiness: 200\n"), "6:21: services[0].resources.memory.swappiness: 200 is out of range (0 to 100)"},
		{"uid naming no container", service("    uid: nobody\n"), `4:10: services[0].uid: "nobody" is neither a number, root, nor the name of a container`},
		{"hostname with a space", service("    hostname: my host\n"), `4:15: services[0].hostname: "my host" is not a host name`},

		// runtime
		{"runtime key LinuxKit dropped", service("    runtime:\n      noRestart: true\n"), `5:7: services[0].runtime.noRestart: unknown key`},
		{"veth without peer", service("    runtime:\n      interfaces:\n        - {name: veth0, add: veth}\n"), "6:12: services[0].runtime.interfaces[0].peer: is missing"},
		{"peer on another kind of link", service("    runtime:\n      interfaces:\n        - {name: eth1, add: dummy, peer: eth2}\n"), "6:12: services[0].runtime.interfaces[0].peer: only a veth pair has a peer"},
		{"interface without name", service("    runtime:\n      interfaces:\n        - add: dummy\n"), "6:11: services[0].runtime.interfaces[0].name: is missing"},
		{"namespace bound to a relative path", service("    runtime:\n      bindNS:\n        net: run/netns/x\n"), `6:14: services[0].runtime.bindNS.net: "run/netns/x" is not an absolute path`},
		{"relative mkdir", service("    runtime:\n      mkdir: [var/lib/x]\n"), `5:15: services[0].runtime.mkdir[0]: "var/lib/x" is not an absolute path`},

		// extensions
		{"restart in onboot", "onboot:\n  - name: x\n    image: alpine\n    restart: always\n", "4:14: onboot[0].restart: not allowed in onboot (allowed in services)"},
		{"unknown restart policy", service("    restart: sometimes\n"), `4:14: services[0].restart: "sometimes" is not a restart policy (allowed: always, on-failure or never)`},
		{"unknown stop signal", service("    stopSignal: SIGSTAHP\n"), `4:17: services[0].stopSignal: "SIGSTAHP" is not a signal`},
		{"negative stop timeout", service("    stopTimeout: -5\n"), "4:18: services[0].stopTimeout: -5 is out of range (0 to 86400)"},
		{"timeout in services", service("    timeout: 5\n"), "4:14: services[0].timeout: not allowed in services (allowed in onboot or onshutdown)"},
		{"zero timeout", "onboot:\n  - name: x\n    image: alpine\n    timeout: 0\n", "4:14: onboot[0].timeout: 0 is out of range (1 to 86400)"},
		{"required in onshutdown", "onshutdown:\n  - name: x\n    image: alpine\n    required: true\n", "4:15: onshutdown[0].required: not allowed in onshutdown (allowed in onboot)"},
		{"dependsOn in onboot", "onboot:\n  - name: x\n    image: alpine\n    dependsOn: [y]\n", "4:16: onboot[0].dependsOn: not allowed in onboot (allowed in services)"},
		{"dependency on an unknown service", service("    dependsOn: [db]\n"), `4:17: services[0].dependsOn[0]: "db" is not a service in this spec (allowed: svc)`},
		{"dependency on itself", service("    dependsOn: [svc]\n"), "4:17: services[0].dependsOn[0]: a service cannot depend on itself"},
		{"dependency cycle", service("    dependsOn: [b]\n  - name: b\n    image: alpine\n    dependsOn: [svc]\n"), "4:16: services[0].dependsOn: dependency cycle: svc → b → svc"},

		// kernel, files, volumes
		{"coldplug module given as a file", "kernel:\n  image: k:1\n  coldplug: [e1000.ko]\n", `3:14: kernel.coldplug[0]: "e1000.ko" is a file, not a module name`},
		{"module given as a file", "kernel:\n  image: k:1\n  modules: [drivers/net/virtio_net.ko]\n", `3:13: kernel.modules[0]: "drivers/net/virtio_net.ko" is a file, not a module name (write it as modprobe would: virtio_net)`},
		{"file mode as a number", "files:\n  - path: etc/x\n    contents: x\n    mode: 0644\n", `4:11: files[0].mode: expected a string, found a number (quote it: "0644")`},
		{"file mode not octal", "files:\n  - path: etc/x\n    contents: x\n    mode: \"0944\"\n", `4:11: files[0].mode: "0944" is not an octal mode`},
		{"file without content", "files:\n  - path: etc/x\n", "2:5: files[0].contents: the file has no content"},
		{"file with two contents", "files:\n  - path: etc/x\n    contents: x\n    source: /tmp/x\n", "4:5: files[0].source: contents and source cannot both be given"},
		{"file without path", "files:\n  - contents: x\n", "2:5: files[0].path: is missing"},
		{"file escaping the root", "files:\n  - path: ../etc/x\n    contents: x\n", `2:5: files[0].path: "../etc/x" leaves the root filesystem`},
		{"unknown metadata format", "files:\n  - path: etc/x\n    metadata: toml\n", `3:5: files[0].metadata: "toml" is not a metadata format (allowed: yaml or json)`},
		{"file owned by no container", "files:\n  - path: etc/x\n    contents: x\n    uid: sshd\n", `2:5: files[0].uid: "sshd" is neither a number, root, nor the name of a container`},
		{"volume without name", "volumes:\n  - image: alpine\n", "2:5: volumes[0].name: is missing"},
		{"duplicate volume", "volumes:\n  - name: v\n  - name: v\n", `3:5: volumes[1].name: duplicate volume name "v" (first at t.yml:2:5)`},
		{"bad volume name", "volumes:\n  - name: My_Vol\n", `2:11: volumes[0].name: "My_Vol" is not a volume name`},
		{"unknown volume format", "volumes:\n  - name: v\n    format: qcow2\n", `3:13: volumes[0].format: "qcow2" is not a volume format (allowed: filesystem or oci)`},
		{"bad platform", "volumes:\n  - name: v\n    platforms: [amd64]\n", `3:17: volumes[0].platforms[0]: "amd64" is not a platform`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := parseErrors(t, tt.src)
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1:\n%v", len(errs), errs)
			}
			if got := errs[0].Error(); !strings.HasPrefix(got, "t.yml:"+tt.want) {
				t.Errorf("got  %s\nwant t.yml:%s…", got, tt.want)
			}
		})
	}
}

// A spec with five different mistakes gives five precise errors in one
// run, in the order they appear in the file.
func TestFiveMistakesGiveFiveErrors(t *testing.T) {
	src := `kernel:
  image: linuxkit/kernel:6.12.59
  cmdlin: "console=ttyS0"
services:
  - name: getty
    image: linuxkit/getty:v1
    capabilities: [CAP_SYS_ADMN]
    binds:
      - /etc/getty:/etc/getty:ro
      - /var/log
  - name: sshd
    image: linuxkit/sshd:v1
    net: bridged
files:
  - path: etc/motd
    contents: "hello"
    mode: 644
`
	errs := parseErrors(t, src)
	want := []string{
		`t.yml:3:3: kernel.cmdlin: unknown key (did you mean "cmdline"?`,
		`t.yml:7:20: services[0].capabilities[0]: unknown capability "CAP_SYS_ADMN"`,
		`t.yml:10:9: services[0].binds[1]: "/var/log" has no destination`,
		`t.yml:13:10: services[1].net: "bridged" is not a namespace`,
		`t.yml:17:11: files[0].mode: expected a string, found a number (quote it: "644")`,
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("error %d:\n got  %s\n want %s…", i, errs[i], w)
		}
	}
	if lines := strings.Split(errs.Error(), "\n"); len(lines) != 5 {
		t.Errorf("Error() has %d lines, want one a problem:\n%s", len(lines), errs.Error())
	}
}
