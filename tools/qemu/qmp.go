package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// qmpEvent is an asynchronous QMP event such as SHUTDOWN.
type qmpEvent struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// qmpMessage is anything qemu sends on the QMP socket: the greeting, a
// command's reply or an event.
type qmpMessage struct {
	QMP    json.RawMessage `json:"QMP"`
	Event  string          `json:"event"`
	Data   json.RawMessage `json:"data"`
	Return json.RawMessage `json:"return"`
	Error  *qmpError       `json:"error"`
	ID     *int            `json:"id"`
}

type qmpError struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

func (e *qmpError) Error() string { return e.Class + ": " + e.Desc }

// errQMPClosed means qemu closed the QMP socket, which it does as it exits.
var errQMPClosed = errors.New("qmp connection closed")

// qmpClient is a minimal QMP client: enough to resume the guest, press the
// power button, quit, and hear about SHUTDOWN. Commands run one at a time,
// which is all we need and keeps replies trivially matched to requests.
type qmpClient struct {
	conn    net.Conn
	onEvent func(qmpEvent)

	cmdMu   sync.Mutex // one command in flight
	nextID  int
	replies chan qmpMessage
	closed  chan struct{} // closed when the reader stops
}

// dialQMP connects to qemu's QMP socket, retrying until qemu has created
// it, ctx ends, or exited closes (qemu died before listening). onEvent is
// called, from the reader goroutine, for every event.
func dialQMP(ctx context.Context, path string, exited <-chan struct{}, onEvent func(qmpEvent)) (*qmpClient, error) {
	var conn net.Conn
	var lastErr error
	for conn == nil {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", path)
		if err == nil {
			conn = c
			break
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to qmp socket %s: %w (last attempt: %v)", path, ctx.Err(), lastErr)
		case <-exited:
			return nil, fmt.Errorf("connect to qmp socket %s: qemu exited (last attempt: %v)", path, lastErr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	q := &qmpClient{
		conn:    conn,
		onEvent: onEvent,
		replies: make(chan qmpMessage, 1),
		closed:  make(chan struct{}),
	}
	dec := json.NewDecoder(conn)
	var greeting qmpMessage
	// Bound the handshake: a stuck qemu must not hang Start forever.
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetReadDeadline(deadline)
	}
	if err := dec.Decode(&greeting); err != nil || greeting.QMP == nil {
		conn.Close()
		return nil, fmt.Errorf("read qmp greeting from %s: %v", path, errOr(err, "not a QMP greeting"))
	}
	conn.SetReadDeadline(time.Time{})
	go q.read(dec)
	if err := q.execute(ctx, "qmp_capabilities"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("negotiate qmp capabilities on %s: %w", path, err)
	}
	return q, nil
}

func errOr(err error, fallback string) any {
	if err != nil {
		return err
	}
	return fallback
}

// read dispatches everything qemu sends until the socket closes.
func (q *qmpClient) read(dec *json.Decoder) {
	defer close(q.closed)
	for {
		var m qmpMessage
		if err := dec.Decode(&m); err != nil {
			return
		}
		switch {
		case m.Event != "":
			if q.onEvent != nil {
				q.onEvent(qmpEvent{Event: m.Event, Data: m.Data})
			}
		case m.ID != nil:
			select {
			case q.replies <- m:
			default: // a reply nobody waits for any more
			}
		}
	}
}

// execute runs one QMP command, with its arguments if any, and waits for
// its reply.
func (q *qmpClient) execute(ctx context.Context, command string, args ...map[string]any) error {
	q.cmdMu.Lock()
	defer q.cmdMu.Unlock()
	q.nextID++
	id := q.nextID
	// Drop a stale reply of an earlier command that gave up waiting.
	select {
	case <-q.replies:
	default:
	}
	msg := map[string]any{"execute": command, "id": id}
	if len(args) > 0 {
		msg["arguments"] = args[0]
	}
	req, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := q.conn.Write(append(req, '\n')); err != nil {
		return fmt.Errorf("qmp %s: %w", command, err)
	}
	for {
		select {
		case m := <-q.replies:
			if *m.ID != id {
				continue
			}
			if m.Error != nil {
				return fmt.Errorf("qmp %s: %w", command, m.Error)
			}
			return nil
		case <-q.closed:
			return fmt.Errorf("qmp %s: %w", command, errQMPClosed)
		case <-ctx.Done():
			return fmt.Errorf("qmp %s: %w", command, ctx.Err())
		}
	}
}

// Close drops the connection; qemu keeps running.
func (q *qmpClient) Close() error {
	err := q.conn.Close()
	<-q.closed
	if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}
