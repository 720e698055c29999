#!/usr/bin/env bash
# Lays out the directories of minikit's base images and imports each into
# the image store: minikit/kernel (Debian's kernel, as LinuxKit lays a
# kernel image out), minikit/init (our PID 1 and svcctl) and
# minikit/busybox (a static busybox for tests and examples).
#
# usage: scripts/images.sh kernel|init|busybox BUILD_DIR
set -euo pipefail

what=$1 build=$2
minikit=${MINIKIT:-bin/minikit}
root=$build/rootfs/$what
rm -rf "$root"
mkdir -p "$root"

# GNU tar settings that make the same tree give the same bytes.
repro_tar=(--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu)

case $what in
kernel)
	kdir=$build/kernel
	cp "$kdir/vmlinuz" "$root/kernel"
	cp "$kdir/System.map" "$root/System.map"
	cp "$kdir/config" "$root/config"
	tar "${repro_tar[@]}" -C "$kdir" -cf "$root/kernel.tar" lib/modules
	"$minikit" image-import minikit/kernel:6.1 "$root"
	;;
init)
	mkdir -p "$root"/{sbin,usr/bin,etc/minikit,proc,sys,dev,run,tmp,var,containers,root}
	cp bin/init "$root/sbin/init"
	cp bin/svcctl "$root/usr/bin/svcctl"
	ln -s /sbin/init "$root/init"
	cat >"$root/etc/os-release" <<-'OS'
		NAME=minikit
		ID=minikit
		PRETTY_NAME="minikit"
		HOME_URL="https://github.com/minikit/minikit"
	OS
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' >"$root/etc/group"
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$root/etc/hosts"
	# Written at run time on /run, since / is read-only.
	ln -s /run/resolv.conf "$root/etc/resolv.conf"
	"$minikit" image-import minikit/init:dev "$root"
	;;
busybox)
	mkdir -p "$root"/{bin,etc,proc,sys,dev,run,tmp,var,root}
	cp /bin/busybox "$root/bin/busybox"
	for applet in $(/bin/busybox --list); do
		[[ $applet == busybox ]] || ln -s busybox "$root/bin/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
	"$minikit" image-import -cmd /bin/sh minikit/busybox:dev "$root"
	;;
*)
	echo "usage: $0 kernel|init|busybox BUILD_DIR" >&2
	exit 2
	;;
esac
