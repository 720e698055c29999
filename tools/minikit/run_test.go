package main

import (
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minikit/minikit/tools/qemu"
)

func TestStatusOf(t *testing.T) {
	const panicLine = "Kernel panic - not syncing: VFS: Unable to mount root fs"
	tests := []struct {
		name string
		exit qemu.Exit
		want int
	}{
		{"poweroff", qemu.Exit{Reason: qemu.ExitPoweroff}, statusPoweroff},
		{"a panic the guest recovered from is still a poweroff", qemu.Exit{Reason: qemu.ExitPoweroff, Panic: panicLine}, statusPoweroff},
		{"reset", qemu.Exit{Reason: qemu.ExitReset}, statusReset},
		{"pvpanic", qemu.Exit{Reason: qemu.ExitPanic}, statusPanic},
		{"panic=N reset after a console panic", qemu.Exit{Reason: qemu.ExitReset, Panic: panicLine}, statusPanic},
		{"a hung panic killed at the timeout", qemu.Exit{Reason: qemu.ExitTimedOut, Panic: panicLine}, statusPanic},
		{"timeout", qemu.Exit{Reason: qemu.ExitTimedOut}, statusTimeout},
		{"killed", qemu.Exit{Reason: qemu.ExitKilled, Code: -1}, statusKilled},
		{"qemu told to quit", qemu.Exit{Reason: qemu.ExitHostQuit}, statusKilled},
		{"qemu failed", qemu.Exit{Reason: qemu.ExitFailed, Code: 1}, statusQEMUFailed},
		{"no reason at all", qemu.Exit{}, statusQEMUFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := statusOf(tt.exit); got != tt.want {
				t.Errorf("statusOf(%v) = %d, want %d", tt.exit, got, tt.want)
			}
		})
	}
}

// parseRun parses args as minikit run does.
func parseRun(args ...string) (runFlags, error) {
	var f runFlags
	fs := newRunFlagSet(&f)
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	return f, err
}

func TestRunFlagsPublish(t *testing.T) {
	f, err := parseRun("-publish", "2222:22", "-publish=5353:53/udp", "-publish", "8080:80/tcp", "img")
	if err != nil {
		t.Fatal(err)
	}
	want := forwardFlags{
		{HostPort: 2222, GuestPort: 22},
		{Proto: "udp", HostPort: 5353, GuestPort: 53},
		{Proto: "tcp", HostPort: 8080, GuestPort: 80},
	}
	if !reflect.DeepEqual(f.forwards, want) {
		t.Errorf("forwards = %#v, want %#v", f.forwards, want)
	}
	if got := f.forwards.String(); got != "2222:22/tcp 5353:53/udp 8080:80/tcp" {
		t.Errorf("String() = %q", got)
	}

	for _, tt := range []struct{ value, wantErr string }{
		{"2222", `invalid value "2222" for flag -publish: port forward "2222": want HOST:GUEST[/tcp|udp]`},
		{"ssh:22", `host port "ssh" is not a number`},
		{"2222:x", `guest port "x" is not a number`},
		{"2222:22/sctp", `protocol "sctp": want tcp or udp`},
		{"0:22", "port 0: want 1 to 65535"},
		{"2222:65536", "port 65536: want 1 to 65535"},
		{"", `port forward "": want HOST:GUEST`},
	} {
		_, err := parseRun("-publish", tt.value, "img")
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("-publish %q: error %v, want it to contain %q", tt.value, err, tt.wantErr)
		}
	}
}

func TestRunFlagsDisk(t *testing.T) {
	f, err := parseRun("-disk", "data.img,size=1G", "-disk", "vm.qcow2", "-disk=scratch.raw,size=4096K",
		"--disk", "file=sda.img,size=2,bus=sata", "img")
	if err != nil {
		t.Fatal(err)
	}
	want := diskFlags{
		{Path: "data.img", Size: 1 << 30},
		{Path: "vm.qcow2", Format: "qcow2"},
		{Path: "scratch.raw", Size: 4 << 20},
		{Path: "sda.img", Size: 2 << 30, Bus: qemu.BusSATA}, // LinuxKit's syntax: a bare size is GiB
	}
	if !reflect.DeepEqual(f.disks, want) {
		t.Errorf("disks = %#v, want %#v", f.disks, want)
	}
	if got := f.disks.String(); got != "data.img vm.qcow2 scratch.raw sda.img" {
		t.Errorf("String() = %q", got)
	}

	for _, tt := range []struct{ value, wantErr string }{
		{"", `invalid value "" for flag -disk: disk "": no file name`},
		{",size=1G", "no file name"},
		{"d.img,speed=1", `unknown option "speed": want file, size, format or bus`},
		{"d.img,bus=usb", `bus "usb": want virtio, scsi or sata`},
		{"d.img,size=", `size "": want a positive number`},
		{"d.img,size=0", `size "0": want a positive number`},
		{"d.img,size=-1G", `size "-1G": want a positive number`},
		{"d.img,size=1X", `size "1X": want a positive number`},
		{"d.img,size=99999999999T", `size "99999999999T": too large`},
	} {
		_, err := parseRun("-disk", tt.value, "img")
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("-disk %q: error %v, want it to contain %q", tt.value, err, tt.wantErr)
		}
	}
}

