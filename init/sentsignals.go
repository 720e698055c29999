package main

/*
#include <signal.h>
#include <stddef.h>

// The Go runtime's handlers, as installed before ours wrapped them.
static struct sigaction minikit_go_handlers[65];

// A fault the kernel raises carries a positive si_code; every signal
// another process can send (kill, tgkill, sigqueue, pidfd_send_signal)
// carries one of zero or below, the kernel refusing any other. Go treats
// only SI_USER and SI_TKILL as sent, so a SIGSEGV or SIGILL sent with
// sigqueue would pass for a fault and crash it: present them as SI_USER.
static void minikit_sent_as_user(int sig, siginfo_t *info, void *ctx) {
	if (info != NULL && info->si_code <= 0) {
		info->si_code = SI_USER;
	}
	minikit_go_handlers[sig].sa_sigaction(sig, info, ctx);
}

static int minikit_wrap_go_handler(int sig) {
	struct sigaction sa;
	if (sig <= 0 || sig > 64) {
		return -1;
	}
	if (sigaction(sig, NULL, &sa) != 0) {
		return -1;
	}
	if ((sa.sa_flags & SA_SIGINFO) && sa.sa_sigaction == minikit_sent_as_user) {
		return 0; // wrapped already: wrapping the wrapper would call itself
	}
	if (!(sa.sa_flags & SA_SIGINFO) || sa.sa_sigaction == NULL) {
		return -1; // not the Go runtime's handler: leave it alone
	}
	minikit_go_handlers[sig] = sa;
	sa.sa_sigaction = minikit_sent_as_user;
	return sigaction(sig, &sa, NULL);
}
*/
import "C"

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// faultSignals are the signals the Go runtime takes for faults of the
// program, and crashes on unless it sees they were sent.
var faultSignals = []syscall.Signal{unix.SIGILL, unix.SIGTRAP, unix.SIGBUS, unix.SIGFPE, unix.SIGSEGV,
	unix.SIGSTKFLT, unix.SIGSYS}

// presentSentFaultsAsSent makes the runtime see every fault signal that
// another process sent as sent, whatever si_code the sender chose, so
// that it goes to init's channel like one sent with kill. The kernel's
// own faults reach the runtime untouched. It must run after the runtime
// installed its handlers, which it does before main.
func presentSentFaultsAsSent() error {
	for _, s := range faultSignals {
		if C.minikit_wrap_go_handler(C.int(s)) != 0 {
			return fmt.Errorf("wrap the runtime's handler of %s", signalName(s))
		}
	}
	return nil
}
