package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/internal/control"
	"github.com/minikit/minikit/internal/fat"
	"github.com/minikit/minikit/internal/grubenv"
	"github.com/minikit/minikit/internal/slots"
	"github.com/minikit/minikit/internal/update"
)

// init's side of updates (internal/slots, internal/update). A system
// booted from a slot of a disk knows that disk from its root image's
// partition, writes a signed update into the other slot (updateapply.go)
// and, on the trial boot of an update, decides whether to keep it
// (trial.go). The boot state is GRUB's environment block on the boot
// partition, read and rewritten in place (internal/fat): init never
// mounts the boot partition, and never writes the slot it runs from.

// updater is what init knows of its slots.
type updater struct {
	// running is the slot this boot runs; "" when it was not booted from
	// a slot, and then why says so.
	running string
	// trial says that this boot is a trial (minikit.trial).
	trial bool
	// devices are the block devices of the boot partition and the
	// slots, by partition number.
	devices map[int]string
	key     ed25519.PublicKey // nil: the system takes no updates
	config  bundle.UpdateSettings
	why     string // why the system takes no updates, when it does not

	// memAvailable says how much memory the spool of a bundle may take.
	memAvailable func() (int64, error)

	busy  sync.Mutex // one update or rollback at a time
	envMu sync.Mutex // the boot state is read and written under it
	// trialOver is set once this boot's trial was decided, by its
	// health or by a rollback: it is decided once.
	trialOver bool
}

// noUpdates is an updater that takes none, saying why.
func noUpdates(why string) *updater { return &updater{why: why, devices: map[int]string{}} }

// newUpdater finds the slots of the disk the root image came from: the
// partition under the verity device rootDev (dm-N), whose number must
// be the slot's the command line names (minikit.slot). It reads the key
// and settings from the root.
func newUpdater(cmdline, rootDev, sysBlock, devDir, root string) *updater {
	slot, trial := "", false
	for _, f := range strings.Fields(cmdline) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case slots.CmdlineSlot:
			slot = v
		case "minikit.trial":
			trial = true
		}
	}
	u := noUpdates("")
	u.trial = trial
	u.memAvailable = memAvailable
	u.readSettings(root)
	if !slots.Valid(slot) {
		u.why = slots.ErrNoSlots.Error()
		return u
	}
	if rootDev == "" {
		u.why = "the root is not a verified image on a disk"
		return u
	}
	part, devices, err := findPartitions(sysBlock, devDir, rootDev)
	if err != nil {
		u.why = "the slots of the disk: " + err.Error()
		return u
	}
	if part != slots.Partition(slot) {
		u.why = fmt.Sprintf("the command line says slot %s, but the root image is on partition %d, not %d", slot, part, slots.Partition(slot))
		return u
	}
	for _, n := range []int{slots.BootPartition, slots.Partition(slots.A), slots.Partition(slots.B)} {
		if devices[n] == "" {
			u.why = fmt.Sprintf("the disk has no partition %d", n)
			return u
		}
	}
	u.running, u.devices = slot, devices
	return u
}

// readSettings reads the key updates must be signed with and the
// update settings from the root.
func (u *updater) readSettings(root string) {
	u.config.GraceSeconds = 60
	if data, err := os.ReadFile(filepath.Join(root, bundle.UpdateConfig)); err == nil {
		if err := json.Unmarshal(data, &u.config); err != nil {
			slog.Warn("update settings: "+err.Error(), "file", bundle.UpdateConfig)
		}
	}
	data, err := os.ReadFile(filepath.Join(root, bundle.UpdateKey))
	if err != nil {
		return
	}
	if u.key, err = update.ParsePublicKey(data); err != nil {
		slog.Error("the update key is unreadable: no update will be taken: "+err.Error(), "file", bundle.UpdateKey)
	}
}

