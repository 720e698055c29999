package main

/*
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

// Runs before the Go runtime maps its heap and starts its threads, which
// is the point: a transparent huge page is given at the first touch of a
// region, and stays. PID 1 only: not libcontainer's init
// (which is never PID 1 when the binary starts: nsexec clones it into the
// container's PID namespace later).
__attribute__((constructor)) static void minikit_no_huge_pages(int argc, char **argv, char **envp) {
	(void)argc; (void)argv; (void)envp;
	if (getpid() == 1) {
		prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	}
}
*/
import "C"

import "golang.org/x/sys/unix"

// PID 1 takes no transparent huge pages. Debian's kernel gives them
// always (CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS): the first touch of a
// 2 MiB-aligned part of the Go heap, or of a thread's 8 MiB stack, takes
// a whole 2 MiB page, and what the runtime gives back inside it stays
// resident until memory runs short. init's heap of 3 MiB held 8 MiB that
// way, and two thread stacks 2 MiB each. init gains nothing from huge
// pages: its working set is small and its TLB misses few.
//
// The setting is inherited across fork and exec, and the containers are
// init's descendants: libcontainer's init, the last process before a
// container's own, gives it up again (allowHugePages).

// allowHugePages undoes, for a container about to start, the setting it
// inherited from PID 1.
func allowHugePages() {
	_ = unix.Prctl(unix.PR_SET_THP_DISABLE, 0, 0, 0, 0)
}
