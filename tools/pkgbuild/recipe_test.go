package pkgbuild

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

const goodRecipe = `image: minikit/example
tag: v1
debian:
  - busybox-static
  - libc6=2.36-9+deb12u14
  - linux-image-6.1.0-*-amd64
move:
  - from: /usr/sbin/rngd
    to: /usr/lib/rngd
go:
  - package: ./cmd/example
    path: /usr/bin/example
  - package: ./cmd/pid1
    path: /sbin/init
    cgo: true
    tags: [seccomp]
copy:
  - source: files/run.sh
    path: /usr/bin/run.sh
    mode: "0755"
directories:
  - path: /tmp
    mode: "01777"
symlinks:
  - path: /etc/resolv.conf
    target: /run/resolv.conf
run:
  - package: ./cmd/hook
    args: [a, b]
remove: [/usr/share/foo]
entrypoint: [/usr/bin/example]
cmd: [-v]
env: [A=1]
workdir: /tmp
config:
  pid: host
  capabilities: [CAP_SYS_ADMIN]
`

func TestParseReadsEveryField(t *testing.T) {
	r, err := Parse("recipes/example/build.yml", []byte(goodRecipe))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"ref", r.Ref(), "minikit/example:v1"},
		{"dir", r.Dir, "recipes/example"},
		{"packages", len(r.Debian), 3},
		{"package pattern", r.Debian[2], Package{Name: "linux-image-6.1.0-*-amd64"}},
		{"unpinned package", r.Debian[0], Package{Name: "busybox-static"}},
		{"pinned package", r.Debian[1], Package{Name: "libc6", Version: "2.36-9+deb12u14"}},
		{"usrmerge default", r.UsrMerge, true},
		{"move", r.Move[0], Move{From: "/usr/sbin/rngd", To: "/usr/lib/rngd"}},
		{"go", fmt.Sprint(r.Go[0]), fmt.Sprint(GoProgram{Package: "./cmd/example", Path: "/usr/bin/example"})},
		{"go with cgo", fmt.Sprint(r.Go[1]), fmt.Sprint(GoProgram{Package: "./cmd/pid1", Path: "/sbin/init", Cgo: true, Tags: []string{"seccomp"}})},
		{"copy source is under the recipe", r.Copy[0].Source, "recipes/example/files/run.sh"},
		{"copy mode", r.Copy[0].Mode, os.FileMode(0o755)},
		{"sticky directory", r.Dirs[0].Mode.String(), "dtrwxrwxrwx"[1:]},
		{"symlink", r.Symlinks[0], Symlink{Path: "/etc/resolv.conf", Target: "/run/resolv.conf"}},
		{"hook args", strings.Join(r.Run[0].Args, " "), "a b"},
		{"remove", r.Remove[0], "/usr/share/foo"},
		{"entrypoint", r.Entrypoint[0], "/usr/bin/example"},
		{"workdir", r.Workdir, "/tmp"},
		{"label", r.Config, `{"capabilities":["CAP_SYS_ADMIN"],"pid":"host"}`},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestTagDefaultsToDev(t *testing.T) {
	r, err := Parse("build.yml", []byte("image: minikit/x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Ref() != "minikit/x:dev" {
		t.Errorf("Ref = %s, want minikit/x:dev", r.Ref())
	}
}

func TestParseErrorsSayFileLineAndField(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "image: minikit/x\npackages: [a]\n", `build.yml:2:1: unknown field "packages"`},
		{"no image", "tag: v1\n", "build.yml:1:4: image: is required"},
		{"tag inside image", "image: minikit/x:v1\n", "build.yml:1:8: image: \"minikit/x:v1\" has a tag"},
		{"bad package name", "image: minikit/x\ndebian:\n  - busybox\n  - Bad_Name\n", "build.yml:4:5: debian: \"Bad_Name\" is not a Debian package name"},
		{"pinned pattern", "image: minikit/x\ndebian:\n  - linux-image-*-amd64=6.1\n", "build.yml:3:5: debian: \"linux-image-*-amd64\" is a pattern, which stands for the newest match: it takes no version"},
		{"relative image path", "image: minikit/x\ngo:\n  - package: ./cmd/x\n    path: usr/bin/x\n", "build.yml:4:11: go.path: \"usr/bin/x\" is not absolute"},
		{"bad build tag", "image: minikit/x\ngo:\n  - package: ./cmd/x\n    path: /x\n    tags: [seccomp, \"a b\"]\n", `build.yml:5:21: go.tags: "a b" is not a Go build tag`},
		{"bad link variable", "image: minikit/x\ngo:\n  - package: ./cmd/x\n    path: /x\n    vars:\n      version: v1\n", `go.vars: "version" is not IMPORTPATH.NAME`},
		{"link value with a space", "image: minikit/x\ngo:\n  - package: ./cmd/x\n    path: /x\n    vars:\n      example.com/v.Version: \"v1 beta\"\n", `build.yml:6:30: go.vars: value "v1 beta" is empty or has spaces or quotes`},
		{"missing go path", "image: minikit/x\ngo:\n  - package: ./cmd/x\n", "build.yml:3:12: go.path: is required"},
		{"unquoted mode", "image: minikit/x\ncopy:\n  - source: a\n    path: /a\n    mode: 0755\n", "build.yml:5:11: copy.mode: 0755 is a number: write the mode as a quoted octal string"},
		{"copy from outside the recipe", "image: minikit/x\ncopy:\n  - source: ../secret\n    path: /a\n", "build.yml:3:13: copy.source: \"../secret\" is not a path inside the recipe directory"},
		{"unclean path", "image: minikit/x\nremove: [/usr/share/../lib]\n", "build.yml:2:10: remove: \"/usr/share/../lib\" is not a clean path"},
		{"bad env", "image: minikit/x\nenv: [NOVALUE]\n", "build.yml:2:7: env: \"NOVALUE\" is not VAR=value"},
		{"bad capability in the label", "image: minikit/x\ncmd: [/x]\nconfig:\n  capabilities: [CAP_FLY]\n", `build.yml:4:15: config: translate recipe: image label org.mobyproject.config: label:1:18: capabilities[0]: unknown capability "CAP_FLY"`},
		{"wrong type", "image: minikit/x\ndebian: busybox\n", "build.yml:2:9:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("build.yml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tt.yaml)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tt.want)
			}
		})
	}
}

