#!/bin/sh
# Run by acpid on the power button, with the event as arguments. minikit's
# init takes SIGUSR2 as a request for a clean poweroff, as busybox's init
# does; the image shares init's PID namespace to send it.
echo "acpid: power button ($*): asking init to power off"
exec kill -USR2 1
