package main

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		stat  string
		state byte
		ppid  int
		ok    bool
	}{
		{"42 (sh) S 1 42 42 0", 'S', 1, true},
		{"43 (a) b) (c) Z 7 43 43", 'Z', 7, true},
		{"garbage", 0, 0, false},
	}
	for _, tt := range tests {
		state, ppid, ok := parseStat([]byte(tt.stat))
		if state != tt.state || ppid != tt.ppid || ok != tt.ok {
			t.Errorf("parseStat(%q) = %c, %d, %v; want %c, %d, %v", tt.stat, state, ppid, ok, tt.state, tt.ppid, tt.ok)
		}
	}
}

// An owned child's exit status must survive a reaping pass, which tells
// its owner it has exited, while an unowned zombie is collected.
func TestReaperLeavesOwnedChildrenAlone(t *testing.T) {
	r := newReaper()
	owned := exec.Command("/bin/sh", "-c", "exit 7")
	orphan := exec.Command("/bin/true")
	if err := owned.Start(); err != nil {
		t.Skipf("no /bin/sh: %v", err)
	}
	exited := r.own(owned.Process.Pid)
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	waitZombie(t, owned.Process.Pid)
	waitZombie(t, orphan.Process.Pid)
	select {
	case <-exited:
		t.Fatal("the owner was told of the exit before a reaping pass saw it")
	default:
	}

	reaped := r.reapOrphans()
	if len(reaped) != 1 || reaped[0] != orphan.Process.Pid {
		t.Fatalf("reaped %v, want only the orphan %d", reaped, orphan.Process.Pid)
	}
	// The pass tells the owner, whose wait then returns at once; a
	// second pass, at the next SIGCHLD, leaves it as it is.
	select {
	case <-exited:
	default:
		t.Fatal("a reaping pass saw the owned zombie and did not tell its owner")
	}
	r.reapOrphans()
	err := owned.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Fatalf("owned child's Wait = %v, want exit status 7", err)
	}
}

func waitZombie(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err == nil {
			if state, _, ok := parseStat(stat); ok && state == 'Z' {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("pid %d never became a zombie", pid)
}

// A SIGCHLD is handled by the signal loop, which also hears the requests
// to shut down. While a start holds orphan reaping off (a start can hang
// for long), it must return at once, having told the owners of their
// children's exits; the orphans are reaped once the start is over.
func TestASIGCHLDDuringAStartNeitherWaitsNorLosesAnExit(t *testing.T) {
	r := newReaper()
	owned := exec.Command("/bin/true")
	orphan := exec.Command("/bin/true")
	if err := owned.Start(); err != nil {
		t.Skipf("no /bin/true: %v", err)
	}
	exited := r.own(owned.Process.Pid)
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	waitZombie(t, owned.Process.Pid)
	waitZombie(t, orphan.Process.Pid)
	go r.run()
	t.Cleanup(func() { close(r.kick) })

	release := r.holdStart()
	handled := make(chan struct{})
	go func() {
		r.childExited()
		close(handled)
	}()
	select {
	case <-handled:
	case <-time.After(10 * time.Second):
		t.Fatal("handling a SIGCHLD waited for the start in flight")
	}
	select {
	case <-exited:
	default:
		t.Fatal("the owner was not told of its child's exit while a start was in flight")
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(orphan.Process.Pid)); err != nil {
		t.Fatalf("an orphan was reaped while a start was in flight: %v", err)
	}
	release()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat("/proc/" + strconv.Itoa(orphan.Process.Pid)); err != nil {
			break // reaped
		}
		if time.Now().After(deadline) {
			t.Fatal("the orphan was not reaped once the start was over")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := owned.Wait(); err != nil {
		t.Fatalf("the owner lost its child's status: %v", err)
	}
}

// A container's init can exit before its start has marked it owned: its
// SIGCHLD tells no one then, and the pass it asks for, once the start is
// over, must tell the owner rather than skip an owned zombie.
func TestAChildThatExitsBeforeItIsOwnedIsToldOfAfterItsStart(t *testing.T) {
	r := newReaper()
	child := exec.Command("/bin/true")
	if err := child.Start(); err != nil {
		t.Skipf("no /bin/true: %v", err)
	}
	waitZombie(t, child.Process.Pid)

	release := r.holdStart()
	r.childExited()                    // its SIGCHLD, during the start
	exited := r.own(child.Process.Pid) // as a start does before its release
	passed := make(chan struct{})
	go func() {
		r.reapOrphans() // the pass the SIGCHLD asked for
		close(passed)
	}()
	release()
	<-passed
	select {
	case <-exited:
	default:
		t.Fatal("the pass after the start did not tell the owner of its exited child")
	}
	if err := child.Wait(); err != nil {
		t.Fatalf("the owner lost its child's status: %v", err)
	}
}

// While a container start is in flight, no unknown child may be reaped:
// it may be one of libcontainer's helpers, which libcontainer waits for.
func TestReaperWaitsWhileAStartIsInFlight(t *testing.T) {
	r := newReaper()
	helper := exec.Command("/bin/true")
	if err := helper.Start(); err != nil {
		t.Skipf("no /bin/true: %v", err)
	}
	waitZombie(t, helper.Process.Pid)

	release := r.holdStart()
	reaped := make(chan []int, 1)
	go func() { reaped <- r.reapOrphans() }()
	select {
	case got := <-reaped:
		t.Fatalf("reaped %v while a start was in flight", got)
	case <-time.After(100 * time.Millisecond):
	}
	// The "libcontainer" side collects its own child.
	if err := helper.Wait(); err != nil {
		t.Fatalf("the in-flight start lost its child's status: %v", err)
	}
	release()
	if got := <-reaped; len(got) != 0 {
		t.Errorf("reaped %v after the start; its child was already collected", got)
	}
}