// findPartitions finds the partition under the device-mapper device
// dmName (its one underlying device), its number, and every partition
// of its disk by number.
func findPartitions(sysBlock, devDir, dmName string) (int, map[int]string, error) {
	under, err := os.ReadDir(filepath.Join(sysBlock, dmName, "slaves"))
	if err != nil || len(under) != 1 {
		return 0, nil, fmt.Errorf("%s is not on one device (%d, %v)", dmName, len(under), err)
	}
	part := under[0].Name()
	n, err := partitionNumber(sysBlock, part)
	if err != nil {
		return 0, nil, fmt.Errorf("the root image's device %s is not a partition of a disk", part)
	}
	real, err := filepath.EvalSymlinks(filepath.Join(sysBlock, part))
	if err != nil {
		return 0, nil, err
	}
	disk := filepath.Dir(real)
	entries, err := os.ReadDir(disk)
	if err != nil {
		return 0, nil, err
	}
	devices := map[int]string{}
	for _, e := range entries {
		if k, err := partitionNumber(disk, e.Name()); err == nil {
			devices[k] = filepath.Join(devDir, e.Name())
		}
	}
	return n, devices, nil
}

func partitionNumber(dir, name string) (int, error) {
	data, err := os.ReadFile(filepath.Join(dir, name, "partition"))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// slotDevice is the block device of slot.
func (u *updater) slotDevice(slot string) string { return u.devices[slots.Partition(slot)] }

// bootFS opens the boot partition, for writing when rw.
func (u *updater) bootFS(rw bool) (*os.File, *fat.FS, error) {
	flag := os.O_RDONLY
	if rw {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(u.devices[slots.BootPartition], flag, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("the boot partition: %w", err)
	}
	fs, err := fat.Open(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("the boot partition: %w", err)
	}
	return f, fs, nil
}

// readView reads the boot state and both slots' scripts.
func (u *updater) readView() (slots.View, grubenv.Env, error) {
	v := slots.View{Running: u.running, Scripts: map[string]*slots.Script{}}
	if u.running == "" {
		return v, nil, nil
	}
	f, fs, err := u.bootFS(false)
	if err != nil {
		return v, nil, err
	}
	defer f.Close()
	block, err := fs.ReadFile(slots.EnvPath)
	if err != nil {
		return v, nil, err
	}
	env, err := grubenv.Parse(block)
	if err != nil {
		return v, nil, fmt.Errorf("%s: %w", slots.EnvPath, err)
	}
	v.State = slots.StateFrom(env)
	for _, s := range slots.Names {
		data, err := fs.ReadFile(slots.ScriptPath(s))
		if err != nil {
			return v, nil, err
		}
		if sc, err := slots.ParseScript(data); err == nil {
			v.Scripts[s] = sc
		}
	}
	return v, env, nil
}

// writeState writes the boot state into the environment block, keeping
// any other variable it holds, and syncs it to the disk.
func (u *updater) writeState(env grubenv.Env, s slots.State) error {
	block, err := s.Env(env).Format(slots.EnvSize)
	if err != nil {
		return err
	}
	return u.rewrite(slots.EnvPath, block)
}

// rewrite writes a file of the boot partition in place and syncs it.
func (u *updater) rewrite(path string, data []byte) error {
	f, fs, err := u.bootFS(true)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := fs.Rewrite(f, path, data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync the boot partition: %w", err)
	}
	return nil
}

// UpdateStatus describes the slots for the control API.
func (u *updater) UpdateStatus() control.UpdateStatus {
	st := control.UpdateStatus{Running: u.running, Version: u.config.Version, GraceSeconds: u.config.GraceSeconds}
	if u.key != nil {
		st.Key = update.KeyID(u.key)
	}
	u.envMu.Lock()
	v, _, err := u.readView()
	u.envMu.Unlock()
	switch {
	case err != nil:
		st.Why = err.Error()
	case u.why != "":
		st.Why = u.why
	case u.key == nil:
		st.Why = errNoKey.Error()
	default:
		if _, err := v.Target(); err != nil {
			st.Why = err.Error()
		} else {
			st.Updatable = true
		}
	}
	if u.running == "" {
		return st
	}
	for _, s := range v.Slots() {
		st.Slots = append(st.Slots, control.SlotStatus{
			Slot: s.Slot, Version: s.Version, Spec: s.Spec, State: s.State, Running: s.Running, Note: s.Note,
		})
	}
	return st
}

// errNoKey says why a system built without a key refuses updates.
var errNoKey = errors.New("this system was built without an update key (minikit build -sign KEY): it takes no updates")

// notNow is a refusal because of the system's state.
func notNow(err error) error { return &control.Refusal{Status: control.StatusNotNow, Err: err} }

// Rollback switches the slot the next boot runs (slots.View.Rollback).
func (u *updater) Rollback(ctx context.Context) (control.UpdateResult, error) {
	if !u.busy.TryLock() {
		return control.UpdateResult{}, notNow(errors.New("an update or rollback is already under way"))
	}
	defer u.busy.Unlock()
	if u.running == "" {
		return control.UpdateResult{}, notNow(errors.New(u.why))
	}
	u.envMu.Lock()
	defer u.envMu.Unlock()
	v, env, err := u.readView()
	if err != nil {
		return control.UpdateResult{}, err
	}
	next, msg, err := v.Rollback()
	if err != nil {
		return control.UpdateResult{}, notNow(err)
	}
	if err := u.writeState(env, next); err != nil {
		return control.UpdateResult{}, err
	}
	if v.State.Trying == u.running {
		u.trialOver = true
	}
	slog.Info("update: rollback: "+msg, "slot", next.Try, "state", fmt.Sprintf("%+v", next))
	return control.UpdateResult{Slot: cmpOr(next.Try, next.Good), Message: msg}, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// announce says at boot what the boot state is: a trial, or an update
// that failed its trial and was rolled back.
func (u *updater) announce() {
	if u.running == "" {
		if u.why != slots.ErrNoSlots.Error() {
			slog.Warn("update: no updates: " + u.why)
		}
		return
	}
	u.envMu.Lock()
	v, _, err := u.readView()
	u.envMu.Unlock()
	if err != nil {
		slog.Error("update: the boot state is unreadable: "+err.Error(), "slot", u.running)
		return
	}
	// "version v1", as every other update message names a version.
	version := func(s string) string {
		if sc := v.Scripts[s]; sc != nil {
			return versionText(sc.Version)
		}
		return versionText("")
	}
	if u.trial && v.State.Trying == u.running {
		slog.Info(fmt.Sprintf("update: slot %s (%s) boots on trial: it is kept once every service has run for %ds, and until then a failure boots slot %s (%s) again",
			u.running, version(u.running), u.config.GraceSeconds, slots.Other(u.running), version(slots.Other(u.running))), "slot", u.running)
		return
	}
	if f := v.State.Failed; f != "" && f != u.running {
		slog.Warn(fmt.Sprintf("update: slot %s (%s) failed its trial boot and was rolled back: %s; running slot %s (%s)",
			f, version(f), cmpOr(v.State.Reason, "it crashed, hung or was reset before it was healthy"), u.running, version(u.running)), "slot", u.running)
		return
	}
	slog.Info(fmt.Sprintf("update: running slot %s (%s)", u.running, version(u.running)), "slot", u.running)
}

// openUpdates finds the slots this boot runs from, and says at boot what
// their state is.
func (in *initSys) openUpdates(cmdline string) {
	if in.hostMode() {
		in.updates = noUpdates("init runs in host test mode")
		return
	}
	in.updates = newUpdater(cmdline, in.rootDevice, "/sys/class/block", "/dev", "/")
	in.updates.announce()
}

// The control API's updates (control.Updater), served by the updater.

func (b controlBackend) UpdateStatus() control.UpdateStatus { return b.updates.UpdateStatus() }

func (b controlBackend) Update(ctx context.Context, body io.Reader) (control.UpdateResult, error) {
	return b.updates.Update(ctx, body)
}

func (b controlBackend) Rollback(ctx context.Context) (control.UpdateResult, error) {
	return b.updates.Rollback(ctx)
}