func TestParseReportsEveryProblemAtOnce(t *testing.T) {
	_, err := Parse("build.yml", []byte("image: minikit/x\ndebian: [Bad]\nremove: [relative]\n"))
	if err == nil || !strings.Contains(err.Error(), "build.yml:2:") || !strings.Contains(err.Error(), "build.yml:3:") {
		t.Fatalf("err = %v, want problems on lines 2 and 3", err)
	}
}

func TestMergedPath(t *testing.T) {
	for in, want := range map[string]string{
		"./bin/sh":        "usr/bin/sh",
		"lib/x86_64/libc": "usr/lib/x86_64/libc",
		"/sbin/init":      "/usr/sbin/init",
		"lib64":           "usr/lib64",
		"etc/passwd":      "etc/passwd",
		"usr/bin/env":     "usr/bin/env",
		"library/x":       "library/x",
	} {
		if got := mergedPath(in); got != want {
			t.Errorf("mergedPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseURILine(t *testing.T) {
	d, err := parseURILine("'http://deb.example/pool/b/busybox-static_1%3a1.35.0-4_amd64.deb' busybox-static_1%3a1.35.0-4_amd64.deb 928456 SHA256:" + strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "busybox-static" || d.Version != "1:1.35.0-4" || d.Arch != "amd64" || d.Size != 928456 || d.File != "busybox-static_1%3a1.35.0-4_amd64.deb" {
		t.Errorf("parseURILine = %+v", d)
	}
	if _, err := parseURILine("'http://x/y.deb' y.deb 12 MD5Sum:abc"); err == nil {
		t.Error("a line without SHA256 was accepted")
	}
}

func TestNewestMatchComparesNumbers(t *testing.T) {
	names := []string{
		"linux-image-6.1.0-9-amd64",
		"linux-image-6.1.0-56-amd64",
		"linux-image-6.1.0-10-amd64",
		"linux-image-6.1.0-57-cloud-amd64", // another flavour
		"linux-image-6.1.0-57-amd64-dbg",   // another package
		"linux-image-6.1.0-x-amd64",
		"linux-image-amd64",
	}
	if got := newestMatch("linux-image-6.1.0-*-amd64", names); got != "linux-image-6.1.0-56-amd64" {
		t.Errorf("newestMatch = %q, want linux-image-6.1.0-56-amd64", got)
	}
	if got := newestMatch("libfoo*", names); got != "" {
		t.Errorf("newestMatch of a pattern nothing matches = %q", got)
	}
	for _, c := range []struct{ a, b string }{{"a-9", "a-10"}, {"a-1.2", "a-1.10"}, {"a-09", "a-10"}, {"a", "a-1"}, {"a-1x", "a-1y"}} {
		if !naturalLess(c.a, c.b) || naturalLess(c.b, c.a) {
			t.Errorf("naturalLess: want %s before %s", c.a, c.b)
		}
	}
}
