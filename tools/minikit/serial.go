package main

import (
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// How far a serial socket client may fall behind the console, in bytes
// and in writes, before it is dropped. The guest's console never waits
// for a client: a client that stops reading (a suspended socat, a wedged
// connection) loses its connection instead of stalling the console for
// the terminal, the console log and every other client. A boot's burst of
// output fits many times over.
const (
	serialClientBacklog       = 1 << 20
	serialClientBacklogWrites = 4096
)

// serialCloseTimeout is how long, when the machine has stopped, a client
// may take to accept the console output it has not read yet.
const serialCloseTimeout = time.Second

// serialHub shares a machine's serial console between the clients of its
// socket: each sees the output from when it connected, and what any of
// them types goes to the guest.
type serialHub struct {
	input io.Writer // the guest's console input

	mu      sync.Mutex
	clients map[*serialClient]bool
	closed  bool
	senders sync.WaitGroup
}

// serialClient is one connection and the console output queued for it.
type serialClient struct {
	conn    net.Conn
	backlog chan []byte  // closed when the client is dropped
	pending atomic.Int64 // bytes in backlog
}

func newSerialHub() *serialHub {
	return &serialHub{clients: map[*serialClient]bool{}}
}

// serve accepts clients until l is closed.
func (h *serialHub) serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		cl := &serialClient{conn: c, backlog: make(chan []byte, serialClientBacklogWrites)}
		if !h.add(cl) {
			c.Close()
			continue
		}
		go h.send(cl)
		go func() {
			io.Copy(h.input, c)
			h.drop(cl)
		}()
	}
}

func (h *serialHub) add(cl *serialClient) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.clients[cl] = true
	h.senders.Add(1)
	return true
}

// send writes the client's backlog to it until it is dropped and its
// backlog drained, or a write fails.
func (h *serialHub) send(cl *serialClient) {
	defer h.senders.Done()
	defer cl.conn.Close()
	for p := range cl.backlog {
		if _, err := cl.conn.Write(p); err != nil {
			h.drop(cl)
			return
		}
		cl.pending.Add(-int64(len(p)))
	}
}

// Write queues console output for every client and never blocks on one:
// a client too far behind is dropped.
func (h *serialHub) Write(p []byte) (int, error) {
	// The caller may reuse p once Write returns.
	p = bytes.Clone(p)
	h.mu.Lock()
	defer h.mu.Unlock()
	for cl := range h.clients {
		if cl.pending.Add(int64(len(p))) <= serialClientBacklog {
			select {
			case cl.backlog <- p:
				continue
			default:
			}
		}
		h.dropLocked(cl)
		// Its sender may be stuck in a write: only closing the
		// connection frees it.
		cl.conn.Close()
	}
	return len(p), nil
}

// drop disconnects a client: its sender ends at once.
func (h *serialHub) drop(cl *serialClient) {
	h.mu.Lock()
	h.dropLocked(cl)
	h.mu.Unlock()
	cl.conn.Close()
}

func (h *serialHub) dropLocked(cl *serialClient) {
	if h.clients[cl] {
		delete(h.clients, cl)
		close(cl.backlog)
	}
}

// closeAll disconnects every client once it has the console output queued
// for it, waiting at most serialCloseTimeout for those that do not read.
func (h *serialHub) closeAll() {
	h.mu.Lock()
	h.closed = true
	draining := make([]*serialClient, 0, len(h.clients))
	for cl := range h.clients {
		draining = append(draining, cl)
		h.dropLocked(cl)
	}
	h.mu.Unlock()
	drained := make(chan struct{})
	go func() {
		h.senders.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(serialCloseTimeout):
		for _, cl := range draining {
			cl.conn.Close()
		}
		<-drained
	}
}
