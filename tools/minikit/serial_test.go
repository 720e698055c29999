package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
)

// testHub serves a serialHub on l; what clients type goes to input.
func testHub(t *testing.T, l net.Listener, input io.Writer) *serialHub {
	t.Helper()
	h := newSerialHub()
	h.input = input
	go h.serve(l)
	t.Cleanup(func() {
		l.Close()
		h.closeAll()
	})
	return h
}

func listen(t *testing.T) (net.Listener, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), stateSerial)
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	return l, sock
}

func dial(t *testing.T, sock string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (h *serialHub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

func waitClients(t *testing.T, h *serialHub, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d serial clients", n), func() bool { return h.count() == n })
}

// consoleLines is console output, one numbered line per write.
func consoleLines(from, to int) [][]byte {
	var lines [][]byte
	for i := from; i < to; i++ {
		lines = append(lines, fmt.Appendf(nil, "[%6d.000000] console line %d\n", i, i))
	}
	return lines
}

// readInBackground reads from c until it has len(want) bytes or the connection
// ends, in the background.
func readInBackground(c net.Conn, n int) <-chan []byte {
	got := make(chan []byte, 1)
	go func() {
		buf := make([]byte, n)
		k, _ := io.ReadFull(c, buf)
		got <- buf[:k]
	}()
	return got
}

func TestSerialHubEveryClientGetsTheSameBytesInOrder(t *testing.T) {
	l, sock := listen(t)
	h := testHub(t, l, io.Discard)
	var clients []net.Conn
	for range 3 {
		clients = append(clients, dial(t, sock))
	}
	waitClients(t, h, 3)
	lines := consoleLines(0, 200)
	want := bytes.Join(lines, nil)
	var got []<-chan []byte
	for _, c := range clients {
		got = append(got, readInBackground(c, len(want)))
	}
	for _, line := range lines {
		if n, err := h.Write(line); n != len(line) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	for i, g := range got {
		if b := <-g; !bytes.Equal(b, want) {
			t.Errorf("client %d got %d bytes, not the %d written in order", i, len(b), len(want))
		}
	}
}

func TestSerialHubInputGoesToTheGuest(t *testing.T) {
	l, sock := listen(t)
	r, w := io.Pipe()
	testHub(t, l, w)
	a, b := dial(t, sock), dial(t, sock)
	for _, c := range []struct {
		conn net.Conn
		text string
	}{{a, "root\n"}, {b, "poweroff\n"}} {
		if _, err := c.conn.Write([]byte(c.text)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(c.text))
		if _, err := io.ReadFull(r, buf); err != nil || string(buf) != c.text {
			t.Errorf("the guest read %q (%v), want %q", buf, err, c.text)
		}
	}
}

func TestSerialHubDropsADisconnectedClient(t *testing.T) {
	l, sock := listen(t)
	h := testHub(t, l, io.Discard)
	gone, stays := dial(t, sock), dial(t, sock)
	waitClients(t, h, 2)
	lines := consoleLines(0, 100)
	want := bytes.Join(lines, nil)
	got := readInBackground(stays, len(want))
	h.Write(lines[0])
	gone.Close()
	// Dropped once the hub sees the end of its input.
	waitClients(t, h, 1)
	for _, line := range lines[1:] {
		h.Write(line)
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Errorf("the remaining client got %q, want %q", b, want)
	}
}

func TestSerialHubDropsAClientWhoseConnectionBroke(t *testing.T) {
	// A client that stopped reading and writing alike: only a write can
	// tell that it is gone.
	l, sock := listen(t)
	h := testHub(t, l, io.Discard)
	gone := dial(t, sock)
	waitClients(t, h, 1)
	gone.(*net.UnixConn).CloseRead()
	stays := dial(t, sock)
	waitClients(t, h, 2)
	lines := consoleLines(0, 100)
	want := bytes.Join(lines, nil)
	got := readInBackground(stays, len(want))
	for _, line := range lines {
		h.Write(line)
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Errorf("the remaining client got %d bytes, want %d", len(b), len(want))
	}
}

// wedgedListener hands out connections of which the first one's writes
// never complete, as a client's whose socket buffer is full and which
// never reads, and which no write deadline frees.
type wedgedListener struct {
	net.Listener
	once sync.Once
}

func (l *wedgedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	wedged := false
	l.once.Do(func() { wedged = true })
	if wedged {
		return &wedgedConn{Conn: c, closed: make(chan struct{})}, nil
	}
	return c, nil
}

type wedgedConn struct {
	net.Conn
	closeOnce sync.Once
	closed    chan struct{}
}

func (c *wedgedConn) Write(p []byte) (int, error) {
	<-c.closed
	return 0, net.ErrClosed
}

func (c *wedgedConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

func TestSerialHubAClientThatNeverReadsDoesNotBlockTheConsole(t *testing.T) {
	l, sock := listen(t)
	h := testHub(t, &wedgedListener{Listener: l}, io.Discard)
	dial(t, sock) // the wedged one
	waitClients(t, h, 1)
	reader := dial(t, sock)
	waitClients(t, h, 2)

	// The console writes in lockstep with the reading client, so that it
	// never falls behind: whatever happens is the stuck client's doing.
	lines := consoleLines(0, serialClientBacklogWrites+1000)
	written := make(chan error, 1)
	go func() {
		for _, line := range lines {
			h.Write(line)
			buf := make([]byte, len(line))
			if _, err := io.ReadFull(reader, buf); err != nil || !bytes.Equal(buf, line) {
				written <- fmt.Errorf("the reading client got %q (%v), want %q", buf, err, line)
				return
			}
		}
		written <- nil
	}()
	var err error
	waitFor(t, "the console to be written while a client never reads", func() bool {
		select {
		case err = <-written:
			return true
		default:
			return false
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// Dropped once it fell too far behind.
	waitClients(t, h, 1)
}

func TestSerialHubDropsAClientThatFellBehind(t *testing.T) {
	l, sock := listen(t)
	h := testHub(t, l, io.Discard)
	slow := dial(t, sock)
	waitClients(t, h, 1)
	// Far more than a socket buffer and the client's backlog hold.
	lines := consoleLines(0, 100000)
	for _, line := range lines {
		h.Write(line)
	}
	waitClients(t, h, 0)
	// It was disconnected: what it reads now is a beginning of the console
	// (as much as it was sent before it was dropped), then the end of the
	// connection.
	got, err := io.ReadAll(slow)
	if err != nil {
		t.Fatal(err)
	}
	if all := bytes.Join(lines, nil); len(got) >= len(all) || !bytes.HasPrefix(all, got) {
		t.Errorf("the dropped client read %d bytes, want a beginning of the %d written", len(got), len(all))
	}
}
