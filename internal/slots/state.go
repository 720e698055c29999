package slots

import (
	"cmp"
	"errors"
	"fmt"
	"strings"

	"github.com/minikit/minikit/internal/grubenv"
)

// The boot state lives in GRUB's environment block, as these variables:
//
//	minikit_good    the slot GRUB boots: A or B
//	minikit_try     set by an update (or a rollback): boot this slot once
//	minikit_trying  set by GRUB as it boots minikit_try; cleared by init
//	                once that boot is healthy (and minikit_good set to it)
//	minikit_failed  the slot whose trial failed, and minikit_reason why
//
// GRUB, at every boot (grub.cfg, State.Boot):
//   - minikit_trying still set: that trial never became healthy (a crash,
//     a hang, a power cut, a reboot). GRUB records it as failed, clears it
//     and boots minikit_good.
//   - else minikit_try set: GRUB moves it to minikit_trying, saves, and
//     boots it once, telling the kernel and init (minikit.trial) that
//     this boot is a trial: a panic reboots, and so does a fatal error
//     whatever minikit.onfail says, so GRUB falls back.
//   - else it boots minikit_good.
//
// init, on a trial boot, marks the slot good once it is healthy
// (State.Confirm), or failed with the reason when it is not
// (State.Fail), and reboots.
const (
	VarGood   = "minikit_good"
	VarTry    = "minikit_try"
	VarTrying = "minikit_trying"
	VarFailed = "minikit_failed"
	VarReason = "minikit_reason"
)

// MaxReason bounds the reason kept for a failed trial, so that the whole
// state stays in the environment block's first sector.
const MaxReason = 200

// State is the boot state.
type State struct {
	Good, Try, Trying, Failed, Reason string
}

// Initial is the state of a new disk: slot A is good.
func Initial() State { return State{Good: A} }

// StateFrom reads the state from an environment block's variables.
func StateFrom(env grubenv.Env) State {
	return State{
		Good:   env.Get(VarGood),
		Try:    env.Get(VarTry),
		Trying: env.Get(VarTrying),
		Failed: env.Get(VarFailed),
		Reason: env.Get(VarReason),
	}
}

// Env returns env with the state's variables set, every one of them, in
// a fixed order, so that the block's layout does not depend on history.
func (s State) Env(env grubenv.Env) grubenv.Env {
	return env.Set(VarGood, s.Good).Set(VarTry, s.Try).Set(VarTrying, s.Trying).
		Set(VarFailed, s.Failed).Set(VarReason, cleanReason(s.Reason))
}

// Block is the environment block holding s and nothing else.
func (s State) Block() ([]byte, error) { return s.Env(nil).Format(EnvSize) }

// cleanReason keeps a reason to one short line of plain characters.
func cleanReason(r string) string {
	r = strings.Map(func(c rune) rune {
		if c < ' ' || c > '~' || c == '\\' || c == '#' {
			return ' '
		}
		return c
	}, r)
	r = strings.Join(strings.Fields(r), " ")
	if len(r) > MaxReason {
		r = r[:MaxReason-3] + "..."
	}
	return r
}

// boots is the slot GRUB boots when no trial is due: minikit_good, or A
// when that names no slot.
func (s State) boots() string {
	if Valid(s.Good) {
		return s.Good
	}
	return A
}

// Boot is what GRUB does with the state at a boot (grub.cfg does this, in
// GRUB's language): the slot it boots, whether that boot is a trial, and
// the state it saves first.
func (s State) Boot() (slot string, trial bool, next State) {
	next = s
	switch {
	case s.Trying != "":
		next.Failed, next.Trying = s.Trying, ""
		return next.boots(), false, next
	case s.Try != "":
		// A try that names no slot finds no script: GRUB reboots, and
		// the next boot falls back.
		next.Trying, next.Try = s.Try, ""
		return s.Try, true, next
	}
	return s.boots(), false, next
}

// Invalidate is the state before slot is overwritten: it is not to be
// tried, nor is an old failure of it worth telling any more.
func (s State) Invalidate(slot string) State {
	if s.Try == slot {
		s.Try = ""
	}
	if s.Failed == slot {
		s.Failed, s.Reason = "", ""
	}
	return s
}

// Stage is the state once slot holds a complete system to try once.
func (s State) Stage(slot string) State {
	s = s.Invalidate(slot)
	s.Try = slot
	return s
}

// Confirm is the state once the trial of slot has been healthy: it is
// the good slot.
func (s State) Confirm(slot string) State {
	s.Good, s.Trying = slot, ""
	if s.Failed == slot {
		s.Failed, s.Reason = "", ""
	}
	return s
}

