package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/minikit/minikit/internal/control"
	"github.com/minikit/minikit/internal/slots"
)

// The trial boot of an update. Every required onboot container exited 0
// by the time the services start (a failed one is a fatal boot error,
// which on a trial boot reboots, whatever minikit.onfail says, and GRUB
// falls back); from then on the update is kept once every service has
// been running (ready, for a notify service) for the grace period
// without a break, and it fails as soon as a service fails, crashes or
// restarts, or when the services do not all come up within settleTime.
// A crash of init or of the kernel, a hang or a reboot before then is
// seen by GRUB at the next boot: the trial is still marked as running,
// and GRUB boots the good slot.

// settleTime bounds how long the services may take to come up on a trial
// boot before the grace period starts.
const settleTime = 5 * time.Minute

// trialPoll is how often the services are looked at.
const trialPoll = time.Second

// assess looks at the services once: healthy when every one runs (ready,
// for a notify service) or exited 0 for good; failure says which did not
// and why, when one failed, crashed or restarted.
func assess(services []control.Service) (healthy bool, failure string) {
	healthy = true
	for _, s := range services {
		exit := ""
		if s.LastExit != nil {
			exit = fmt.Sprintf(" (last exit %d)", *s.LastExit)
		}
		switch {
		case s.State == control.StateFailed:
			return false, fmt.Sprintf("service %s failed%s: %s", s.Name, exit, s.Error)
		case s.State == control.StateBackoff:
			return false, fmt.Sprintf("service %s ended%s and waits to restart", s.Name, exit)
		case s.State == control.StateExited && (s.LastExit == nil || *s.LastExit != 0):
			return false, fmt.Sprintf("service %s exited%s", s.Name, exit)
		case s.Restarts > 0:
			return false, fmt.Sprintf("service %s restarted %d times", s.Name, s.Restarts)
		case s.State == control.StateExited:
			// exited 0, and its policy does not restart it: done
		case (s.State == control.StateRunning || s.State == control.StateReady) && s.Ready:
		default:
			healthy = false
		}
	}
	return healthy, ""
}

// judgeTrial watches the services, as services returns them at start
// and at each tick (which carries the time), until the trial is decided:
// kept (ok) once they have been healthy for grace without a break, or
// failed with the reason. Tests drive the clock through tick.
func judgeTrial(services func() []control.Service, grace, settle time.Duration, start time.Time, tick <-chan time.Time) (ok bool, why string) {
	var healthySince time.Time
	for t := start; ; t = <-tick {
		healthy, failure := assess(services())
		switch {
		case failure != "":
			return false, failure
		case !healthy:
			healthySince = time.Time{}
			if t.Sub(start) > settle {
				return false, fmt.Sprintf("the services did not all come up within %s", settle)
			}
		case healthySince.IsZero():
			healthySince = t
		}
		if !healthySince.IsZero() && t.Sub(healthySince) >= grace {
			return true, ""
		}
	}
}

// watchTrial judges this boot's trial, when it is one, and keeps or
// fails the update. It runs under init's panic guard.
func (in *initSys) watchTrial() {
	u := in.updates
	if u == nil || u.running == "" || !u.onTrial() {
		return
	}
	grace := time.Duration(u.config.GraceSeconds) * time.Second
	ticker := time.NewTicker(trialPoll)
	in.goSafe("update trial", func() {
		ok, why := judgeTrial(in.sup.Statuses, grace, settleTime, time.Now(), ticker.C)
		ticker.Stop()
		if ok {
			u.confirm(grace)
			return
		}
		in.failTrial(why)
	})
}

// onTrial reports whether the boot state says this boot is a trial.
func (u *updater) onTrial() bool {
	u.envMu.Lock()
	defer u.envMu.Unlock()
	v, _, err := u.readView()
	return err == nil && v.State.Trying == u.running && !u.trialOver
}

// confirm keeps the update this trial boot runs.
func (u *updater) confirm(grace time.Duration) {
	u.envMu.Lock()
	defer u.envMu.Unlock()
	if u.trialOver {
		return
	}
	v, env, err := u.readView()
	if err != nil || v.State.Trying != u.running {
		slog.Warn("update: the trial is no longer this boot's; nothing to keep", "slot", u.running)
		return
	}
	if err := u.writeState(env, v.State.Confirm(u.running)); err != nil {
		slog.Error("update: slot "+u.running+" was healthy, but could not be marked good: "+err.Error()+"; the next boot falls back", "slot", u.running)
		return
	}
	u.trialOver = true
	slog.Info(fmt.Sprintf("update: slot %s (%s) is good: every service ran for %s", u.running, versionText(u.config.Version), grace), "slot", u.running)
}

// fail records that this trial boot failed, for why; it reports whether
// it did (false when this boot is no trial).
func (u *updater) fail(why string) bool {
	u.envMu.Lock()
	defer u.envMu.Unlock()
	if u.trialOver || u.running == "" {
		return false
	}
	v, env, err := u.readView()
	if err != nil || v.State.Trying != u.running {
		return false
	}
	u.trialOver = true
	if err := u.writeState(env, v.State.Fail(u.running, why)); err != nil {
		slog.Error("update: could not record the failed trial: " + err.Error() + "; the next boot falls back all the same")
	}
	slog.Error(fmt.Sprintf("update: the trial of slot %s (%s) failed: %s; rebooting into slot %s", u.running, versionText(u.config.Version), why, slots.Other(u.running)), "slot", u.running)
	return true
}

// failTrial fails this boot's trial, if it is one, and reboots so that
// the good slot runs; a boot that is no trial is left alone.
func (in *initSys) failTrial(why string) {
	if !in.recordTrialFailure(why) {
		return
	}
	if in.sup != nil {
		in.sup.RefuseStarts()
	}
	in.requestShutdown("reboot")
}

// recordTrialFailure records why this boot's trial failed, when it is
// one, before a fatal error reboots it.
func (in *initSys) recordTrialFailure(why string) bool {
	return in.updates != nil && in.updates.fail(why)
}
