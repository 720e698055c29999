#!/bin/sh
# poweroff.sh [SECONDS]: wait (30 s unless told), then power the system
# off. minikit's init takes SIGUSR2 as busybox's init does, as a request
# for a clean poweroff: services stopped, disks synced and unmounted. The
# control socket (svcctl poweroff) is not served yet while onboot runs,
# which is where this usually is; a signal works in both phases.
wait=${1:-30}
if [ "$$" = 1 ]; then
	echo "poweroff: PID 1 is this script, not the system's init: run it with pid: host" >&2
	exit 1
fi
echo "poweroff: powering off in $wait seconds"
if ! sleep "$wait"; then
	echo "poweroff: cannot wait '$wait' seconds; powering off now" >&2
fi
echo "poweroff: asking init to power off"
exec kill -USR2 1