// Fail is the state once the trial of slot failed, for reason: the next
// boot is the good slot's.
func (s State) Fail(slot, reason string) State {
	s.Trying = ""
	if s.Try == slot {
		s.Try = ""
	}
	s.Failed, s.Reason = slot, cleanReason(reason)
	return s
}

// Slot states, as svcctl update status shows them.
const (
	SlotActive = "active" // runs now, and is the good slot
	SlotTrying = "trying" // runs now on trial, or boots once at the next boot
	SlotGood   = "good"   // holds a complete system not known to be bad
	SlotBad    = "bad"    // its trial failed
	SlotEmpty  = "empty"  // holds no complete system
)

// SlotStatus is one slot as the status shows it.
type SlotStatus struct {
	Slot    string
	Version string
	Spec    string
	State   string
	Running bool
	Note    string
}

// View is what decisions about updates and rollbacks depend on: the boot
// state, the slot this boot runs (Running, "" when not known) and each
// slot's boot script.
type View struct {
	State   State
	Running string
	Scripts map[string]*Script // nil for a slot without a complete script
}

// Slots describes both slots.
func (v View) Slots() []SlotStatus {
	var out []SlotStatus
	for _, name := range Names {
		st := SlotStatus{Slot: name, Running: name == v.Running}
		sc := v.Scripts[name]
		if sc != nil {
			st.Version, st.Spec = sc.Version, sc.Spec
		}
		switch {
		case st.Running && v.State.Trying == name:
			st.State, st.Note = SlotTrying, "on trial: it becomes good once healthy for the grace period"
		case st.Running:
			st.State = SlotActive
		case sc == nil:
			st.State = SlotEmpty
		case v.State.Try == name:
			st.State, st.Note = SlotTrying, "boots once at the next boot, and becomes good once healthy"
		case v.State.Failed == name:
			st.State, st.Note = SlotBad, "its trial boot failed"
			if v.State.Reason != "" {
				st.Note += ": " + v.State.Reason
			}
		default:
			st.State = SlotGood
		}
		out = append(out, st)
	}
	return out
}

// ErrNoSlots says that this boot did not come from a slot of an A/B disk.
var ErrNoSlots = errors.New("this system was not booted from a slot of an A/B disk (a raw-bios, raw-efi or qcow2-bios image)")

// Target is the slot an update writes: the one this boot does not run
// from. This boot must be the good one, not a trial: otherwise the other
// slot is the only good one there is.
func (v View) Target() (string, error) {
	switch {
	case !Valid(v.Running):
		return "", ErrNoSlots
	case v.State.Trying == v.Running:
		return "", fmt.Errorf("slot %s runs on trial: wait until it is marked good, or roll back", v.Running)
	case v.State.Good != v.Running:
		return "", fmt.Errorf("the boot state says slot %s is the good one, but this boot runs slot %s: roll back or reboot first", v.State.Good, v.Running)
	}
	return Other(v.Running), nil
}

// Rollback is the state after `svcctl rollback`, and what it does:
//   - during a trial, the trial fails and the good slot boots next;
//   - with an update staged, the update is called off;
//   - otherwise the other slot, when it holds a system not known to be
//     bad, is tried once at the next boot (and becomes good when healthy,
//     as an update does): a rollback to a slot that no longer works comes
//     back by itself.
func (v View) Rollback() (State, string, error) {
	s := v.State
	if !Valid(v.Running) {
		return s, "", ErrNoSlots
	}
	other := Other(v.Running)
	switch {
	case s.Trying == v.Running:
		return s.Fail(v.Running, "rolled back by hand during its trial"), fmt.Sprintf("the trial of slot %s is called off: slot %s boots next", v.Running, s.boots()), nil
	case s.Try != "":
		return s.Fail(s.Try, "rolled back by hand before it booted"), fmt.Sprintf("the update staged in slot %s is called off", s.Try), nil
	case v.Scripts[other] == nil:
		return s, "", fmt.Errorf("slot %s holds no system to roll back to", other)
	case s.Failed == other:
		return s, "", fmt.Errorf("slot %s failed its trial boot (%s): no rollback to it", other, cmp.Or(s.Reason, "no reason recorded"))
	}
	return s.Stage(other), fmt.Sprintf("slot %s (%s) boots once at the next boot, and becomes good once healthy", other, versionText(v.Scripts[other].Version)), nil
}

// versionText names a version as every update message does: "version
// v1", or "no version" for a system built without one.
func versionText(v string) string {
	if v == "" {
		return "no version"
	}
	return "version " + v
}
