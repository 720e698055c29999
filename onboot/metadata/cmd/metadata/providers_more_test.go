package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/minikit/minikit/internal/testenv"
)

const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0 user@host"

func TestVultrReadsV1JSON(t *testing.T) {
	for name, keys := range map[string]string{"keys as a list": `["` + testKey + `"]`, "keys as lines": `"` + testKey + `\n"`} {
		t.Run(name, func(t *testing.T) {
			base := server(t, nil, map[string]string{
				"GET /v1.json":          `{"hostname": "vultr-guest", "instanceid": "a747bfz6385e", "public-keys": ` + keys + `, "region": {"regioncode": "EWR"}}`,
				"GET /latest/user-data": "#!/bin/sh\n",
			})
			md := mustFetch(t, vultr(base))
			want(t, md, "vultr-guest", []string{testKey}, "#!/bin/sh\n")
		})
	}
	// An EC2 server has no /v1.json: not Vultr.
	if err := fetchErr(t, vultr(server(t, nil, map[string]string{"GET /latest/meta-data/hostname": "ip-1"}))); !isAbsent(err) {
		t.Errorf("on EC2: %v, want absent", err)
	}
}

func TestMetaldataReadsItsEndpoints(t *testing.T) {
	base := server(t, nil, map[string]string{
		"GET /get/meta/hostname":        "rack1-node4\n",
		"GET /get/meta/authorized-keys": testKey + "\n" + testKey + "\n",
		"GET /get/meta/public-ipv4":     "192.0.2.4",
		"GET /get/user":                 `{"app": {"entries": {}}}`,
	})
	want(t, mustFetch(t, metaldata(base)), "rack1-node4", []string{testKey, testKey}, `{"app": {"entries": {}}}`)
	// Without keys nor user data it still names the host.
	bare := server(t, nil, map[string]string{"GET /get/meta/hostname": "n"})
	want(t, mustFetch(t, metaldata(bare)), "n", nil, "")
}

// Scaleway's server gives user data only to a connection from a
// privileged port, as the real one does.
func TestScalewayAsksUserDataFromAPrivilegedPort(t *testing.T) {
	testenv.Root(t)
	var (
		mu            sync.Mutex
		userdataPorts []int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/conf" && r.URL.Query().Get("format") == "json":
			w.Write([]byte(`{"id": "5f0b", "hostname": "scw-festive", "ssh_public_keys": [{"key": "` + testKey + `", "fingerprint": "256 SHA256:x user@host (ED25519)"}], "location": {"zone_id": "fr-par-1"}}`))
		case r.URL.Path == "/user_data/cloud-init":
			_, p, _ := net.SplitHostPort(r.RemoteAddr)
			port, _ := strconv.Atoi(p)
			mu.Lock()
			userdataPorts = append(userdataPorts, port)
			mu.Unlock()
			if port >= 1024 {
				http.Error(w, "privileged port required", http.StatusForbidden)
				return
			}
			w.Write([]byte("#cloud-config\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	md := mustFetch(t, scaleway(srv.URL))
	want(t, md, "scw-festive", []string{testKey}, "#cloud-config\n")
	// Asked again at once: the port just used is no obstacle.
	want(t, mustFetch(t, scaleway(srv.URL)), "scw-festive", []string{testKey}, "#cloud-config\n")
	mu.Lock()
	defer mu.Unlock()
	if len(userdataPorts) != 2 || userdataPorts[0] >= 1024 || userdataPorts[1] >= 1024 {
		t.Errorf("user data asked from ports %v, want two below 1024", userdataPorts)
	}
}

// VMware is read through vmware-rpctool; this one answers from a
// directory as the real one answers from the hypervisor.
func TestVMwareReadsGuestinfo(t *testing.T) {
	testenv.Tools(t, testenv.RequireRootEnv, "sh")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"motd": {"content": "hi"}}`))
	zw.Close()
	tool := fakeRPCTool(t, map[string]string{
		"guestinfo.metadata":          base64.StdEncoding.EncodeToString([]byte("instance-id: vm-1\nlocal-hostname: esx-guest\npublic-keys:\n  - " + testKey + "\n")),
		"guestinfo.metadata.encoding": "base64",
		"guestinfo.userdata":          base64.StdEncoding.EncodeToString(gz.Bytes()),
		"guestinfo.userdata.encoding": "gzip+base64",
	})
	want(t, mustFetch(t, vmware(tool)), "esx-guest", []string{testKey}, `{"motd": {"content": "hi"}}`)

	plain := fakeRPCTool(t, map[string]string{"guestinfo.userdata": "plain"})
	want(t, mustFetch(t, vmware(plain)), "", nil, "plain")

	// Outside VMware the tool fails for every key: absent.
	if err := fetchErr(t, vmware(fakeRPCTool(t, nil))); !isAbsent(err) {
		t.Errorf("outside VMware: %v, want absent", err)
	}
	// A gzip'd value may not unpack past the cap.
	gz.Reset()
	zw = gzip.NewWriter(&gz)
	zw.Write(make([]byte, maxItem+1))
	zw.Close()
	bomb := fakeRPCTool(t, map[string]string{
		"guestinfo.userdata":          base64.StdEncoding.EncodeToString(gz.Bytes()),
		"guestinfo.userdata.encoding": "gzip+base64",
	})
	if err := fetchErr(t, vmware(bomb)); err == nil || isAbsent(err) || !strings.Contains(err.Error(), "guestinfo.userdata") {
		t.Errorf("an oversized value: %v, want an error naming guestinfo.userdata", err)
	}
}

// Without vmware-rpctool the image cannot read VMware: asked for by name
// it is refused, among all providers it is absent.
func TestVMwareWithoutTheToolIsRefusedByName(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	var stderr bytes.Buffer
	if code := run([]string{"-v", "vmware"}, &stderr); code != 2 || !strings.Contains(stderr.String(), "vmware-rpctool") {
		t.Errorf("metadata -v vmware: exit %d, %q; want 2 and a word about vmware-rpctool", code, stderr.String())
	}
	if err := fetchErr(t, vmware(vmwareRPCTool)); !isAbsent(err) || !strings.Contains(err.Error(), "vmware-rpctool") {
		t.Errorf("vmware among all: %v, want absent for want of vmware-rpctool", err)
	}
	stderr.Reset()
	if code := run([]string{"-x"}, &stderr); code != 2 {
		t.Errorf("an unknown flag: exit %d", code)
	}
}

// fakeRPCTool is a vmware-rpctool that answers "info-get KEY" with
// values[KEY], and fails as the real one does for a key that is not set.
func fakeRPCTool(t *testing.T, values map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for k, v := range values {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tool := filepath.Join(dir, "vmware-rpctool")
	script := "#!/bin/sh\nkey=${1#info-get }\n[ -f '" + dir + "'/\"$key\" ] || { echo 'No value found' >&2; exit 1; }\ncat '" + dir + "'/\"$key\"\n"
	if err := os.WriteFile(tool, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return tool
}

func want(t *testing.T, md *metadata, hostname string, keys []string, userdata string) {
	t.Helper()
	if md.hostname != hostname || !slices.Equal(md.sshKeys, keys) || string(md.userdata) != userdata {
		t.Errorf("got hostname %q, keys %q, userdata %q; want %q, %q, %q", md.hostname, md.sshKeys, md.userdata, hostname, keys, userdata)
	}
}

func isAbsent(err error) bool { return errors.Is(err, errAbsent) }
