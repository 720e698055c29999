package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
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

// maxUpdateBytes bounds the body of an update as the router sees it;
// the updater's own bound (free memory, the slot's size) is the real one,
// and refuses a larger bundle with a reason.
const maxUpdateBytes = 1 << 40

// updateHandlers registers the update endpoints on mux.
func (s *Server) updateHandlers(mux *router) {
	read := access{}
	change := func(action string) access {
		return access{need: &capSysBoot, action: func(*request) (string, string) { return action, "" }}
	}
	mux.handle("GET", PathUpdate, authorise(read, s.updateStatus))
	mux.handleBody("POST", PathUpdate, maxUpdateBytes, authorise(change("update"), s.update))
	mux.handle("POST", PathRollback, authorise(change("rollback"), s.rollback))
}

// updater is the backend's Updater, or answers 404.
func (s *Server) updater(w responseWriter) (Updater, bool) {
	u, ok := s.backend.(Updater)
	if !ok {
		writeError(w, 404, "this system takes no updates")
	}
	return u, ok
}

func (s *Server) updateStatus(w responseWriter, r *request) {
	if u, ok := s.updater(w); ok {
		st := u.UpdateStatus()
		if st.Slots == nil {
			st.Slots = []SlotStatus{}
		}
		writeJSON(w, 200, st)
	}
}

// rebootAsked reads ?reboot=.
func rebootAsked(w responseWriter, r *request) (reboot, ok bool) {
	v := r.query("reboot")
	if v == "" {
		return false, true
	}
	reboot, err := strconv.ParseBool(v)
	if err != nil {
		writeError(w, 400, fmt.Sprintf("reboot=%q is not true or false", v))
		return false, false
	}
	return reboot, true
}

// update takes a bundle, of a length or chunked (svcctl update - does not
// know the length of what it reads). It may take minutes to arrive: the
// server gives each read of the body ReadTimeout of its own, so a caller
// that stops sending is dropped, and only its own request waits
// meanwhile.
func (s *Server) update(w responseWriter, r *request) {
	u, ok := s.updater(w)
	if !ok {
		return
	}
	reboot, ok := rebootAsked(w, r)
	if !ok {
		return
	}
	var body io.Reader = eofReader{}
	if r.body != nil {
		body = r.body
	}
	res, err := u.Update(r.ctx, body)
	s.answerUpdate(w, r, "update", res, err, reboot)
}

// eofReader is the body of a request that sent none.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func (s *Server) rollback(w responseWriter, r *request) {
	u, ok := s.updater(w)
	if !ok {
		return
	}
	reboot, ok := rebootAsked(w, r)
	if !ok {
		return
	}
	res, err := u.Rollback(r.ctx)
	s.answerUpdate(w, r, "rollback", res, err, reboot)
}

// answerUpdate answers an update or rollback, writes its outcome to the
// audit log, and reboots when asked, after the answer is out.
func (s *Server) answerUpdate(w responseWriter, r *request, what string, res UpdateResult, err error, reboot bool) {
	p, _ := r.ctx.Value(callerKey{}).(*Caller)
	_ = s.writeDeadline(w)
	if err != nil {
		audit(slog.LevelWarn, what+" failed", "", p, "err", err.Error())
		code := 500
		var ref *Refusal
		if errors.As(err, &ref) {
			code = ref.Status
		}
		writeJSON(w, code, Error{Error: err.Error()})
		return
	}
	audit(slog.LevelInfo, what+" done", res.Slot, p, "version", res.Version, "reboot", strconv.FormatBool(reboot))
	res.Rebooting = reboot
	writeJSON(w, 200, res)
	if !reboot {
		return
	}
	_ = w.flush()
	s.backend.Power("reboot", p)
}
