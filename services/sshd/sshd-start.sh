#!/bin/sh
# Starts sshd in the foreground, making its host keys first if there are
# none yet. Keys live in $SSHD_HOST_KEYS: /run/ssh by default, new at every
# boot; point it at a directory on a persistent disk to keep them. No RSA
# host key: making one takes seconds, minutes under emulation, and every
# current client speaks ed25519 or ECDSA.
set -e
keys=${SSHD_HOST_KEYS:-/run/ssh}
mkdir -p -m 0700 "$keys"
args=
for type in ed25519 ecdsa; do
	key=$keys/ssh_host_${type}_key
	if [ ! -s "$key" ]; then
		rm -f "$key" "$key.pub"
		ssh-keygen -q -t "$type" -N '' -C "" -f "$key"
		echo "sshd: made host key $key: $(ssh-keygen -l -f "$key.pub")"
	fi
	args="$args -h $key"
done
# The privilege separation directory sshd chroots into.
mkdir -p -m 0755 /run/sshd
# shellcheck disable=SC2086 # one word per -h and key
exec /usr/sbin/sshd -D -e $args "$@"
