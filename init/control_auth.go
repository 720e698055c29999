package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/minikit/minikit/internal/control"
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
	capSysBoot  = capability{unix.CAP_SYS_BOOT, "CAP_SYS_BOOT"}
	capSysAdmin = capability{unix.CAP_SYS_ADMIN, "CAP_SYS_ADMIN"}
)

// peer is a connection's caller, as read when it connected.
type peer struct {
	uid, pid int
	// capEff is the caller's effective capability set. Capabilities held
	// in a user namespace other than init's count for nothing here, so
	// they are left out.
	capEff uint64
	// cgroup is the caller's cgroup, which names the service (or onboot
	// container) it belongs to: /minikit/NAME unless its spec says else.
	cgroup string
	// err says why the caller could not be identified, when it could not.
	err error
}

// has reports whether the caller holds c in its effective set.
func (p *peer) has(c capability) bool { return p.capEff&(1<<uint(c.bit)) != 0 }

// logAttrs are the attributes that identify the caller in an audit line.
func (p *peer) logAttrs() []any {
	if p == nil {
		return []any{"caller", "unknown"}
	}
	attrs := []any{"uid", p.uid, "pid", p.pid}
	if p.cgroup != "" {
		attrs = append(attrs, "cgroup", p.cgroup)
	}
	return attrs
}

// procPeer reads what the caller whose credentials the kernel gave holds,
// under proc (/proc). selfUserNS is init's user namespace (the target of
// /proc/self/ns/user).
func procPeer(proc, selfUserNS string, cred *unix.Ucred) *peer {
	p := &peer{uid: int(cred.Uid), pid: int(cred.Pid)}
	if cred.Pid <= 0 {
		p.err = errors.New("the kernel gave no pid for the caller")
		return p
	}
	dir, err := os.OpenRoot(filepath.Join(proc, strconv.Itoa(p.pid)))
	if err != nil {
		p.err = fmt.Errorf("caller pid %d: %w", p.pid, err)
		return p
	}
	defer dir.Close()
	if p.cgroup, err = readCgroup(dir); err != nil {
		p.err = fmt.Errorf("caller pid %d: %w", p.pid, err)
		return p
	}
	capEff, err := readCapEff(dir)
	if err != nil {
		p.err = fmt.Errorf("caller pid %d: %w", p.pid, err)
		return p
	}
	ns, err := dir.Readlink("ns/user")
	if err != nil {
		p.err = fmt.Errorf("caller pid %d: %w", p.pid, err)
		return p
	}
	// Capabilities are relative to a user namespace: a process that is
	// root in a namespace of its own holds them all, there only.
	if ns == selfUserNS {
		p.capEff = capEff
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

// peerReader reads a connection's caller at accept time, for
// http.Server.ConnContext.
type peerReader struct {
	proc       string // /proc
	selfUserNS string
}

func newPeerReader(proc string) (*peerReader, error) {
	ns, err := os.Readlink(filepath.Join(proc, "self/ns/user"))
	if err != nil {
		return nil, fmt.Errorf("init's user namespace: %w", err)
	}
	return &peerReader{proc: proc, selfUserNS: ns}, nil
}

func (pr *peerReader) read(c net.Conn) *peer {
	cred, err := peerCred(unwrapConn(c))
	if err != nil {
		return &peer{uid: -1, pid: -1, err: fmt.Errorf("peer credentials: %w", err)}
	}
	return procPeer(pr.proc, pr.selfUserNS, cred)
}

// access is what a request needs of its caller: nothing beyond root
// (reads), or a capability, and how its audit line names what it asked.
type access struct {
	need   *capability // nil: a read
	action func(r *http.Request) (action, target string)
}

// refusal says why a caller may not do what it asked, or is "" when it
// may.
func (ac access) refusal(p *peer, action string) (msg, missing string) {
	switch {
	case p == nil:
		return "the caller of the control socket could not be identified", ""
	case p.uid != 0:
		return fmt.Sprintf("only root may use the control socket (the caller has uid %d)", p.uid), ""
	case ac.need == nil:
		return "", ""
	case p.err != nil:
		return fmt.Sprintf("%s needs %s, and what the caller holds could not be read: %v", action, ac.need.name, p.err), ac.need.name
	case !p.has(*ac.need):
		return fmt.Sprintf("%s needs %s in the caller's effective capabilities, which it does not have", action, ac.need.name), ac.need.name
	}
	return "", ""
}

// authorise answers 403 to a caller that may not make the request, and
// writes an audit line for every request that changes something and
// every refusal.
func authorise(ac access, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := r.Context().Value(peerKey{}).(*peer)
		action, target := r.Method, r.URL.Path
		if ac.action != nil {
			action, target = ac.action(r)
		}
		msg, missing := ac.refusal(p, action)
		if msg != "" {
			audit(slog.LevelWarn, "refused "+action, target, p, "missing", missing)
			writeJSON(w, http.StatusForbidden, control.Error{Error: msg, Capability: missing})
			return
		}
		if ac.need != nil {
			audit(slog.LevelInfo, action, target, p)
		}
		next.ServeHTTP(w, r)
	})
}

// audit writes one audit line: what was asked, of what, by whom.
func audit(level slog.Level, what, target string, p *peer, attrs ...any) {
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
