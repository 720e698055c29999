// Package logship sends init's logs off the machine: every line of every
// service, onboot container and init itself, to syslog receivers (RFC
// 5424 over UDP, or over TCP or TLS with RFC 6587's octet counting) and
// to JSON-lines receivers over TCP.
//
// Shipping must never hold up a service or PID 1: Offer only appends to a
// bounded queue, and one goroutine per destination sends what the queue
// holds, in order, reconnecting with a backoff while the destination is
// down. Lines wait in the queue meanwhile; past its bound the oldest are
// dropped and counted, and the count is sent in the stream, as a line of
// its own, once the destination takes lines again.
package logship

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/minikit/minikit/internal/control"
)

// Entry is one line of a log.
type Entry struct {
	Time time.Time
	// Service is the log's name: a service, an onboot container
	// ("000-NAME"), or "init".
	Service string
	// Stream says where the line came from: "output" for a container
	// (its stdout and stderr share one pipe), "log" for init's own.
	Stream  string
	Message string
}

// Kinds of destination.
const (
	SyslogUDP = "syslog+udp"
	SyslogTCP = "syslog+tcp"
	SyslogTLS = "syslog+tls"
	JSONTCP   = "json+tcp"
)

// Destination is where a shipper sends lines.
type Destination struct {
	Kind string // SyslogUDP, SyslogTCP, SyslogTLS or JSONTCP
	Addr string // HOST:PORT
}

func (d Destination) String() string { return d.Kind + "://" + d.Addr }

// ParseDestination reads a destination as the kernel command line and the
// spec write it: KIND://HOST:PORT.
func ParseDestination(s string) (Destination, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Destination{}, fmt.Errorf("log destination %q: %w", s, err)
	}
	d := Destination{Kind: u.Scheme, Addr: u.Host}
	switch d.Kind {
	case SyslogUDP, SyslogTCP, SyslogTLS, JSONTCP:
	default:
		return Destination{}, fmt.Errorf("log destination %q: unknown kind %q (want %s, %s, %s or %s)", s, u.Scheme, SyslogUDP, SyslogTCP, SyslogTLS, JSONTCP)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return Destination{}, fmt.Errorf("log destination %q: want KIND://HOST:PORT and nothing more", s)
	}
	host, port, err := net.SplitHostPort(d.Addr)
	if err != nil || host == "" || port == "" {
		return Destination{}, fmt.Errorf("log destination %q: %q is not HOST:PORT", s, d.Addr)
	}
	return d, nil
}