// supervise runs superviseRun on vm with the signals already sent.
func supervise(t *testing.T, vm *fakeVM, grace time.Duration, sent ...os.Signal) (qemu.Exit, error) {
	t.Helper()
	signals := make(chan os.Signal, len(sent))
	for _, s := range sent {
		signals <- s
	}
	return superviseRun(vm, "test-image", signals, grace)
}

func TestSuperviseRun(t *testing.T) {
	const never = time.Hour
	tests := []struct {
		name           string
		vm             *fakeVM
		grace          time.Duration
		signals        []os.Signal
		want           qemu.ExitReason
		wantPowerdowns int
		wantKills      int
	}{
		{"a signal presses the power button and the guest powers off",
			newFakeVM(true), never, []os.Signal{syscall.SIGTERM}, qemu.ExitPoweroff, 1, 0},
		{"Ctrl-C does the same",
			newFakeVM(true), never, []os.Signal{syscall.SIGINT}, qemu.ExitPoweroff, 1, 0},
		{"a guest that ignores the power button is killed when the grace ends",
			newFakeVM(false), time.Millisecond, []os.Signal{syscall.SIGTERM}, qemu.ExitKilled, 1, 1},
		{"a second signal kills at once",
			newFakeVM(false), never, []os.Signal{syscall.SIGINT, syscall.SIGTERM}, qemu.ExitKilled, 1, 1},
		{"a power button qemu does not take kills at once",
			&fakeVM{powerdownErr: errFakeQMP, done: make(chan struct{})}, never, []os.Signal{syscall.SIGTERM}, qemu.ExitKilled, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exit, err := supervise(t, tt.vm, tt.grace, tt.signals...)
			if err != nil {
				t.Fatalf("superviseRun: %v", err)
			}
			if exit.Reason != tt.want {
				t.Errorf("exit %v, want %v", exit, tt.want)
			}
			if p, k := tt.vm.counts(); p != tt.wantPowerdowns || k != tt.wantKills {
				t.Errorf("%d power button presses and %d kills, want %d and %d", p, k, tt.wantPowerdowns, tt.wantKills)
			}
		})
	}
}

func TestSuperviseRunGuestStopsByItself(t *testing.T) {
	for _, e := range []qemu.Exit{
		{Reason: qemu.ExitPoweroff, Shutdown: "guest-shutdown", Guest: true},
		{Reason: qemu.ExitReset, Shutdown: "guest-reset", Guest: true},
		{Reason: qemu.ExitReset, Panic: "Kernel panic - not syncing: Attempted to kill init!"},
	} {
		vm := newFakeVM(false)
		vm.stop(e, nil)
		exit, err := supervise(t, vm, time.Hour)
		if err != nil || !reflect.DeepEqual(exit, e) {
			t.Errorf("superviseRun = %v, %v; want %v, nil", exit, err, e)
		}
		if p, k := vm.counts(); p != 0 || k != 0 {
			t.Errorf("%v: %d power button presses and %d kills without a signal", e, p, k)
		}
	}
}

func TestSuperviseRunQEMUFailed(t *testing.T) {
	vm := newFakeVM(false)
	vm.stop(qemu.Exit{Reason: qemu.ExitFailed, Code: 1}, errors.New("qemu exited (exit status 1) without the guest shutting down"))
	exit, err := supervise(t, vm, time.Hour)
	if exit.Reason != qemu.ExitFailed || statusOf(exit) != statusQEMUFailed {
		t.Errorf("exit %v (status %d), want qemu failed (status %d)", exit, statusOf(exit), statusQEMUFailed)
	}
	// The error names the image, says what qemu said and how to run it by hand.
	for _, want := range []string{"test-image did not power off cleanly", "exit status 1", "qemu command: qemu-system-x86_64 -fake"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to contain %q", err, want)
		}
	}
}
