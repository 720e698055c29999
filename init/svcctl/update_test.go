package svcctl

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minikit/minikit/internal/control"
	"github.com/minikit/minikit/internal/control/controltest"
)

// updatingInit is a backend that takes updates and remembers the last
// bundle it was sent.
type updatingInit struct {
	*controltest.Backend
	got    chan string
	refuse error
}

func (u *updatingInit) UpdateStatus() control.UpdateStatus {
	return control.UpdateStatus{Updatable: true, Key: "0011223344556677", Running: "B", Version: "v2", GraceSeconds: 60,
		Slots: []control.SlotStatus{
			{Slot: "A", Version: "v3", State: "bad", Note: "its trial boot failed: service web exited 3"},
			{Slot: "B", Version: "v2", State: "active", Running: true},
		}}
}

func (u *updatingInit) Update(_ context.Context, body io.Reader) (control.UpdateResult, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		return control.UpdateResult{}, err
	}
	u.got <- string(data)
	if u.refuse != nil {
		return control.UpdateResult{}, u.refuse
	}
	return control.UpdateResult{Slot: "A", Version: "v4", Message: "slot A now holds v4: it boots once at the next boot"}, nil
}

func (u *updatingInit) Rollback(context.Context) (control.UpdateResult, error) {
	return control.UpdateResult{Slot: "A", Message: "slot A boots once at the next boot"}, nil
}

func serveUpdates(t *testing.T, caller *control.Caller) (*updatingInit, map[string]string) {
	t.Helper()
	u := &updatingInit{Backend: controltest.NewBackend(), got: make(chan string, 1)}
	c := controltest.Serve(t, u, control.DefaultLimits, caller)
	return u, map[string]string{"MINIKIT_SOCKET": c.Socket}
}

func TestUpdateSendsAFileOrStandardInput(t *testing.T) {
	u, env := serveUpdates(t, controltest.Root())
	file := filepath.Join(t.TempDir(), "v4.update")
	os.WriteFile(file, []byte("from a file"), 0o644)
	code, out, errOut := svcctlEnv(env, "update", file)
	if code != 0 || <-u.got != "from a file" || !strings.Contains(out, "slot A now holds v4") {
		t.Errorf("svcctl update FILE: %d %q %q", code, out, errOut)
	}
	stdin = strings.NewReader("from standard input")
	t.Cleanup(func() { stdin = os.Stdin })
	code, out, _ = svcctlEnv(env, "update", "--reboot", "-")
	if code != 0 || <-u.got != "from standard input" || !strings.Contains(out, "rebooting") {
		t.Errorf("svcctl update --reboot -: %d %q", code, out)
	}
	if p := <-u.Powered; p != "reboot" {
		t.Errorf("--reboot asked for %q", p)
	}
}

func TestUpdateStatusShowsBothSlots(t *testing.T) {
	_, env := serveUpdates(t, controltest.Root())
	code, out, _ := svcctlEnv(env, "update", "status")
	want := "running: slot B, version v2\n" +
		"takes updates signed by key 0011223344556677; an update is good once healthy for 60s\n\n" +
		"SLOT  VERSION  STATE   NOTE\n" +
		"A     v3       bad     its trial boot failed: service web exited 3\n" +
		"B     v2       active  \n"
	if code != 0 || out != want {
		t.Errorf("svcctl update status = %d\n%s\nwant\n%s", code, out, want)
	}
}

func TestUpdateRefusalsExitAsOtherFailures(t *testing.T) {
	u, env := serveUpdates(t, controltest.Root())
	u.refuse = &control.Refusal{Status: control.StatusBadBundle, Err: errors.New("the bundle's signature does not verify with this system's key")}
	stdin = strings.NewReader("signed by someone else")
	t.Cleanup(func() { stdin = os.Stdin })
	code, _, errOut := svcctlEnv(env, "update", "-")
	if code != exitFailed || !strings.Contains(errOut, "signature does not verify") {
		t.Errorf("a refused bundle: exit %d, %q", code, errOut)
	}
	if code, _, errOut := svcctlEnv(env, "update"); code != exitUsage {
		t.Errorf("svcctl update without a file: exit %d %q", code, errOut)
	}
	_, env = serveUpdates(t, &control.Caller{UID: 0, PID: 9})
	code, _, errOut = svcctlEnv(env, "rollback")
	if code != exitRefused || !strings.Contains(errOut, "CAP_SYS_BOOT") {
		t.Errorf("rollback without CAP_SYS_BOOT: exit %d %q", code, errOut)
	}
}
