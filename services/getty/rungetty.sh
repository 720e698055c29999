#!/bin/sh
# Starts a getty on every console= of the kernel command line and keeps it
# running, as LinuxKit's getty does. With INSECURE=true the console gives a
# root shell without asking for a password.

# The root filesystem is read-only: the shadow file lives on /run.
mkdir -p -m 0700 /run/getty
if [ -f /hostroot/etc/getty.shadow ]; then
	cp /hostroot/etc/getty.shadow /run/getty/shadow
	echo >>/run/getty/shadow # in case the file lacks its last newline
else
	# No password: root cannot log in on a secure console.
	echo 'root:*:0:0:99999:7:::' >/run/getty/shadow
fi
chmod 0600 /run/getty/shadow

start_getty() {
	tty=${1%,*}
	speed=${1#*,}
	[ "$speed" = "$1" ] && speed=115200
	line= term=linux
	case "$tty" in
	ttyS* | ttyAMA* | ttyUSB* | ttyMFD* | hvc* | ttysclp*)
		line=-L term=vt100 ;;
	tty[0-9]*)
		speed=38400 ;;
	esac
	# A console the machine lacks (ttyAMA0 on a PC) cannot be opened. The
	# probe runs in a subshell: a failed redirection on a special built-in
	# such as : ends a POSIX shell, here the whole service.
	if ! (: <"/dev/$tty") 2>/dev/null; then
		echo "getty: no console $tty on this machine; skipped"
		return
	fi
	loginargs=
	if [ "$INSECURE" = true ]; then
		loginargs="-n -l /usr/libexec/getty/autologin"
	fi
	echo "getty: starting on $tty"
	# shellcheck disable=SC2086 # the words are meant to split
	(while :; do
		getty $loginargs $line "$speed" "$tty" $term
		sleep 1
	done) &
}

started=
for opt in $(cat /proc/cmdline); do
	case "$opt" in
	console=*)
		start_getty "${opt#console=}"
		started=1
		;;
	esac
done
[ -n "$started" ] || echo "getty: no console= on the kernel command line; nothing to do"
# Keep the service alive while the gettys run (or forever, when none could).
wait
exec sleep 2147483647
