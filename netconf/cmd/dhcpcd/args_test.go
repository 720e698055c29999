package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLinuxKitCommandLines(t *testing.T) {
	tests := []struct {
		args    []string
		oneshot bool
		conf    string
		ifaces  []string
		timeout time.Duration
	}{
		{[]string{"--nobackground", "-f", "/dhcpcd.conf"}, false, "/dhcpcd.conf", nil, 30 * time.Second},
		{[]string{"--nobackground", "-f", "/dhcpcd.conf", "-1"}, true, "/dhcpcd.conf", nil, 30 * time.Second},
		{[]string{"eth0", "--oneshot", "--config=/etc/d.conf", "-t", "5", "eth1"}, true, "/etc/d.conf", []string{"eth0", "eth1"}, 5 * time.Second},
		{[]string{"-1", "--", "-odd-name"}, true, "", []string{"-odd-name"}, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			o, err := parseArgs(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if o.oneshot != tt.oneshot || o.confFile != tt.conf || !slices.Equal(o.interfaces, tt.ifaces) || o.timeout != tt.timeout {
				t.Errorf("got oneshot=%v conf=%q ifaces=%q timeout=%v", o.oneshot, o.confFile, o.interfaces, o.timeout)
			}
		})
	}
}

func TestBadCommandLines(t *testing.T) {
	for _, args := range [][]string{{"-f"}, {"-t", "soon"}, {"--frobnicate"}} {
		if _, err := parseArgs(args); err == nil || errors.Is(err, errHelp) {
			t.Errorf("parseArgs(%q) = %v, want an error", args, err)
		}
	}
	if _, err := parseArgs([]string{"--help"}); !errors.Is(err, errHelp) {
		t.Errorf("--help gave %v", err)
	}
}

func TestBadConfigurationExitsTwo(t *testing.T) {
	conf := writeConf(t, "static ip_address=10.0.0.1\n")
	if code := run([]string{"-f", conf}); code != 2 {
		t.Errorf("a bad dhcpcd.conf gave exit status %d, want 2", code)
	}
	if code := run([]string{"--frobnicate"}); code != 2 {
		t.Errorf("a bad option gave exit status %d, want 2", code)
	}
}
