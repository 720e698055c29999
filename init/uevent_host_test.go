package main

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// queued returns the kernel's events that wait on the socket, and returns
// at once when none does: the boot's coldplug reads it between rounds
// and must never wait there for an event that may not come.
func TestQueuedUeventsComeWithoutWaiting(t *testing.T) {
	events := listenUevents(t)
	// A synthetic event: the kernel sends it for the device as for a real
	// one, and it changes nothing.
	const devpath = "/devices/virtual/mem/null"
	if err := os.WriteFile("/sys"+devpath+"/uevent", []byte("change"), 0); err != nil {
		t.Fatal(err)
	}
	queued, lost, err := events.queued()
	if err != nil || lost {
		t.Fatalf("queued: lost %v, %v", lost, err)
	}
	found := false
	for _, ev := range queued {
		found = found || ev["DEVPATH"] == devpath && ev["ACTION"] == "change"
	}
	if !found {
		t.Fatalf("the event for %s is not among those queued: %v", devpath, queued)
	}
	// Nothing is queued now, unless the host has events of its own.
	done := make(chan error, 1)
	go func() {
		_, _, err := events.queued()
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("a read with nothing queued: %v", err)
		}
	case <-time.After(hang):
		t.Fatalf("a read with nothing queued waited %v", hang)
	}
}

// A process that floods the uevent group (any root process may send to
// it) cannot hold the reader of the queue: it stops after maxQueued
// messages and counts the rest as lost, so that coldplug walks instead.
func TestQueuedUeventsStopAtAFlood(t *testing.T) {
	events := listenUevents(t)
	sender, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sender)
	msg := []byte("add@/devices/fake\x00ACTION=add\x00DEVPATH=/devices/fake\x00MODALIAS=fake:v1\x00")
	for range maxQueued + 100 {
		if err := unix.Sendto(sender, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
			t.Fatal(err)
		}
	}
	queued, lost, err := events.queued()
	if err != nil || !lost {
		t.Errorf("after a flood: lost %v, %v; want the rest counted as lost", lost, err)
	}
	for _, ev := range queued {
		if ev["DEVPATH"] == "/devices/fake" {
			t.Errorf("a message of a process, not the kernel, was taken as an event: %v", ev)
		}
	}
}

// listenUevents opens a uevent socket for the test, closed at its end.
func listenUevents(t *testing.T) *uevents {
	t.Helper()
	needRoot(t)
	events, err := openUevents()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(events.fd) })
	return events
}
