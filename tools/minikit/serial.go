package main

import (
	"io"
	"net"
	"sync"
	"time"
)

// serialWriteTimeout is how long a serial socket client may take to accept
// console output before it is dropped: a stuck client must not stall the
// guest's console.
const serialWriteTimeout = time.Second

// serialHub shares a machine's serial console between the clients of its
// socket: each sees the output from when it connected, and what any of
// them types goes to the guest.
type serialHub struct {
	input io.Writer // the guest's console input

	mu      sync.Mutex
	clients map[net.Conn]bool
}

func newSerialHub() *serialHub {
	return &serialHub{clients: map[net.Conn]bool{}}
}

// serve accepts clients until l is closed.
func (h *serialHub) serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		h.clients[c] = true
		h.mu.Unlock()
		go func() {
			io.Copy(h.input, c)
			h.drop(c)
		}()
	}
}

// Write sends console output to every client.
func (h *serialHub) Write(p []byte) (int, error) {
	h.mu.Lock()
	clients := make([]net.Conn, 0, len(h.clients))
	for c := range h.clients {
		clients = append(clients, c)
	}
	h.mu.Unlock()
	for _, c := range clients {
		c.SetWriteDeadline(time.Now().Add(serialWriteTimeout))
		if _, err := c.Write(p); err != nil {
			h.drop(c)
		}
	}
	return len(p), nil
}

func (h *serialHub) drop(c net.Conn) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
	c.Close()
}

func (h *serialHub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		c.Close()
		delete(h.clients, c)
	}
}
