package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// Updates through the control API: a system on a disk with slots A and
// B takes a signed update bundle (internal/update) into the slot it does
// not run from, and shows and switches its slots. Taking an update and
// rolling back change what the machine boots, so they need what a reboot
// needs: CapPower.

// The update endpoints.
const (
	// PathUpdate: GET the slots (UpdateStatus); POST an update bundle as
	// the request's body, with ?reboot=true to reboot into it once it is
	// written (UpdateResult).
	PathUpdate = "/v1/update"
	// PathRollback: POST, with ?reboot=true to reboot at once
	// (UpdateResult).
	PathRollback = "/v1/rollback"
)

// SlotStatus is one slot of the disk.
type SlotStatus struct {
	Slot    string `json:"slot"`
	Version string `json:"version,omitempty"`
	Spec    string `json:"spec,omitempty"`
	// State is active (runs now, and is good), trying (runs now on
	// trial, or boots once at the next boot), good, bad (its trial
	// failed) or empty.
	State   string `json:"state"`
	Running bool   `json:"running"`
	Note    string `json:"note,omitempty"`
}

// UpdateStatus is the state of a system's updates.
type UpdateStatus struct {
	// Updatable says whether the system takes updates now; Why says why
	// it does not.
	Updatable bool   `json:"updatable"`
	Why       string `json:"why,omitempty"`
	// Key names the key updates must be signed with ("" for none).
	Key string `json:"key,omitempty"`
	// Running is the slot this boot runs, Version the running system's.
	Running      string       `json:"running,omitempty"`
	Version      string       `json:"version,omitempty"`
	GraceSeconds int          `json:"graceSeconds,omitempty"`
	Slots        []SlotStatus `json:"slots"`
}

// UpdateResult is what an update or a rollback did.
type UpdateResult struct {
	Slot    string `json:"slot,omitempty"`
	Version string `json:"version,omitempty"`
	Message string `json:"message"`
	// Rebooting says that the system reboots now, as asked.
	Rebooting bool `json:"rebooting"`
}

// Updater is what a backend that takes updates implements besides
// Backend; the update endpoints of a backend that does not answer 404.
type Updater interface {
	// UpdateStatus describes the slots.
	UpdateStatus() UpdateStatus
	// Update reads a bundle from body, checks it and writes it into the
	// slot this boot does not run from, to be tried at the next boot.
	// It returns once that is done, or refused; an error that is a
	// *Refusal says with which status to answer.
	Update(ctx context.Context, body io.Reader) (UpdateResult, error)
	// Rollback switches the slot the next boot runs.
	Rollback(ctx context.Context) (UpdateResult, error)
}

// Refusal is an update or rollback refused, and how to answer it:
// StatusBadBundle for a bundle that does not check, StatusNotNow when the
// system cannot take one now (or ever: no key, no slots).
type Refusal struct {
	Status int
	Err    error
}

// The statuses of a Refusal.
const (
	StatusBadBundle = 400
	StatusNotNow    = 409
)

func (r *Refusal) Error() string { return r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

// updateHandlers registers the update endpoints on mux.
func (s *Server) updateHandlers(mux *http.ServeMux) {
	read := access{}
	change := func(action string) access {
		return access{need: &capSysBoot, action: func(*http.Request) (string, string) { return action, "" }}
	}
	mux.Handle("GET "+PathUpdate, authorise(read, http.HandlerFunc(s.updateStatus)))
	mux.Handle("POST "+PathUpdate, authorise(change("update"), http.HandlerFunc(s.update)))
	mux.Handle("POST "+PathRollback, authorise(change("rollback"), http.HandlerFunc(s.rollback)))
}

// updater is the backend's Updater, or answers 404.
func (s *Server) updater(w http.ResponseWriter) (Updater, bool) {
	u, ok := s.backend.(Updater)
	if !ok {
		writeError(w, http.StatusNotFound, "this system takes no updates")
	}
	return u, ok
}

func (s *Server) updateStatus(w http.ResponseWriter, r *http.Request) {
	if u, ok := s.updater(w); ok {
		st := u.UpdateStatus()
		if st.Slots == nil {
			st.Slots = []SlotStatus{}
		}
		writeJSON(w, http.StatusOK, st)
	}
}

// rebootAsked reads ?reboot=.
func rebootAsked(w http.ResponseWriter, r *http.Request) (reboot, ok bool) {
	v := r.URL.Query().Get("reboot")
	if v == "" {
		return false, true
	}
	reboot, err := strconv.ParseBool(v)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("reboot=%q is not true or false", v))
		return false, false
	}
	return reboot, true
}

// update takes a bundle. It may take minutes to arrive, longer than the
// server's limits on a request allow: each read of the body gets
// IdleTimeout instead, so a caller that stops sending is dropped, and
// only its own request waits meanwhile.
func (s *Server) update(w http.ResponseWriter, r *http.Request) {
	u, ok := s.updater(w)
	if !ok {
		return
	}
	reboot, ok := rebootAsked(w, r)
	if !ok {
		return
	}
	rc := http.NewResponseController(w)
	body := &deadlineReader{r: r.Body, idle: s.limits.IdleTimeout, set: rc.SetReadDeadline}
	res, err := u.Update(r.Context(), body)
	s.answerUpdate(w, r, rc, "update", res, err, reboot)
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request) {
	u, ok := s.updater(w)
	if !ok {
		return
	}
	reboot, ok := rebootAsked(w, r)
	if !ok {
		return
	}
	res, err := u.Rollback(r.Context())
	s.answerUpdate(w, r, http.NewResponseController(w), "rollback", res, err, reboot)
}

// answerUpdate answers an update or rollback, writes its outcome to the
// audit log, and reboots when asked, after the answer is out.
func (s *Server) answerUpdate(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, what string, res UpdateResult, err error, reboot bool) {
	p, _ := r.Context().Value(callerKey{}).(*Caller)
	s.writeDeadline(rc)
	if err != nil {
		audit(slog.LevelWarn, what+" failed", "", p, "err", err.Error())
		code := http.StatusInternalServerError
		var ref *Refusal
		if errors.As(err, &ref) {
			code = ref.Status
		}
		writeJSON(w, code, Error{Error: err.Error()})
		return
	}
	audit(slog.LevelInfo, what+" done", res.Slot, p, "version", res.Version, "reboot", strconv.FormatBool(reboot))
	res.Rebooting = reboot
	writeJSON(w, http.StatusOK, res)
	if !reboot {
		return
	}
	_ = rc.Flush()
	s.backend.Power("reboot")
}

// deadlineReader gives each read its own deadline.
type deadlineReader struct {
	r    io.Reader
	idle time.Duration
	set  func(time.Time) error
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	if d.idle > 0 {
		_ = d.set(time.Now().Add(d.idle))
	}
	return d.r.Read(p)
}
