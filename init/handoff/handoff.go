// Package handoff carries every log line from PID 1 to the observer, the
// process that ships them off the machine (init/observer), and the
// observer's shipping figures back.
//
// The two ends are a SOCK_SEQPACKET socket pair that init makes once and
// keeps for its whole life: each line is one message, so a line is handed
// over whole or not at all, and the kernel's socket buffer is the queue
// between them. Init writes without ever waiting: when the buffer is full
// (the observer is stuck, or dead and not yet restarted) the line is
// dropped and counted, and the count is handed over once there is room
// again. Since init holds both ends, an observer that dies leaves the
// lines it had not read in the socket, and its successor reads them.
package handoff

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minikit/minikit/internal/control"
)

// Message kinds, the first byte of each message.
const (
	kindLine  = 'L' // init → observer: UNIXNANO \0 LOG \0 STREAM \0 TEXT
	kindLost  = 'D' // init → observer: LOG \0 COUNT, lines init dropped
	kindEnd   = 'E' // init → observer: the system shuts down, nothing follows
	kindStats = 'S' // observer → init: JSON []control.ShipStats
)

// MaxMessage bounds a message: a line is cut at 4 KiB before it gets
// here, and the stats of a few destinations with a few hundred logs each
// fit.
const MaxMessage = 256 << 10

// sendBuffer is the socket buffer init's lines wait in while the observer
// is busy or restarting: several seconds of a flood.
const sendBuffer = 4 << 20

// Pair makes the two ends: init keeps the first (a Sender), the observer
// gets the second as a file it inherits.
func Pair() (*Sender, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("log hand-off socket pair: %w", err)
	}
	// Raised past the system's wmem_max where init may (it is root);
	// otherwise the system's bound, which only drops lines sooner.
	if unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sendBuffer) != nil {
		_ = unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF, sendBuffer)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, nil, fmt.Errorf("log hand-off socket: %w", err)
	}
	conn, err := fileConn(os.NewFile(uintptr(fds[0]), "handoff"))
	if err != nil {
		unix.Close(fds[1])
		return nil, nil, err
	}
	// Writes go straight to the descriptor, which is non-blocking and
	// never closed: the poller, which would wait for room, has no part
	// in them.
	rc, err := conn.SyscallConn()
	fd := -1
	if err == nil {
		err = rc.Control(func(f uintptr) { fd = int(f) })
	}
	if err != nil {
		conn.Close()
		unix.Close(fds[1])
		return nil, nil, fmt.Errorf("log hand-off socket: %w", err)
	}
	return &Sender{conn: conn, fd: fd, lost: map[string]uint64{}}, os.NewFile(uintptr(fds[1]), "handoff-observer"), nil
}

