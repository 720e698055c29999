package main

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestOneshotExitsOnceConfiguredAndKeepsTheLease(t *testing.T) {
	t.Parallel()
	l := newLAN(t)
	srv := l.dnsmasq(t)
	// As LinuxKit's onboot entries run it.
	p := startDhcpcd(t, l.cli, nil, "--nobackground", "-f", writeConf(t, "allowinterfaces eth*\n"), "-1")
	m := p.expect(-1, leaseLine("bound", "eth0"), bootTimeout)
	if code := p.wait(bootTimeout); code != 0 {
		t.Fatalf("dhcpcd -1 exited %d once bound, want 0", code)
	}
	p.expect(m.index, `msg="configured; exiting \(oneshot\)"`, time.Second)
	addr := netip.MustParsePrefix(m.groups[1])
	if addrs := l.addresses(t, "eth0"); len(addrs) != 1 || addrs[0].Prefix != addr {
		t.Errorf("after dhcpcd -1 exited eth0 has %v, want %v kept", addrs, addr)
	}
	if lease := srv.LeaseFor(l.mac(t, "eth0")); lease == "" {
		t.Errorf("dhcpcd -1 released its lease on exit")
	}
	if p.count(`released`) != 0 {
		t.Errorf("dhcpcd -1 logged a release")
	}
}

func TestServiceAfterOneshotKeepsTheAddress(t *testing.T) {
	t.Parallel()
	l := newLAN(t)
	l.dnsmasq(t)
	onboot := startDhcpcd(t, l.cli, nil, "-1")
	m := onboot.expect(-1, leaseLine("bound", "eth0"), bootTimeout)
	onboot.wait(bootTimeout)

	// The service that follows uses the same run directory, where the
	// onboot run left its state.
	service := startDhcpcdIn(t, l.cli, onboot.runDir, nil)
	again := service.expect(-1, leaseLine("bound", "eth0"), bootTimeout)
	if again.groups[1] != m.groups[1] {
		t.Errorf("the service got %s after the onboot run's %s, want the same address", again.groups[1], m.groups[1])
	}
	if addrs := l.addresses(t, "eth0"); len(addrs) != 1 {
		t.Errorf("eth0 has %v, want one address", addrs)
	}
}

func TestOneshotTimesOutWithoutAServer(t *testing.T) {
	t.Parallel()
	l := newLAN(t)
	p := startDhcpcd(t, l.cli, nil, "-1", "-t", "2", "eth0")
	if code := p.wait(bootTimeout); code != 1 {
		t.Fatalf("dhcpcd -1 -t 2 without a server exited %d, want 1", code)
	}
	p.expect(-1, `level=ERROR msg="timed out waiting for an address \(oneshot\)" timeout=2s waiting_for=eth0`, time.Second)
}

func TestOneshotWaitsForEveryNamedInterface(t *testing.T) {
	t.Parallel()
	l := newLAN(t)
	l.addLink(t, "srv1", "", "eth1") // no server on this one
	l.dnsmasq(t)
	p := startDhcpcd(t, l.cli, nil, "-1", "-t", "8", "eth0", "eth1")
	p.expect(-1, leaseLine("bound", "eth0"), bootTimeout)
	if code := p.wait(bootTimeout); code != 1 {
		t.Fatalf("dhcpcd -1 eth0 eth1 with eth1 unserved exited %d, want 1 after the timeout", code)
	}
	m := p.expect(-1, `timed out waiting for an address \(oneshot\)".* waiting_for=(\S+)`, time.Second)
	if m.groups[1] != "eth1" {
		t.Errorf("waiting for %q, want eth1", m.groups[1])
	}
}

func TestStaticConfigurationFromTheConfFile(t *testing.T) {
	t.Parallel()
	l := newLAN(t) // no DHCP server at all
	conf := writeConf(t, `# users without DHCP
interface eth0
static ip_address=10.234.0.7/24
static routers=10.234.0.1
static domain_name_servers=10.234.0.53 10.234.0.54
static domain_search=lan.test
static interface_mtu=1450
`)
	p := startDhcpcd(t, l.cli, nil, "-f", conf)
	p.expect(-1, `msg="static configuration applied" iface=eth0 address=10\.234\.0\.7/24 router=10\.234\.0\.1 dns=10\.234\.0\.53,10\.234\.0\.54 mtu=1450`, bootTimeout)
	addrs := l.addresses(t, "eth0")
	if len(addrs) != 1 || addrs[0].Prefix != netip.MustParsePrefix("10.234.0.7/24") || addrs[0].Lifetime != 0 {
		t.Errorf("eth0 has %v, want 10.234.0.7/24 for ever", addrs)
	}
	if routes := l.cli.IP(t, "-4", "route", "show", "default"); !strings.Contains(routes, "default via 10.234.0.1 dev eth0 proto static") {
		t.Errorf("default route:\n%s", routes)
	}
	if rc := p.resolvConf(); !strings.Contains(rc, "search lan.test\nnameserver 10.234.0.53\nnameserver 10.234.0.54\n") {
		t.Errorf("resolv.conf:\n%s", rc)
	}
	if st := p.state("eth0"); st.State != "static" || st.Static == nil || st.Static.Address.String() != "10.234.0.7/24" {
		t.Errorf("state: %+v", st)
	}
	if p.count(`msg=send`) != 0 || p.count(`lease`) != 0 {
		t.Errorf("DHCP ran on a statically configured interface")
	}
	if err := p.stop(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	if addrs := l.addresses(t, "eth0"); len(addrs) != 0 {
		t.Errorf("the static address stayed after stopping: %v", addrs)
	}
}

func TestHostnameIsSetOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, conf, start, want string
	}{
		{"asked, over a default name", "option host_name\n", "localhost", `msg="hostname set" hostname=guest-7`},
		{"asked, over a chosen name", "option host_name\n", "chosen", `msg="hostname kept" hostname=chosen offered=guest-7`},
		{"not asked", "", "localhost", ``},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLAN(t)
			l.dnsmasq(t, "--dhcp-host="+l.mac(t, "eth0")+",guest-7")
			p := startDhcpcd(t, l.cli, []string{hostnameEnv + "=" + tt.start}, "-f", writeConf(t, tt.conf))
			p.expect(-1, leaseLine("bound", "eth0"), bootTimeout)
			if tt.want != "" {
				p.expect(-1, tt.want, time.Second)
			} else if p.count(`hostname`) != 0 {
				t.Errorf("the host name was touched though the configuration did not ask for it")
			}
		})
	}
}
