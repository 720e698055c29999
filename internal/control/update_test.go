package control_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/control"
	"github.com/minikit/minikit/internal/control/controltest"
)

// updateBackend is a backend that takes updates: it reads the whole body
// and reports what it read, or the error reading it gave.
type updateBackend struct {
	*controltest.Backend
	refuse error
	read   chan []byte
	failed chan error
}

func newUpdateBackend() *updateBackend {
	return &updateBackend{Backend: webBackend(), read: make(chan []byte, 1), failed: make(chan error, 1)}
}

func (u *updateBackend) UpdateStatus() control.UpdateStatus {
	return control.UpdateStatus{Updatable: true, Running: "A", Version: "v1", Slots: []control.SlotStatus{
		{Slot: "A", Version: "v1", State: "active", Running: true}, {Slot: "B", State: "empty"},
	}}
}

func (u *updateBackend) Update(ctx context.Context, body io.Reader) (control.UpdateResult, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		u.failed <- err
		return control.UpdateResult{}, err
	}
	u.read <- data
	if u.refuse != nil {
		return control.UpdateResult{}, u.refuse
	}
	return control.UpdateResult{Slot: "B", Version: "v2", Message: "slot B holds v2"}, nil
}

func (u *updateBackend) Rollback(ctx context.Context) (control.UpdateResult, error) {
	return control.UpdateResult{Slot: "B", Message: "slot B boots next"}, nil
}

func TestAnUpdateStreamsTheBundleToTheBackend(t *testing.T) {
	b := newUpdateBackend()
	c := serve(t, b)
	ctx := context.Background()
	st, err := c.UpdateStatus(ctx)
	if err != nil || st.Running != "A" || len(st.Slots) != 2 || st.Slots[1].State != "empty" {
		t.Fatalf("status: %+v, %v", st, err)
	}
	bundle := bytes.Repeat([]byte("bundle"), 200000)
	// A reader of unknown length, as svcctl's standard input is.
	res, err := c.Update(ctx, io.MultiReader(bytes.NewReader(bundle)), true)
	if err != nil || res.Slot != "B" || !res.Rebooting {
		t.Fatalf("update: %+v, %v", res, err)
	}
	if got := <-b.read; !bytes.Equal(got, bundle) {
		t.Errorf("the backend read %d bytes, not the %d sent", len(got), len(bundle))
	}
	select {
	case p := <-b.Powered:
		if p != "reboot" {
			t.Errorf("asked for %s, want reboot", p)
		}
	case <-time.After(hang):
		t.Error("update with reboot=true did not reboot")
	}
	if _, err := c.Rollback(ctx, false); err != nil {
		t.Errorf("rollback: %v", err)
	}
	select {
	case p := <-b.Powered:
		t.Errorf("a rollback without reboot asked for %s", p)
	default:
	}
}

func TestRefusalsAnswerWithTheirStatus(t *testing.T) {
	for code, err := range map[int]error{
		400: &control.Refusal{Status: control.StatusBadBundle, Err: errors.New("root.img does not match the signed manifest")},
		409: &control.Refusal{Status: control.StatusNotNow, Err: errors.New("slot B runs on trial")},
		500: errors.New("write slot A: input/output error"),
	} {
		b := newUpdateBackend()
		b.refuse = err
		_, got := serve(t, b).Update(context.Background(), strings.NewReader("x"), true)
		var ae *control.APIError
		if !errors.As(got, &ae) || ae.Code != code || ae.Body.Error != err.Error() {
			t.Errorf("%v: answered %v, want %d with the reason", err, got, code)
		}
		select {
		case p := <-b.Powered:
			t.Errorf("a refused update asked for %s", p)
		default:
		}
	}
}

// TestAnUpdateNeedsCapSysBoot: root without CAP_SYS_BOOT may read the
// slots but not change them, and the refusal is in the audit log.
func TestAnUpdateNeedsCapSysBoot(t *testing.T) {
	b := newUpdateBackend()
	logs := captureLog(t)
	c := controltest.Serve(t, b, control.DefaultLimits, &control.Caller{UID: 0, PID: 7, Cgroup: "/minikit/sshd"})
	if _, err := c.UpdateStatus(context.Background()); err != nil {
		t.Errorf("status without capabilities: %v", err)
	}
	for name, call := range map[string]func() error{
		"update":   func() error { _, err := c.Update(context.Background(), strings.NewReader("x"), false); return err },
		"rollback": func() error { _, err := c.Rollback(context.Background(), false); return err },
	} {
		err := call()
		var ae *control.APIError
		if !errors.As(err, &ae) || ae.Code != 403 || ae.Body.Capability != control.CapPower {
			t.Errorf("%s without CAP_SYS_BOOT: %v, want 403 naming it", name, err)
		}
		if want := "control: refused " + name + " action=" + name + " uid=0 pid=7 cgroup=/minikit/sshd missing=CAP_SYS_BOOT"; !strings.Contains(logs.String(), want) {
			t.Errorf("the audit log lacks %q:\n%s", want, logs)
		}
	}
	select {
	case <-b.read:
		t.Error("a refused caller's bundle reached the backend")
	default:
	}
}

func TestUpdatesAreAudited(t *testing.T) {
	b := newUpdateBackend()
	logs := captureLog(t)
	c := serve(t, b)
	if _, err := c.Update(context.Background(), strings.NewReader("x"), false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"control: update action=update uid=0 pid=1", "control: update done B action=update done target=B uid=0 pid=1 cgroup=/controltest version=v2 reboot=false"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the audit log lacks %q:\n%s", want, logs)
		}
	}
}

// TestAStalledUploadHoldsOnlyItsOwnRequest: a caller that starts sending
// a bundle and stops is dropped once ReadTimeout passes without a byte,
// and meanwhile other callers are answered.
func TestAStalledUploadHoldsOnlyItsOwnRequest(t *testing.T) {
	b := newUpdateBackend()
	lim := control.DefaultLimits
	lim.ReadTimeout = 300 * time.Millisecond
	c := controltest.Serve(t, b, lim, controltest.Root())
	conn, err := net.Dial("unix", c.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: init\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", control.PathUpdate)
	// The upload stalls here. Others are served all the while.
	if _, err := c.Services(context.Background()); err != nil {
		t.Fatalf("a request while an upload stalls: %v", err)
	}
	select {
	case err := <-b.failed:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("the stalled upload ended with %v, want a timeout", err)
		}
	case <-b.read:
		t.Fatal("a stalled upload reached the backend whole")
	case <-time.After(hang):
		t.Fatal("a stalled upload was never dropped")
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("the stalled upload was answered %s", resp.Status)
		}
	}
}
