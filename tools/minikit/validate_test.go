package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeSpec(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := writeSpec(t, dir, "good.yml", "services:\n  - name: web\n    image: nginx:1.27\n")
	usesGood := writeSpec(t, dir, "uses.yml", "services:\n  - name: app\n    image: alpine\n    dependsOn: [web]\n")
	trust := writeSpec(t, dir, "trust.yml", "trust:\n  org: [linuxkit]\n")
	bad := writeSpec(t, dir, "bad.yml", "services:\n  - name: web\n    image: nginx\n    net: bridge\n    capabilities: [CAP_FLY]\n")
	tests := []struct {
		name    string
		groups  [][]string
		wantErr string   // "" for success
		stderr  []string // lines expected on stderr, in order
	}{
		{"a good spec prints nothing", [][]string{{good}}, "", nil},
		{"files are merged as build merges them", [][]string{{good, usesGood}}, "", nil},
		{"each file alone misses what another gives", [][]string{{good}, {usesGood}}, "1 problem found",
			[]string{usesGood + `:4:17: services[0].dependsOn[0]: "web" is not a service in this spec`}},
		{"warnings are prefixed and do not fail", [][]string{{trust}}, "",
			[]string{"warning: " + trust + ":1:1: trust: unused"}},
		{"every error is printed, one a line", [][]string{{bad}}, "2 problems found",
			[]string{
				bad + `:4:10: services[0].net: "bridge" is not a namespace`,
				bad + `:5:20: services[0].capabilities[0]: unknown capability "CAP_FLY"`,
			}},
		{"a missing file is a problem", [][]string{{filepath.Join(dir, "nope.yml")}}, "1 problem found",
			[]string{filepath.Join(dir, "nope.yml") + ": cannot read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := validate(&stderr, tt.groups)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error %v; stderr:\n%s", err, stderr.String())
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Fatalf("got error %v, want %q", err, tt.wantErr)
			}
			var lines []string
			if s := strings.TrimSpace(stderr.String()); s != "" {
				lines = strings.Split(s, "\n")
			}
			if len(lines) != len(tt.stderr) {
				t.Fatalf("got %d lines on stderr, want %d:\n%s", len(lines), len(tt.stderr), stderr.String())
			}
			for i, want := range tt.stderr {
				if !strings.HasPrefix(lines[i], want) {
					t.Errorf("line %d:\n got  %s\n want %s…", i+1, lines[i], want)
				}
			}
		})
	}
}

func TestValidateCommandChecksEachFileWithTheFlag(t *testing.T) {
	dir := t.TempDir()
	a := writeSpec(t, dir, "a.yml", "services:\n  - {name: web, image: nginx}\n")
	b := writeSpec(t, dir, "b.yml", "services:\n  - {name: web, image: nginx}\n")
	if err := validateCommand([]string{"-each", a, b}); err != nil {
		t.Errorf("unrelated files with the same service name must each validate with -each: %v", err)
	}
	if err := validateCommand([]string{a, b}); err == nil {
		t.Error("merged, the two files repeat a service name and must fail")
	}
	if err := validateCommand(nil); err == nil {
		t.Error("no file given must be an error")
	}
}
