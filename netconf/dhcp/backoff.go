package dhcp

import "time"

// Retransmission follows RFC 2131, 4.1: the first wait is 4 seconds, each
// next one twice as long up to 64 seconds, each moved by up to a second
// either way so that clients that started together drift apart.
const (
	firstWait = 4 * time.Second
	maxWait   = 64 * time.Second
	maxJitter = time.Second
)

// retransmitWait is how long to wait for a reply to the tries-th
// retransmission (0 for the first send) before sending again. jitter is
// in [-1, 1].
func retransmitWait(tries int, jitter float64) time.Duration {
	d := maxWait
	if tries < 5 { // 4s << 4 = 64s
		d = firstWait << tries
	}
	return d + time.Duration(jitter*float64(maxJitter))
}

// nakWait is how long to wait before discovering again after the naks-th
// NAK in a row: at once the first time, as RFC 2131 says, then backing
// off, so that a client and a server that disagree do not flood the link.
func nakWait(naks int) time.Duration {
	if naks <= 1 {
		return 0
	}
	return retransmitWait(naks-2, 0)
}
