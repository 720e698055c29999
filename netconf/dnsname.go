package netconf

import (
	"fmt"
	"strings"

	"golang.org/x/net/idna"
)

// dnsNames checks names as a resolver looks them up: RFC 1123 labels of
// letters, digits and inner hyphens (STD3 rules), 1 to 63 bytes each and
// 253 in all (RFC 1035), and "xn--" labels that decode to a valid IDN.
var dnsNames = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.VerifyDNSLength(true))

// ValidDomainName accepts a DNS name as resolv.conf may carry it in its
// search list: ASCII only (the resolver compares bytes, so an IDN must
// already be in its "xn--" form), without the root's trailing dot. Anything
// else, a space or a newline above all, could change what resolv.conf
// says.
func ValidDomainName(name string) error {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("domain name %q: byte %#x at %d is not a printable ASCII character", name, c, i)
		}
	}
	ascii, err := dnsNames.ToASCII(name)
	if err != nil {
		return fmt.Errorf("domain name %q: %w", name, err)
	}
	// The lookup profile maps as well as checks: only case may differ.
	if !strings.EqualFold(ascii, name) {
		return fmt.Errorf("domain name %q: not in its canonical form %q", name, ascii)
	}
	return nil
}
