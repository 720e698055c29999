package main

import (
	"bytes"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// reaper collects orphans without stealing the exit status of a child that
// some other part of init waits for.
//
// libcontainer's helper processes are init's own children (nsexec clones
// them with CLONE_PARENT) and libcontainer waits on them itself, so while a
// container is being started no unknown child may be reaped: starts hold
// mu for reading and a reaping pass holds it for writing. After a start the
// container's init pid is marked as owned before the read lock is dropped,
// and only zombies that nobody owns are ever reaped.
//
// An owned zombie is left to its owner, who is told when it has exited:
// every SIGCHLD is looked into anyway, so a hundred services need no
// hundred goroutines parked on their processes' ends. Telling reaps
// nothing, so it does not wait for the starts in flight: a service's end
// is heard at once, however long another container takes to start.
type reaper struct {
	mu      sync.RWMutex
	ownedMu sync.Mutex
	owned   map[int]*ownedChild
	self    int
	procDir string
	// kick wakes the reaping goroutine (run); one pending kick stands
	// for every SIGCHLD before it, since a pass takes every zombie.
	kick chan struct{}
}

// ownedChild is a child whose owner collects its exit status.
type ownedChild struct {
	exited chan struct{} // closed once a pass saw it had exited
	told   bool
}

func newReaper() *reaper {
	return &reaper{owned: map[int]*ownedChild{}, self: os.Getpid(), procDir: "/proc", kick: make(chan struct{}, 1)}
}

// childExited is what a SIGCHLD asks: it tells the owners of the
// children that have exited at once, and leaves the orphans to the
// reaping goroutine, so that the signal loop, which also hears the
// requests to shut down, never waits for a container's start.
func (r *reaper) childExited() {
	r.tellOwners()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// run reaps orphans each time childExited asks, until the end of PID 1.
func (r *reaper) run() {
	for range r.kick {
		r.reapOrphans()
	}
}

// holdStart keeps orphan reaping paused until the returned func is called.
func (r *reaper) holdStart() (release func()) {
	r.mu.RLock()
	return r.mu.RUnlock
}

// own leaves pid's exit status to the caller, and returns a channel
// closed once pid has exited: at its SIGCHLD, or at the periodic check
// within seconds if the signal was lost.
func (r *reaper) own(pid int) <-chan struct{} {
	r.ownedMu.Lock()
	defer r.ownedMu.Unlock()
	c := &ownedChild{exited: make(chan struct{})}
	r.owned[pid] = c
	return c.exited
}

func (r *reaper) disown(pid int) {
	r.ownedMu.Lock()
	delete(r.owned, pid)
	r.ownedMu.Unlock()
}

// tellOwner tells whoever owns the zombie pid that it has exited, and
// reports whether anyone owns it.
func (r *reaper) tellOwner(pid int) bool {
	r.ownedMu.Lock()
	defer r.ownedMu.Unlock()
	c := r.owned[pid]
	if c != nil {
		c.tell()
	}
	return c != nil
}

// tellOwners closes the channel of every owned child that has exited,
// asking the kernel of each without collecting its status (WNOWAIT): a
// system call per owned child, where finding zombies reads all of /proc.
func (r *reaper) tellOwners() {
	r.ownedMu.Lock()
	defer r.ownedMu.Unlock()
	for pid, c := range r.owned {
		if c.told {
			continue
		}
		if exited, err := hasExited(unix.P_PID, pid); err == nil && exited {
			c.tell()
		}
	}
}

// hasExited asks the kernel whether the child that idType and id name
// (waitid's P_PID and a pid, or P_PIDFD and a pidfd) has exited, without
// collecting its status.
func hasExited(idType, id int) (bool, error) {
	var info unix.Siginfo
	err := unix.Waitid(idType, id, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	// Still running leaves si_signo 0; an exit makes it SIGCHLD.
	return err == nil && info.Signo == int32(unix.SIGCHLD), err
}

// tell closes the channel, once. The caller holds ownedMu.
func (c *ownedChild) tell() {
	if !c.told {
		c.told = true
		close(c.exited)
	}
}

// reapOrphans reaps every zombie child of ours that nobody owns and
// returns their pids. It tells the owners of the owned ones: childExited
// told them already, unless the child exited before its start had marked
// it owned, and so raised its SIGCHLD before anyone could be told.
func (r *reaper) reapOrphans() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var reaped []int
	for _, pid := range r.zombieChildren() {
		if r.tellOwner(pid) {
			continue
		}
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if err == nil && got == pid {
			reaped = append(reaped, pid)
		}
	}
	return reaped
}

// zombieChildren scans /proc rather than calling waitid(P_ALL, WNOWAIT),
// which would keep returning the same owned zombie and hide the others.
func (r *reaper) zombieChildren() []int {
	entries, err := os.ReadDir(r.procDir)
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(r.procDir + "/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		state, ppid, ok := parseStat(stat)
		if ok && state == 'Z' && ppid == r.self {
			pids = append(pids, pid)
		}
	}
	return pids
}

// parseStat reads the state and parent pid from /proc/PID/stat. The command
// name may hold spaces and parentheses, so fields are counted from the last
// ')'.
func parseStat(stat []byte) (state byte, ppid int, ok bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return 0, 0, false
	}
	fields := bytes.Fields(stat[i+1:])
	if len(fields) < 2 || len(fields[0]) != 1 {
		return 0, 0, false
	}
	ppid, err := strconv.Atoi(string(fields[1]))
	if err != nil {
		return 0, 0, false
	}
	return fields[0][0], ppid, true
}
