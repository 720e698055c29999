package control

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Who may use the control API. Connecting to the socket needs uid 0 (it
// is 0600), and every request needs uid 0 too: reads are for root. A
// request that changes something needs more, the capability that the
// same change would need done by hand, in the caller's effective set:
// CAP_SYS_BOOT to power off or reboot, CAP_SYS_ADMIN to start, stop or
// restart a service. So a container's spec decides what its processes may
// do through the API with the capabilities it grants them, and a uid-0
// process that dropped its capabilities cannot power the machine off.
//
// What the caller holds is read once, when its connection is accepted,
// from /proc/PID of the pid the kernel recorded at connect(): a request
// that arrives later on the same connection cannot come from a process
// that took over the pid after the caller exited. The three files are
// read through one open /proc/PID directory, so that they are all of the
// same process even if the pid is reused while they are read.

// capability is one capability a request may need.
type capability struct {
	bit  int    // as in linux/capability.h
	name string // as people write it
}

var (
	capSysBoot  = capability{unix.CAP_SYS_BOOT, CapPower}
	capSysAdmin = capability{unix.CAP_SYS_ADMIN, CapServices}
)

// Caller is who is at the other end of a connection, as read when it
// connected.
type Caller struct {
	UID, PID int
	// CapEff is the caller's effective capability set, a bit for each
	// capability of linux/capability.h. Capabilities held in a user
	// namespace other than init's count for nothing here, so they are
	// left out.
	CapEff uint64
	// Cgroup is the caller's cgroup, which names the service (or onboot
	// container) it belongs to: /minikit/NAME unless its spec says else.
	Cgroup string
	// Err says why the caller could not be identified, when it could not.
	Err error
}

// has reports whether the caller holds c in its effective set.
func (p *Caller) has(c capability) bool { return p.CapEff&(1<<uint(c.bit)) != 0 }

// logAttrs are the attributes that identify the caller in an audit line.
func (p *Caller) logAttrs() []any {
	if p == nil {
		return []any{"caller", "unknown"}
	}
	attrs := []any{"uid", p.UID, "pid", p.PID}
	if p.Cgroup != "" {
		attrs = append(attrs, "cgroup", p.Cgroup)
	}
	return attrs
}

// procCaller reads what the caller whose credentials the kernel gave
// holds, under proc (/proc). selfUserNS is init's user namespace (the
// target of /proc/self/ns/user).
func procCaller(proc, selfUserNS string, cred *unix.Ucred) *Caller {
	p := &Caller{UID: int(cred.Uid), PID: int(cred.Pid)}
	if cred.Pid <= 0 {
		p.Err = errors.New("the kernel gave no pid for the caller")
		return p
	}
	dir, err := os.OpenRoot(filepath.Join(proc, strconv.Itoa(p.PID)))
	if err != nil {
		p.Err = fmt.Errorf("caller pid %d: %w", p.PID, err)
		return p
	}
	defer dir.Close()
	if p.Cgroup, err = readCgroup(dir); err != nil {
		p.Err = fmt.Errorf("caller pid %d: %w", p.PID, err)
		return p
	}
	capEff, err := readCapEff(dir)
	if err != nil {
		p.Err = fmt.Errorf("caller pid %d: %w", p.PID, err)
		return p
	}
	ns, err := dir.Readlink("ns/user")
	if err != nil {
		p.Err = fmt.Errorf("caller pid %d: %w", p.PID, err)
		return p
	}
	// Capabilities are relative to a user namespace: a process that is
	// root in a namespace of its own holds them all, there only.
	if ns == selfUserNS {
		p.CapEff = capEff
	}
	return p
}

// readCapEff reads the effective set from a /proc/PID/status.
func readCapEff(dir *os.Root) (uint64, error) {
	b, err := dir.ReadFile("status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("status: CapEff %q: %w", strings.TrimSpace(v), err)
			}
			return caps, nil
		}
	}
	return 0, errors.New("status: no CapEff line")
}

// readCgroup reads the cgroup2 path from a /proc/PID/cgroup, seen from
// init's cgroup namespace.
func readCgroup(dir *os.Root) (string, error) {
	b, err := dir.ReadFile("cgroup")
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(b)) {
		if path, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			return path, nil
		}
	}
	return "", errors.New("cgroup: no cgroup2 line (0::)")
}

// callerReader reads a connection's caller at accept time, for
// each connection the server accepts.
type callerReader struct {
	proc       string // /proc
	selfUserNS string
}

func newCallerReader(proc string) (*callerReader, error) {
	ns, err := os.Readlink(filepath.Join(proc, "self/ns/user"))
	if err != nil {
		return nil, fmt.Errorf("init's user namespace: %w", err)
	}
	return &callerReader{proc: proc, selfUserNS: ns}, nil
}

// read identifies the caller on c, a connection as the kernel accepted it.
func (cr *callerReader) read(c net.Conn) *Caller {
	cred, err := peerCred(c)
	if err != nil {
		return &Caller{UID: -1, PID: -1, Err: fmt.Errorf("peer credentials: %w", err)}
	}
	return procCaller(cr.proc, cr.selfUserNS, cred)
}

func peerCred(c net.Conn) (*unix.Ucred, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return nil, errors.New("not a unix connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var credErr error
	err = raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err != nil {
		return nil, err
	}
	return cred, credErr
}

// access is what a request needs of its caller: nothing beyond root
// (reads), or a capability, and how its audit line names what it asked.
type access struct {
	need   *capability // nil: a read
	action func(r *request) (action, target string)
}

// refusal says why a caller may not do what it asked, or is "" when it
// may.
func (ac access) refusal(p *Caller, action string) (msg, missing string) {
	switch {
	case p == nil:
		return "the caller of the control socket could not be identified", ""
	case p.UID != 0:
		return fmt.Sprintf("only root may use the control socket (the caller has uid %d)", p.UID), ""
	case ac.need == nil:
		return "", ""
	case p.Err != nil:
		return fmt.Sprintf("%s needs %s, and what the caller holds could not be read: %v", action, ac.need.name, p.Err), ac.need.name
	case !p.has(*ac.need):
		return fmt.Sprintf("%s needs %s in the caller's effective capabilities, which it does not have", action, ac.need.name), ac.need.name
	}
	return "", ""
}

// authorise answers 403 to a caller that may not make the request, and
// writes an audit line for every request that changes something and
// every refusal.
func authorise(ac access, next handler) handler {
	return func(w responseWriter, r *request) {
		p, _ := r.ctx.Value(callerKey{}).(*Caller)
		action, target := r.method, r.path
		if ac.action != nil {
			action, target = ac.action(r)
		}
		msg, missing := ac.refusal(p, action)
		if msg != "" {
			audit(slog.LevelWarn, "refused "+action, target, p, "missing", missing)
			writeJSON(w, 403, Error{Error: msg, Capability: missing})
			return
		}
		if ac.need != nil {
			audit(slog.LevelInfo, action, target, p)
		}
		next(w, r)
	}
}

// audit writes one audit line: what was asked, of what, by whom.
func audit(level slog.Level, what, target string, p *Caller, attrs ...any) {
	msg := "control: " + what
	all := []any{"action", strings.TrimPrefix(what, "refused ")}
	if target != "" {
		msg += " " + target
		all = append(all, "target", target)
	}
	all = append(all, p.logAttrs()...)
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] != "" {
			all = append(all, attrs[i], attrs[i+1])
		}
	}
	slog.Log(nil, level, msg, all...)
}
