package dhcp

import (
	"bytes"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// The client's messages are those the library's constructors make, down
// to the byte, but for a transaction id that did not come from getrandom.
func TestMessagesAreTheLibrarysWithOurXID(t *testing.T) {
	xid := dhcpv4.TransactionID{1, 2, 3, 4}
	withXID := dhcpv4.WithTransactionID(xid)
	m := testMachine()
	srv := newFakeServer()
	opts := m.options()

	libDiscover, err := dhcpv4.NewDiscovery(testHW, append(opts, withXID)...)
	if err != nil {
		t.Fatal(err)
	}
	offer := srv.offer(t, libDiscover)
	libRequest, err := dhcpv4.NewRequestFromOffer(offer, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ack := srv.ack(t, libRequest)
	libRenew, err := dhcpv4.NewRenewFromAck(ack, append(opts, withXID)...)
	if err != nil {
		t.Fatal(err)
	}
	libRelease, err := dhcpv4.NewReleaseFromACK(ack, withXID)
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name      string
		ours, lib *dhcpv4.DHCPv4
	}{
		{"DISCOVER", newDiscover(xid, testHW, opts...), libDiscover},
		{"REQUEST", newRequest(offer, opts...), libRequest},
		{"renewing REQUEST", newRenew(xid, ack, opts...), libRenew},
		{"RELEASE", newRelease(xid, ack), libRelease},
	} {
		if !bytes.Equal(tt.ours.ToBytes(), tt.lib.ToBytes()) {
			t.Errorf("%s differs from the library's:\nours %s\nlib  %s", tt.name, tt.ours.Summary(), tt.lib.Summary())
		}
	}
}

func TestEachDiscoveryHasItsOwnXID(t *testing.T) {
	seen := make(map[dhcpv4.TransactionID]bool)
	for range 64 {
		m := testMachine()
		st := mustNext(t, m, t0)
		seen[st.send.TransactionID] = true
	}
	// 64 draws of 32 bits collide with a chance of about 5e-7.
	if len(seen) < 63 {
		t.Errorf("64 clients drew only %d distinct transaction ids", len(seen))
	}
}
