package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// A service with `notify: true` is ready when it says so, with the
// sd_notify protocol: a datagram of KEY=VALUE lines sent to the unix
// socket named by $NOTIFY_SOCKET. Each such service gets a socket of its
// own, made where no container reaches and bound into its container alone
// at control.NotifyDir/NAME, so a message's socket tells whose it is. Understood:
//
//	READY=1            the service is ready; services that depend on it start
//	STATUS=text        shown by `svcctl status`
//	WATCHDOG=1         the service is alive
//	WATCHDOG_USEC=n    arm (or change) the watchdog: without a WATCHDOG=1
//	                   every n µs the service is killed, and restarted as
//	                   its policy says
//	WATCHDOG=trigger   the watchdog fires at once
//
// Other keys (MAINPID, STOPPING, RELOADING, ERRNO, …) are accepted and
// ignored.

// notifyMsg is what one datagram said.
type notifyMsg struct {
	ready           bool
	status          *string
	watchdog        bool          // WATCHDOG=1
	watchdogTrigger bool          // WATCHDOG=trigger
	watchdogTimeout time.Duration // from WATCHDOG_USEC; 0 when not given
}

// parseNotify reads one sd_notify datagram. Malformed lines are skipped,
// as systemd does.
func parseNotify(b []byte) notifyMsg {
	var m notifyMsg
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		k, v, ok := bytes.Cut(line, []byte{'='})
		if !ok {
			continue
		}
		switch string(k) {
		case "READY":
			m.ready = m.ready || string(v) == "1"
		case "STATUS":
			s := string(v)
			m.status = &s
		case "WATCHDOG":
			switch string(v) {
			case "1":
				m.watchdog = true
			case "trigger":
				m.watchdogTrigger = true
			}
		case "WATCHDOG_USEC":
			if us, err := strconv.ParseUint(string(v), 10, 63); err == nil && us > 0 {
				m.watchdogTimeout = time.Duration(us) * time.Microsecond
			}
		}
	}
	return m
}

// notifySocket is one service's sd_notify socket.
type notifySocket struct {
	path string
	conn *net.UnixConn
}

// listenNotify creates the socket at path. It is writable by anyone who
// can reach it: its directory is root's alone, and inside the container
// it is the service's own.
func listenNotify(path string) (*notifySocket, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	_ = os.Remove(path) // from an earlier init, in host test mode
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		conn.Close()
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	return &notifySocket{path: path, conn: conn}, nil
}

// serve reads datagrams and passes each to handle until the socket is
// closed.
func (n *notifySocket) serve(handle func(notifyMsg)) {
	buf := make([]byte, 4096)
	for {
		k, _, err := n.conn.ReadFromUnix(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue // a datagram too large, say: drop it, keep serving
		}
		handle(parseNotify(buf[:k]))
	}
}

func (n *notifySocket) close() error {
	err := n.conn.Close()
	_ = os.Remove(n.path)
	return err
}