// Config is what every shipper of a system shares.
type Config struct {
	// Host is the machine's host name; "" reads it at each batch, for a
	// system whose onboot containers name it after the shippers start.
	Host   string
	BootID string // /proc/sys/kernel/random/boot_id
	// QueueLines bounds the lines waiting for the destination; 0 means
	// DefaultQueueLines.
	QueueLines int
	// QueueBytes bounds the memory those lines take, so that a flood of
	// long lines while the destination is down cannot grow PID 1 past
	// it; 0 means DefaultQueueBytes.
	QueueBytes int
	// RootCAs checks a syslog+tls receiver's certificate; nil means the
	// system's.
	RootCAs *x509.CertPool
	// Dial connects; nil means a net.Dialer with a timeout (tests
	// replace it).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// DefaultQueueLines keeps about a minute of a busy system's lines, and
// DefaultQueueBytes bounds what they may cost whatever their length (a
// line is cut at 4 KiB before it gets here). The queue's memory grows with
// what waits, not with the bound.
const (
	DefaultQueueLines = 40000
	DefaultQueueBytes = 8 << 20
)

// entryOverhead is what a queued line costs beside its text: the Entry
// and its strings' headers.
const entryOverhead = 96

func entrySize(e Entry) int { return entryOverhead + len(e.Message) + len(e.Service) + len(e.Stream) }

// Stats is what a shipper has done, as the control API carries it.
type Stats = control.ShipStats

// Shipper sends the lines offered to it to one destination.
type Shipper struct {
	dest Destination
	cfg  Config

	mu      sync.Mutex
	queue   []Entry // a circular buffer, grown by need up to cfg.QueueLines
	head, n int
	bytes   int           // entrySize of the lines queued
	headID  uint64        // the number of the line at head; lines are numbered as offered
	wake    chan struct{} // closed and replaced when lines arrive
	dropped uint64        // since the last line that told of drops
	stats   Stats
	// inflightEnd is the number after the last line of the batch being
	// sent. A full queue that makes room by its oldest line while that
	// line is in flight loses nothing unless the send fails: evicted
	// holds the logs of such lines until the send's outcome is known.
	inflightEnd uint64
	evicted     []string
}

// New makes a shipper for dest; Run sends.
func New(dest Destination, cfg Config) *Shipper {
	if cfg.QueueLines <= 0 {
		cfg.QueueLines = DefaultQueueLines
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	if cfg.Dial == nil {
		d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
		cfg.Dial = d.DialContext
	}
	return &Shipper{dest: dest, cfg: cfg, queue: make([]Entry, min(cfg.QueueLines, 64)), wake: make(chan struct{}),
		stats: Stats{Destination: dest.String()}}
}

// Offer queues a line. It never blocks: when the queue is full, in lines
// or in bytes, the oldest lines are dropped and counted.
func (s *Shipper) Offer(e Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	size := entrySize(e)
	for s.n > 0 && (s.n == s.cfg.QueueLines || s.bytes+size > s.cfg.QueueBytes) {
		if s.headID < s.inflightEnd {
			s.evicted = append(s.evicted, s.queue[s.head].Service)
		} else {
			s.countDrops(s.queue[s.head].Service, 1)
		}
		s.popHead()
	}
	if s.n == len(s.queue) {
		s.grow()
	}
	s.queue[(s.head+s.n)%len(s.queue)] = e
	s.n++
	s.bytes += size
	close(s.wake)
	s.wake = make(chan struct{})
}

// popHead takes the oldest line out of the queue; s.mu is held.
func (s *Shipper) popHead() {
	s.bytes -= entrySize(s.queue[s.head])
	s.queue[s.head] = Entry{}
	s.head = (s.head + 1) % len(s.queue)
	s.headID++
	s.n--
}

// grow doubles the queue's room, up to its bound in lines; s.mu is held.
func (s *Shipper) grow() {
	q := make([]Entry, min(2*len(s.queue), s.cfg.QueueLines))
	for i := range s.n {
		q[i] = s.queue[(s.head+i)%len(s.queue)]
	}
	s.queue, s.head = q, 0
}

// countDrops counts n lines of the log service as lost; s.mu is held.
func (s *Shipper) countDrops(service string, n uint64) {
	if s.stats.DroppedBy == nil {
		s.stats.DroppedBy = map[string]uint64{}
	}
	s.stats.DroppedBy[service] += n
	s.dropped += n
	s.stats.Dropped += n
}

// Lost counts n lines of the log service as dropped before they were
// offered (init could not hand them to the observer): they are told of in
// the stream and in the stats like the queue's own drops.
func (s *Shipper) Lost(service string, n uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.countDrops(service, n)
	close(s.wake)
	s.wake = make(chan struct{})
}

// Stats reports what the shipper has done so far.
func (s *Shipper) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Queued = s.n
	st.DroppedBy = maps.Clone(s.stats.DroppedBy)
	return st
}

// peek returns up to max lines from the front of the queue, with, first, a
// line telling of the lines dropped since the last one that did; end is
// the number after the last queued line in the batch, for done; more is
// closed when more lines arrive.
func (s *Shipper) peek(max int) (batch []Entry, told, end uint64, more <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dropped > 0 {
		told = s.dropped
		batch = append(batch, Entry{Time: time.Now(), Service: "init", Stream: "log",
			Message: fmt.Sprintf("logship: %d lines dropped before they reached %s: it was unreachable and its queue full, or init could not hand them over", told, s.dest)})
	}
	taken := 0
	for ; taken < s.n && len(batch) < max; taken++ {
		batch = append(batch, s.queue[(s.head+taken)%len(s.queue)])
	}
	s.inflightEnd = s.headID + uint64(taken)
	return batch, told, s.inflightEnd, s.wake
}

// done removes from the queue the lines of a batch that was sent, those
// numbered below end: the ones the queue dropped meanwhile are gone
// already. told is the count of drops the batch told of.
func (s *Shipper) done(end, told uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropped -= told
	s.stats.Sent += uint64(len(s.evicted))
	s.evicted, s.inflightEnd = s.evicted[:0], 0
	for s.n > 0 && s.headID < end {
		s.popHead()
		s.stats.Sent++
	}
}

// failed counts as lost the lines of a batch that could not be sent and
// that the queue made room by meanwhile: they are in no later batch.
func (s *Shipper) failed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range s.evicted {
		s.countDrops(name, 1)
	}
	s.evicted, s.inflightEnd = s.evicted[:0], 0
}

func (s *Shipper) setState(connected bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Connected = connected
	if err != nil {
		s.stats.LastError = err.Error()
	}
}

// Backoff between two attempts to reach a destination that is down.
const (
	firstRetry = 500 * time.Millisecond
	maxRetry   = 15 * time.Second
	// writeTimeout bounds one write: a receiver that stops reading is a
	// receiver that is down.
	writeTimeout = 10 * time.Second
	batchLines   = 256
)

