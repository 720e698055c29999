package observer

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/init/handoff"
	"github.com/minikit/minikit/internal/control"
	"github.com/minikit/minikit/internal/control/controltest"
	"github.com/minikit/minikit/internal/observe"
)

// The observer ships what init hands it, serves init's metrics with its
// own shipping figures, and ends when init says the system shuts down.
func TestTheObserverShipsAndServes(t *testing.T) {
	b := controltest.NewBackend(control.Service{Name: "crasher", State: control.StateBackoff, Restarts: 2})
	client := controltest.Serve(t, b, control.DefaultLimits, controltest.Root())

	collector, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer collector.Close()
	received := make(chan map[string]string, 100)
	go func() {
		c, err := collector.Accept()
		if err != nil {
			return
		}
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			var m map[string]string
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				received <- m
			}
		}
	}()
	metricsL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dest := "json+tcp://" + collector.Addr().String()
	args := observe.ObserverArgs{BootID: "boot-1", Control: client.Socket,
		Config: observe.Config{Logs: []string{dest}, Metrics: metricsL.Addr().String()}}

	sender, peer, err := handoff.Pair()
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() {
		ended <- run(args, peer, make(chan os.Signal), func() (net.Listener, error) { return metricsL, nil })
	}()
	sender.Send("sshd", "output", time.Now(), []string{"hello"})
	select {
	case m := <-received:
		if m["service"] != "sshd" || m["msg"] != "hello" || m["boot_id"] != "boot-1" {
			t.Errorf("the collector received %v", m)
		}
	case <-time.After(time.Minute):
		t.Fatal("the line never reached the collector")
	}

	var text string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + metricsL.Addr().String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		text = string(body)
		if strings.Contains(text, `minikit_logship_sent_lines_total{destination="`+dest+`"} 1`) || time.Now().After(deadline) {
			break
		}
	}
	for _, want := range []string{
		`minikit_service_restarts_total{service="crasher"} 2`,
		`minikit_logship_sent_lines_total{destination="` + dest + `"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the metrics lack %s:\n%s", want, text)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sender.End(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ended:
		if err != nil {
			t.Errorf("the observer ended with %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the observer did not end when init said the system shuts down")
	}
}
