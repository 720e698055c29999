package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/testenv"
	"github.com/minikit/minikit/tools/diskimage"
)

// server answers the paths given; headers it requires are checked.
func server(t *testing.T, need http.Header, paths map[string]string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k := range need {
			if r.Method == http.MethodPut {
				break // asking for the token needs no token
			}
			if r.Header.Get(k) != need.Get(k) {
				http.Error(w, "missing "+k, http.StatusForbidden)
				return
			}
		}
		body, ok := paths[r.Method+" "+r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestProvidersReadTheirServers(t *testing.T) {
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0 user@host"
	tests := []struct {
		name  string
		fetch func(t *testing.T) *metadata
		want  metadata
	}{
		{"aws with an IMDSv2 token", func(t *testing.T) *metadata {
			base := server(t, http.Header{"X-Aws-Ec2-Metadata-Token": {"tok"}}, map[string]string{
				"PUT /latest/api/token":                           "tok",
				"GET /latest/meta-data/hostname":                  "ip-10-0-0-5.eu-west-1.compute.internal",
				"GET /latest/meta-data/public-keys/0/openssh-key": key + "\n",
				"GET /latest/user-data":                           "hello",
			})
			return mustFetch(t, ec2(base))
		}, metadata{hostname: "ip-10-0-0-5.eu-west-1.compute.internal", sshKeys: []string{key}, userdata: []byte("hello")}},
		{"an EC2 server without tokens", func(t *testing.T) *metadata {
			base := server(t, nil, map[string]string{
				"GET /latest/meta-data/hostname": "node-1",
			})
			return mustFetch(t, ec2(base))
		}, metadata{hostname: "node-1"}},
		{"hetzner", func(t *testing.T) *metadata {
			base := server(t, nil, map[string]string{
				"GET /hetzner/v1/metadata/hostname":    "cx22-1",
				"GET /hetzner/v1/metadata/public-keys": `["` + key + `"]`,
				"GET /hetzner/v1/userdata":             "ud",
			})
			return mustFetch(t, hetzner(base))
		}, metadata{hostname: "cx22-1", sshKeys: []string{key}, userdata: []byte("ud")}},
		{"gcp", func(t *testing.T) *metadata {
			base := server(t, http.Header{"Metadata-Flavor": {"Google"}}, map[string]string{
				"GET /computeMetadata/v1/instance/hostname":             "vm-1.c.project.internal",
				"GET /computeMetadata/v1/project/attributes/ssh-keys":   "alice:" + key + "\n",
				"GET /computeMetadata/v1/instance/attributes/user-data": `{"x":{"entries":{}}}`,
			})
			return mustFetch(t, gcp(base))
		}, metadata{hostname: "vm-1.c.project.internal", sshKeys: []string{key}, userdata: []byte(`{"x":{"entries":{}}}`)}},
		{"openstack", func(t *testing.T) *metadata {
			base := server(t, nil, map[string]string{
				"GET /openstack/latest/meta_data.json": `{"hostname": "os-1", "public_keys": {"mykey": "` + key + `"}}`,
			})
			return mustFetch(t, openstack(base))
		}, metadata{hostname: "os-1", sshKeys: []string{key}}},
		{"digitalocean", func(t *testing.T) *metadata {
			base := server(t, nil, map[string]string{
				"GET /metadata/v1/hostname":    "droplet",
				"GET /metadata/v1/public-keys": key + "\n" + key + "\n",
				"GET /metadata/v1/user-data":   "#!/bin/sh\n",
			})
			return mustFetch(t, digitalocean(base))
		}, metadata{hostname: "droplet", sshKeys: []string{key, key}, userdata: []byte("#!/bin/sh\n")}},
		{"equinix metal", func(t *testing.T) *metadata {
			base := server(t, nil, map[string]string{
				"GET /metadata": `{"hostname": "metal-1", "ssh_keys": ["` + key + `"]}`,
				"GET /userdata": "u",
			})
			return mustFetch(t, equinix(base))
		}, metadata{hostname: "metal-1", sshKeys: []string{key}, userdata: []byte("u")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.fetch(t)
			if got.hostname != tt.want.hostname || !slices.Equal(got.sshKeys, tt.want.sshKeys) || string(got.userdata) != string(tt.want.userdata) {
				t.Errorf("got %+v (userdata %q), want %+v (userdata %q)", got, got.userdata, tt.want, tt.want.userdata)
			}
		})
	}
}

func mustFetch(t *testing.T, fetch func(context.Context) (*metadata, error)) *metadata {
	t.Helper()
	md, err := fetch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return md
}

// A server that is not there, or is another provider's, is absent; one
// that answers its own paths wrongly is an error worth a warning.
func TestProvidersTellAbsentFromBroken(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	other := server(t, nil, map[string]string{"GET /metadata/v1/hostname": "droplet"})
	broken := server(t, nil, map[string]string{"GET /openstack/latest/meta_data.json": "{not json"})
	for name, err := range map[string]error{
		"nobody listening":       fetchErr(t, ec2(down.URL)),
		"another provider's API": fetchErr(t, gcp(other)),
	} {
		if !errors.Is(err, errAbsent) {
			t.Errorf("%s: err = %v, want errAbsent", name, err)
		}
	}
	if err := fetchErr(t, openstack(broken)); err == nil || errors.Is(err, errAbsent) || !strings.Contains(err.Error(), "meta_data.json") {
		t.Errorf("malformed meta_data.json: err = %v, want an error naming it", err)
	}
}

func fetchErr(t *testing.T, fetch func(context.Context) (*metadata, error)) error {
	_, err := fetch(t.Context())
	return err
}

// find asks every provider and takes the first in order that answers.
func TestFindPrefersTheFirstThatAnswers(t *testing.T) {
	answer := func(name string, err error) provider {
		return provider{name: name, fetch: func(context.Context) (*metadata, error) {
			if err != nil {
				return nil, err
			}
			return &metadata{hostname: name}, nil
		}}
	}
	md, err := find(t.Context(), []provider{
		answer("cdrom", errAbsent), answer("aws", errors.New("500")), answer("gcp", nil), answer("openstack", nil),
	})
	if err != nil || md.provider != "gcp" {
		t.Errorf("find = %+v, %v; want gcp", md, err)
	}
	if _, err := find(t.Context(), []provider{answer("cdrom", errAbsent)}); !errors.Is(err, errNoProvider) {
		t.Errorf("with nobody answering: %v", err)
	}
	if _, err := choose([]string{"aws", "nosuchcloud"}); err == nil || !strings.Contains(err.Error(), `"nosuchcloud"`) {
		t.Errorf("an unknown provider: %v", err)
	}
	if ps, err := choose([]string{"packet"}); err != nil || ps[0].name != "equinixmetal" {
		t.Errorf("packet is Equinix Metal's old name: %v, %v", ps, err)
	}
}

func TestWriteLaysOutTheConfig(t *testing.T) {
	dir := t.TempDir()
	md := &metadata{provider: "cdrom", hostname: "box", sshKeys: []string{"ssh-ed25519 A", "ssh-ed25519 B"}, userdata: []byte(`{
		"ssh": {"entries": {"sshd_config": {"perm": "0600", "content": "PermitRootLogin yes\n"}}},
		"app": {"perm": "0700", "entries": {"conf": {"content": "x=1"}, "sub": {"entries": {"deep": {"content": "d"}}}}}
	}`)}
	if err := md.write(dir); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"provider": "cdrom\n", "hostname": "box", "ssh/authorized_keys": "ssh-ed25519 A\nssh-ed25519 B\n",
		"ssh/sshd_config": "PermitRootLogin yes\n", "app/conf": "x=1", "app/sub/deep": "d",
	} {
		if got, err := os.ReadFile(filepath.Join(dir, file)); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", file, got, err, want)
		}
	}
	for file, want := range map[string]os.FileMode{"ssh/authorized_keys": 0o600, "ssh/sshd_config": 0o600, "app": 0o700 | os.ModeDir, "app/conf": 0o644} {
		if fi, err := os.Stat(filepath.Join(dir, file)); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v, %v; want %v", file, fi.Mode(), err, want)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "userdata")); !strings.Contains(string(got), "sshd_config") {
		t.Errorf("the raw user data was not kept: %q", got)
	}
}

