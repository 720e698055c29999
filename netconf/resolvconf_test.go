package netconf_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minikit/minikit/netconf"
)

func TestFormatResolvConf(t *testing.T) {
	got := netconf.FormatResolvConf(map[string]netconf.DNS{
		"eth1": {Servers: mustAddrs("10.0.1.3", "10.0.0.3"), Domain: "b.test", Search: []string{"a.test."}},
		"eth0": {Servers: mustAddrs("10.0.0.3"), Domain: "a.test"},
		"eth2": {},
	})
	want := "# Written by dhcpcd from eth0, eth1; it is rewritten whenever a lease changes.\n" +
		"search a.test b.test\n" +
		"nameserver 10.0.0.3\n" +
		"nameserver 10.0.1.3\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestResolvConfFollowsInterfaces(t *testing.T) {
	dir := t.TempDir()
	r := &netconf.ResolvConf{Path: filepath.Join(dir, "run", "resolv.conf")}
	read := func() string {
		t.Helper()
		data, err := os.ReadFile(r.Path)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if err := r.Set("eth0", netconf.DNS{Servers: []netip.Addr{netip.MustParseAddr("10.0.2.3")}}); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "# Written by dhcpcd from eth0; it is rewritten whenever a lease changes.\nnameserver 10.0.2.3\n" {
		t.Errorf("after Set(eth0):\n%s", got)
	}
	if err := r.Remove("eth0"); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "# Written by dhcpcd; it is rewritten whenever a lease changes.\n" {
		t.Errorf("after Remove(eth0):\n%s", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(r.Path))
	if len(entries) != 1 {
		t.Errorf("the directory holds %d files, want only resolv.conf (no temporary files left)", len(entries))
	}
}

// Whoever hands ResolvConf a name with a newline or a space in it cannot
// add a line or an option to the file.
func TestFormatResolvConfLeavesOutWhatIsNoDomainName(t *testing.T) {
	got := netconf.FormatResolvConf(map[string]netconf.DNS{
		"eth0": {
			Servers: []netip.Addr{netip.MustParseAddr("10.0.0.3"), netip.MustParseAddr("fe80::1%eth0 x\nnameserver 6.6.6.6")},
			Domain:  "x\nnameserver 6.6.6.6",
			Search:  []string{"a.test", "b.test options ndots:9", "c_d.test", "e.test."},
		},
	})
	want := "# Written by dhcpcd from eth0; it is rewritten whenever a lease changes.\n" +
		"search a.test e.test\n" +
		"nameserver 10.0.0.3\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestValidDomainName(t *testing.T) {
	for _, name := range []string{"example.com", "Example.COM", "lan", "a-b.c0", "xn--bcher-kva.de", "1.2.3.4",
		strings.Repeat("a", 63) + ".test",
		strings.Repeat(strings.Repeat("a", 62)+".", 4) + "a", // 253 bytes, the most a name may have
	} {
		if err := netconf.ValidDomainName(name); err != nil {
			t.Errorf("%q refused: %v", name, err)
		}
	}
	for _, name := range []string{"", "x\nnameserver 6.6.6.6", "a b", "a\tb", "a_b", "-a.b", "a-.b", "a..b", ".a",
		"a;b", "a#b", "bücher.de", "ａ.com", "xn--abc", "\x00", strings.Repeat("a", 64) + ".test",
		strings.Repeat(strings.Repeat("a", 62)+".", 4) + "ab"} {
		if err := netconf.ValidDomainName(name); err == nil {
			t.Errorf("%q accepted", name)
		}
	}
}