// Run sends queued lines until ctx ends. Lines leave the queue only once
// written: after a failed write they are sent again on the next
// connection, so a receiver may see a line twice but misses none that
// stayed within the bound.
func (s *Shipper) Run(ctx context.Context) {
	var conn net.Conn
	var gone <-chan struct{} // closed once the receiver closed its end
	hangUp := func(err error) {
		conn.Close()
		conn, gone = nil, nil
		s.setState(false, err)
	}
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	retry := firstRetry
	var seq uint64
	for {
		batch, told, end, more := s.peek(batchLines)
		if len(batch) == 0 {
			select {
			case <-more:
			case <-gone:
				hangUp(errReceiverClosed)
			case <-ctx.Done():
				return
			}
			continue
		}
		select {
		case <-gone:
			hangUp(errReceiverClosed)
		default:
		}
		if conn == nil {
			c, err := s.dial(ctx)
			if err != nil {
				s.setState(false, err)
				select {
				case <-time.After(retry):
				case <-ctx.Done():
					return
				}
				retry = min(2*retry, maxRetry)
				continue
			}
			conn, retry = c, firstRetry
			gone = s.watch(conn)
			s.setState(true, nil)
		}
		if err := s.send(conn, batch, &seq); err != nil {
			hangUp(err)
			s.failed()
			continue
		}
		s.done(end, told)
	}
}

// errReceiverClosed is the state of a destination whose receiver closed
// the connection.
var errReceiverClosed = errors.New("the receiver closed the connection")

// watch reads what a stream receiver sends (nothing, as a rule) to learn
// at once when it closes its end: a receiver that shuts down in good
// order, reading what was sent until the shipper hangs up, then loses no
// line, where a write into a connection it no longer reads would be lost
// unseen. A datagram destination has no end to watch.
func (s *Shipper) watch(c net.Conn) <-chan struct{} {
	if s.dest.Kind == SyslogUDP {
		return nil
	}
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}()
	return gone
}

func (s *Shipper) dial(ctx context.Context) (net.Conn, error) {
	network := "tcp"
	if s.dest.Kind == SyslogUDP {
		network = "udp"
	}
	c, err := s.cfg.Dial(ctx, network, s.dest.Addr)
	if err != nil {
		return nil, err
	}
	if s.dest.Kind == SyslogTLS {
		host, _, _ := net.SplitHostPort(s.dest.Addr)
		tc := tls.Client(c, &tls.Config{ServerName: host, RootCAs: s.cfg.RootCAs, MinVersion: tls.VersionTLS12})
		hctx, cancel := context.WithTimeout(ctx, writeTimeout)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("TLS with %s: %w", s.dest.Addr, err)
		}
		c = tc
	}
	return c, nil
}

// send writes a batch: datagrams for UDP, one stream write otherwise.
func (s *Shipper) send(c net.Conn, batch []Entry, seq *uint64) error {
	if err := c.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return err
	}
	host := s.cfg.Host
	if host == "" {
		host, _ = os.Hostname()
	}
	var buf []byte
	for _, e := range batch {
		*seq++
		switch s.dest.Kind {
		case JSONTCP:
			buf = AppendJSON(buf, e, host, s.cfg.BootID)
		case SyslogUDP:
			msg := AppendSyslog(nil, e, host, s.cfg.BootID, *seq)
			if _, err := c.Write(truncateDatagram(msg)); err != nil {
				return err
			}
		default:
			buf = AppendOctetCounted(buf, AppendSyslog(nil, e, host, s.cfg.BootID, *seq))
		}
	}
	if len(buf) == 0 {
		return nil
	}
	_, err := c.Write(buf)
	return err
}

// maxDatagram keeps a syslog datagram within what every receiver takes
// (RFC 5426 asks receivers for 2048 octets at least).
const maxDatagram = 2048

func truncateDatagram(msg []byte) []byte {
	if len(msg) <= maxDatagram {
		return msg
	}
	return msg[:maxDatagram]
}

// ErrNoDestinations is what ParseAll says of an empty list.
var ErrNoDestinations = errors.New("no log destination")

// ParseAll reads destinations, naming each bad one.
func ParseAll(list []string) ([]Destination, error) {
	var out []Destination
	var errs []error
	for _, s := range list {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		d, err := ParseDestination(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, d)
	}
	return out, errors.Join(errs...)
}

// Drain waits until every queued line was sent, or ctx ends: a last,
// bounded chance for the lines of a system that shuts down.
func (s *Shipper) Drain(ctx context.Context) bool {
	for {
		s.mu.Lock()
		empty, more := s.n == 0 && s.dropped == 0, s.wake
		s.mu.Unlock()
		if empty {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-more:
		case <-time.After(20 * time.Millisecond):
		}
	}
}
