package netconf_test

import (
	"testing"

	"github.com/minikit/minikit/netconf"
)

func TestValidHostname(t *testing.T) {
	for name, ok := range map[string]bool{
		"guest":               true,
		"guest-1.example.com": true,
		"":                    false,
		"-guest":              false,
		"guest.":              false,
		"gu est":              false,
		"guest_1":             false,
		"a2345678901234567890123456789012345678901234567890123456789012345": false,
		"a234567890123456789012345678901234567890123456789012345678901234":  false, // one label of 64
		"a23456789012345678901234567890123456789012345678901234567890123":   true,  // one label of 63
	} {
		if err := netconf.ValidHostname(name); (err == nil) != ok {
			t.Errorf("ValidHostname(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestHostnameIsDefault(t *testing.T) {
	for name, want := range map[string]bool{"(none)": true, "": true, "localhost": true, "myhost": false} {
		if got := netconf.HostnameIsDefault(name); got != want {
			t.Errorf("HostnameIsDefault(%q) = %v, want %v", name, got, want)
		}
	}
}
