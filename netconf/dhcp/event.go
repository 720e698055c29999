package dhcp

import "fmt"

// EventKind says what happened to an interface's lease.
type EventKind int

// The events Run reports. Bound and Renewed carry the lease to apply, Lost
// and Released the lease to take away.
const (
	// Bound: a new lease, after discovering (at start, or after one was
	// lost).
	Bound EventKind = iota + 1
	// Renewed: the server extended the lease, in the renewing state (from
	// its own server) or the rebinding state (from any). The address may
	// even have changed; Previous is the lease it replaces.
	Renewed
	// Lost: the lease ended, because it expired or because a server
	// refused it (NAK); the client is discovering again.
	Lost
	// Refused: a server refused the address it had offered (NAK to our
	// REQUEST); nothing was configured yet, the client discovers again.
	Refused
	// Released: the client released the lease as it stopped.
	Released
)

func (k EventKind) String() string {
	switch k {
	case Bound:
		return "bound"
	case Renewed:
		return "renewed"
	case Lost:
		return "lost"
	case Refused:
		return "refused"
	case Released:
		return "released"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is a change of an interface's lease.
type Event struct {
	Kind  EventKind
	Lease *Lease
	// Previous is the lease a Renewed event replaces.
	Previous *Lease
	// Reason says why a lease was Lost or Refused: "expired", or the
	// server's NAK and its message.
	Reason string
	// Rebound tells a renewal granted while rebinding (by any server,
	// after the lease's own did not answer by T2).
	Rebound bool
}
