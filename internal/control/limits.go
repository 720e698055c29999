package control

import (
	"log/slog"
	"net"
	"sync"
	"time"
)

// Limits bound what callers of the control API can make init hold:
// connections (each a file descriptor of PID 1, which it shares with the
// pipes of every container it starts), the time a connection may stay
// idle or take to send its request, and the followers of logs, each of
// which holds buffers for as long as it follows.
type Limits struct {
	ReadHeaderTimeout time.Duration // to send a request's headers
	// ReadTimeout bounds sending a whole request, but for a body that an
	// endpoint streams (an update's bundle), which may take minutes: each
	// read of that, so that a caller that stops sending is dropped.
	ReadTimeout time.Duration
	IdleTimeout time.Duration // between two requests on one connection
	// WriteTimeout bounds writing an answer, and for a follower of a log
	// each write: one that stops reading is dropped.
	WriteTimeout time.Duration
	MaxConns     int // connections served at once
	// SpareConns more are answered 503 rather than closed without a word,
	// so that a caller learns why; any beyond are closed at once.
	SpareConns   int
	MaxFollowers int           // `logs -f` streams at once
	SocketCheck  time.Duration // how often the socket's presence is checked
}

// DefaultLimits are init's.
var DefaultLimits = Limits{
	ReadHeaderTimeout: 5 * time.Second,
	ReadTimeout:       10 * time.Second,
	IdleTimeout:       30 * time.Second,
	WriteTimeout:      10 * time.Second,
	MaxConns:          64,
	SpareConns:        4,
	MaxFollowers:      16,
	SocketCheck:       2 * time.Second,
}

// connLimiter counts the connections of every listener it wraps: those
// accepted beyond max+spare are closed as soon as they are accepted, so
// that init holds at most max+spare, however many callers try.
//
// Accepting never waits for a free slot: a connection left waiting in the
// kernel's queue would be identified only when accepted, long after its
// caller connected, which widens the window in which the caller's pid can
// be reused by another process.
type connLimiter struct {
	max, spare int

	mu       sync.Mutex
	served   int
	refusing int
	full     bool // refusals were logged since the last free slot
}

type connLimitListener struct {
	net.Listener
	lim *connLimiter
}

// limitedConn is one accepted connection; refused ones get a 503.
type limitedConn struct {
	net.Conn
	refused bool
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// unwrapConn returns the connection the kernel accepted, for its peer
// credentials.
func unwrapConn(c net.Conn) net.Conn {
	if lc, ok := c.(*limitedConn); ok {
		return lc.Conn
	}
	return c
}

func (lim *connLimiter) wrap(l net.Listener) net.Listener {
	return &connLimitListener{Listener: l, lim: lim}
}

func (l *connLimitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if lc := l.lim.admit(c); lc != nil {
			return lc, nil
		}
		c.Close()
	}
}

// admit counts c in, as served or refused, or returns nil when there is
// no room even to refuse it.
func (lim *connLimiter) admit(c net.Conn) *limitedConn {
	lim.mu.Lock()
	defer lim.mu.Unlock()
	switch {
	case lim.served < lim.max:
		lim.served++
		return &limitedConn{Conn: c, release: lim.releaser(&lim.served)}
	case lim.refusing < lim.spare:
		lim.refusing++
		lim.logFull()
		return &limitedConn{Conn: c, refused: true, release: lim.releaser(&lim.refusing)}
	}
	lim.logFull()
	return nil
}

func (lim *connLimiter) releaser(n *int) func() {
	return func() {
		lim.mu.Lock()
		defer lim.mu.Unlock()
		*n--
		if lim.served < lim.max {
			lim.full = false
		}
	}
}

// logFull says once per episode that callers are being turned away, so
// that a flood of connections does not become a flood of log lines.
func (lim *connLimiter) logFull() {
	if !lim.full {
		lim.full = true
		slog.Warn("control API: too many connections, refusing more", "max", lim.max)
	}
}