func fileConn(f *os.File) (*net.UnixConn, error) {
	c, err := net.FileConn(f)
	f.Close() // FileConn dups it
	if err != nil {
		return nil, fmt.Errorf("log hand-off socket: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("log hand-off socket: a %T, not a unix socket", c)
	}
	return uc, nil
}

// Sender is init's end.
type Sender struct {
	conn *net.UnixConn
	fd   int // conn's, for writes that never wait

	mu      sync.Mutex
	buf     []byte            // a message being made, kept for the next
	lost    map[string]uint64 // by log, not yet told to the observer
	dropped uint64            // in all, for init's own figures
	stats   []control.ShipStats
}

// Send hands lines of the log name over. It never blocks: a line the
// socket has no room for is dropped and counted.
func (s *Sender) Send(name, stream string, wall time.Time, lines []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buf
	defer func() { s.buf = b[:0] }()
	for i, l := range lines {
		if len(s.lost) > 0 && !s.tellLost() {
			s.drop(name, len(lines)-i)
			return
		}
		b = append(b[:0], kindLine)
		b = strconv.AppendInt(b, wall.UnixNano(), 10)
		b = append(b, 0)
		b = append(b, name...)
		b = append(b, 0)
		b = append(b, stream...)
		b = append(b, 0)
		b = append(b, l...)
		if !s.send(b) {
			s.drop(name, len(lines)-i)
			return
		}
	}
}

func (s *Sender) drop(name string, n int) {
	s.lost[name] += uint64(n)
	s.dropped += uint64(n)
}

// tellLost hands over the counts of dropped lines, in the order of the
// logs' names; s.mu is held.
func (s *Sender) tellLost() bool {
	for _, name := range slices.Sorted(maps.Keys(s.lost)) {
		msg := fmt.Appendf(nil, "%c%s\x00%d", kindLost, name, s.lost[name])
		if !s.send(msg) {
			return false
		}
		delete(s.lost, name)
	}
	return true
}

// send writes one message if the socket has room now.
func (s *Sender) send(msg []byte) bool {
	for {
		err := unix.Send(s.fd, msg, unix.MSG_DONTWAIT)
		if err != unix.EINTR {
			return err == nil
		}
	}
}

// Dropped is how many lines init could not hand over.
func (s *Sender) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// End tells the observer that nothing follows, so that it sends what it
// holds and exits; it waits for room until ctx ends.
func (s *Sender) End(ctx context.Context) error {
	for {
		s.mu.Lock()
		ok := (len(s.lost) == 0 || s.tellLost()) && s.send([]byte{kindEnd})
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the observer took no more lines: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// ReadStats keeps the observer's last figures, for Stats, until the
// socket is closed; run it in a goroutine of its own.
func (s *Sender) ReadStats() {
	buf := make([]byte, MaxMessage)
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			return
		}
		if n == 0 || buf[0] != kindStats {
			continue
		}
		var st []control.ShipStats
		if json.Unmarshal(buf[1:n], &st) != nil {
			continue
		}
		s.mu.Lock()
		s.stats = st
		s.mu.Unlock()
	}
}

// Stats are the observer's figures, as it last sent them.
func (s *Sender) Stats() []control.ShipStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.stats)
}

// Line is one line handed over.
type Line struct {
	Time    time.Time
	Log     string
	Stream  string
	Message string
}

// Receiver is the observer's end.
type Receiver struct {
	conn *net.UnixConn
}

// NewReceiver takes the end the observer inherited.
func NewReceiver(f *os.File) (*Receiver, error) {
	c, err := fileConn(f)
	if err != nil {
		return nil, err
	}
	return &Receiver{conn: c}, nil
}

// ErrEnd is what Receive returns once init said nothing follows.
var ErrEnd = errors.New("init ended the hand-off: the system shuts down")

// Receive reads messages and calls line for each line and lost for each
// count of lines init dropped, until init ends the hand-off (ErrEnd) or
// the socket fails.
func (r *Receiver) Receive(line func(Line), lost func(log string, n uint64)) error {
	buf := make([]byte, MaxMessage)
	for {
		n, err := r.conn.Read(buf)
		if err != nil {
			return fmt.Errorf("log hand-off: %w", err)
		}
		if n == 0 {
			continue
		}
		msg := buf[1:n]
		switch buf[0] {
		case kindLine:
			f := bytes.SplitN(msg, []byte{0}, 4)
			if len(f) != 4 {
				continue
			}
			ns, err := strconv.ParseInt(string(f[0]), 10, 64)
			if err != nil {
				continue
			}
			line(Line{Time: time.Unix(0, ns), Log: string(f[1]), Stream: string(f[2]), Message: string(f[3])})
		case kindLost:
			name, count, ok := bytes.Cut(msg, []byte{0})
			if c, err := strconv.ParseUint(string(count), 10, 64); ok && err == nil {
				lost(string(name), c)
			}
		case kindEnd:
			return ErrEnd
		}
	}
}

// SendStats sends the observer's figures to init.
func (r *Receiver) SendStats(st []control.ShipStats) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if len(b)+1 > MaxMessage {
		return fmt.Errorf("shipping figures of %d bytes: more than a message holds", len(b))
	}
	_, err = r.conn.Write(append([]byte{kindStats}, b...))
	return err
}
