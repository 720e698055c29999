package dhcpcdconf

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// linuxkitStyle uses the directives LinuxKit's dhcpcd image configures.
const linuxkitStyle = `# the usual LinuxKit setup
allowinterfaces eth*
hostname
clientid
persistent
option rapid_commit
option domain_name_servers, domain_name, domain_search, host_name
option classless_static_routes
option ntp_servers
option interface_mtu
require dhcp_server_identifier
slaac private
nodelay
noarp
waitip 4
`

func codes(cs []dhcpv4.OptionCode) []uint8 {
	var out []uint8
	for _, c := range cs {
		out = append(out, c.Code())
	}
	return out
}

func TestLinuxKitConfiguration(t *testing.T) {
	c, err := Parse("dhcpcd.conf", []byte(linuxkitStyle))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Allowed("eth0") || c.Allowed("wlan0") || !c.Persistent {
		t.Errorf("allow eth0=%v wlan0=%v persistent=%v, want true false true", c.Allowed("eth0"), c.Allowed("wlan0"), c.Persistent)
	}
	o := c.For("eth0")
	if !o.SendHostname || o.Hostname != "" || !o.SetsHostname() {
		t.Errorf("hostname: send=%v %q sets=%v, want to send the system's and set it from the lease", o.SendHostname, o.Hostname, o.SetsHostname())
	}
	if got, want := codes(o.Requested(nil)), []uint8{6, 15, 119, 12, 121, 42, 26}; !slices.Equal(got, want) {
		t.Errorf("requested %v, want %v", got, want)
	}
	wantNotes := []string{
		"dhcpcd.conf:6: option rapid_commit: rapid commit is not implemented",
		"dhcpcd.conf:9: option ntp_servers: asked for, but nothing uses NTP servers",
		"dhcpcd.conf:12: slaac: IPv6 is not supported; ignored",
	}
	if len(c.Notes) != len(wantNotes) {
		t.Errorf("notes:\n%s\nwant %d", strings.Join(c.Notes, "\n"), len(wantNotes))
	}
	for i, want := range wantNotes {
		if i < len(c.Notes) && !strings.HasPrefix(c.Notes[i], want) {
			t.Errorf("note %d = %q, want it to start %q", i, c.Notes[i], want)
		}
	}
}

func TestStaticInterfaceBlock(t *testing.T) {
	c, err := Parse("static.conf", []byte(`
timeout 10
denyinterfaces eth2
metric 300
interface eth1
static ip_address=192.168.7.5/24
static routers=192.168.7.1
static domain_name_servers=192.168.7.1 9.9.9.9
static domain_search=example.test lab.test
static interface_mtu=1400
metric 50
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Timeout != 10*time.Second || c.Allowed("eth2") || !c.Allowed("eth1") {
		t.Errorf("timeout %v, eth2 allowed=%v, eth1 allowed=%v", c.Timeout, c.Allowed("eth2"), c.Allowed("eth1"))
	}
	if o := c.For("eth0"); !o.Static.Empty() || o.Metric != 300 {
		t.Errorf("eth0 has %+v, want no static values and metric 300", o)
	}
	o := c.For("eth1")
	want := Static{
		Address: netip.MustParsePrefix("192.168.7.5/24"),
		Routers: []netip.Addr{netip.MustParseAddr("192.168.7.1")},
		DNS:     []netip.Addr{netip.MustParseAddr("192.168.7.1"), netip.MustParseAddr("9.9.9.9")},
		Search:  []string{"example.test", "lab.test"},
		MTU:     1400,
	}
	if o.Static.Address != want.Address || !slices.Equal(o.Static.Routers, want.Routers) ||
		!slices.Equal(o.Static.DNS, want.DNS) || !slices.Equal(o.Static.Search, want.Search) || o.Static.MTU != 1400 || o.Metric != 50 {
		t.Errorf("eth1: %+v\nwant %+v, metric 50", o, want)
	}
}

func TestNooptionRemovesARequest(t *testing.T) {
	c, err := Parse("c", []byte("option host_name\ninterface eth0\nnooption host_name\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.For("eth0").SetsHostname() || !c.For("eth1").SetsHostname() {
		t.Errorf("nooption in eth0's block must stop only eth0 setting the host name")
	}
	base := []dhcpv4.OptionCode{dhcpv4.OptionSubnetMask, dhcpv4.OptionHostName}
	if got := codes(c.For("eth0").Requested(base)); !slices.Equal(got, []uint8{1}) {
		t.Errorf("eth0 requests %v, want [1]", got)
	}
}

func TestClientID(t *testing.T) {
	c, err := Parse("c", []byte("clientid 01:02:0a\ninterface eth1\nclientid box-1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.For("eth0").ClientID; string(got) != "\x01\x02\x0a" {
		t.Errorf("eth0 client id %x, want 01020a", got)
	}
	if got := c.For("eth1").ClientID; string(got) != "box-1" {
		t.Errorf("eth1 client id %q, want box-1", got)
	}
}

func TestErrorsNameFileAndLine(t *testing.T) {
	_, err := Parse("bad.conf", []byte("timeout soon\ninterface eth0\nstatic ip_address=10.0.0.5\nstatic interface_mtu=9\nstatic routers=10.0.0.1,fe80::1\ninterface\nstatic domain_name=a_b.test\nstatic domain_search=ok.test -bad.test\n"))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`bad.conf:1: timeout: want a number of seconds, got "soon"`,
		`bad.conf:3: static ip_address: "10.0.0.5" has no prefix length`,
		`bad.conf:4: static interface_mtu: want a number from 68 to 65535, got "9"`,
		`bad.conf:5: static routers: "fe80::1" is not an IPv4 address`,
		`bad.conf:6: interface: want one interface name`,
		`bad.conf:7: static domain_name: domain name "a_b.test"`,
		`bad.conf:8: static domain_search: domain name "-bad.test"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
}

func TestGlobalDirectiveInABlockIsNoted(t *testing.T) {
	c, err := Parse("c", []byte("interface eth0\npersistent\nfoo bar\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Persistent {
		t.Errorf("persistent inside an interface block was taken")
	}
	want := []string{"c:2: persistent: only read before the first interface block; ignored", "c:3: foo: not supported; ignored"}
	if !slices.Equal(c.Notes, want) {
		t.Errorf("notes %q, want %q", c.Notes, want)
	}
}
