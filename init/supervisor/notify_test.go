package supervisor

import (
	"path/filepath"
	"testing"
	"time"
)

func TestParseNotify(t *testing.T) {
	m := parseNotify([]byte("READY=1\nSTATUS=serving 3 clients\nWATCHDOG=1\nWATCHDOG_USEC=2500000\nMAINPID=7\ngarbage\n"))
	if !m.ready || m.status == nil || *m.status != "serving 3 clients" || !m.watchdog || m.watchdogTimeout != 2500*time.Millisecond {
		t.Errorf("parseNotify = %+v", m)
	}
	if m := parseNotify([]byte("READY=0\nWATCHDOG=trigger")); m.ready || !m.watchdogTrigger || m.watchdog {
		t.Errorf("READY=0 and WATCHDOG=trigger read as %+v", m)
	}
	if m := parseNotify([]byte("WATCHDOG_USEC=-5\nWATCHDOG_USEC=x")); m.watchdogTimeout != 0 {
		t.Errorf("a bad WATCHDOG_USEC armed a watchdog of %v", m.watchdogTimeout)
	}
}

func TestNotifySocketPassesDatagrams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify", "svc")
	sock, err := listenNotify(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan notifyMsg, 1)
	go sock.serve(func(m notifyMsg) { got <- m })
	defer sock.close()
	sendNotify(t, path, "READY=1")
	select {
	case m := <-got:
		if !m.ready {
			t.Errorf("got %+v", m)
		}
	case <-time.After(hang):
		t.Fatal("the datagram never arrived")
	}
}