// User data comes from outside: it may not write outside the config
// directory, nor over what the metadata itself says.
func TestWriteRefusesHostileUserData(t *testing.T) {
	var dir string
	for _, ud := range []string{
		`{"..": {"entries": {"etc": {"content": "x"}}}}`,
		`{"a/b": {"content": "x"}}`,
		`{"x": {"entries": {"..": {"content": "x"}}}}`,
		`{"hostname": {"content": "evil"}}`,
		`{"x": {"content": "a", "entries": {}}}`,
		`{"x": {"perm": "4755", "content": "a"}}`,
	} {
		dir = t.TempDir()
		if err := (&metadata{provider: "cdrom", hostname: "good"}).write(dir); err != nil {
			t.Fatal(err)
		}
		err := (&metadata{provider: "cdrom", hostname: "other", userdata: []byte(ud)}).write(dir)
		if err == nil {
			t.Errorf("user data %s was accepted", ud)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "hostname")); string(got) != "good" {
			t.Errorf("user data %s changed the hostname to %q", ud, got)
		}
	}
	// A CD-ROM gives no hostname: the user data may.
	dir = t.TempDir()
	md := &metadata{provider: "cdrom", userdata: []byte(`{"hostname": {"content": "from-userdata\n"}}`)}
	if err := md.write(dir); err != nil || md.hostname != "from-userdata" {
		t.Errorf("hostname from user data: %q, %v", md.hostname, err)
	}
	// Not JSON, or JSON of other fields than LinuxKit's (a Kubernetes
	// node's join object): kept as it is for its reader, nothing more.
	for _, ud := range []string{"#cloud-config\n", `{"kubernetes": {"server": "https://k:6443", "token": "abcdef.0123456789abcdef"}}`} {
		dir = t.TempDir()
		if err := (&metadata{provider: "cdrom", userdata: []byte(ud)}).write(dir); err != nil {
			t.Errorf("user data %s: %v", ud, err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "userdata")); string(got) != ud {
			t.Errorf("user data %s kept as %q", ud, got)
		}
		if _, err := os.Stat(filepath.Join(dir, "kubernetes")); !os.IsNotExist(err) {
			t.Errorf("user data %s written as files: %v", ud, err)
		}
	}
}

func TestCleanHostname(t *testing.T) {
	long := strings.Repeat("a", 40) + "." + strings.Repeat("b", 40)
	for in, want := range map[string]string{"box\n": "box", long: strings.Repeat("a", 40), "bad name": "", "": ""} {
		if got := cleanHostname(in); got != want {
			t.Errorf("cleanHostname(%q) = %q, want %q", in, got, want)
		}
	}
}

// The CD-ROM provider recognises the ISO that minikit run -data makes.
func TestIsISO9660(t *testing.T) {
	testenv.Tools(t, testenv.RequireRootEnv, "xorriso (apt-get install xorriso)")
	iso := filepath.Join(t.TempDir(), "data.iso")
	if err := diskimage.DataISO(t.Context(), iso, []byte("{}"), time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	if !isISO9660(iso) {
		t.Errorf("%s is not taken for ISO 9660", iso)
	}
	plain := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(plain, make([]byte, 64<<10), 0o644)
	if isISO9660(plain) {
		t.Error("zeros are taken for ISO 9660")
	}
}
