#!/bin/busybox sh
# The baseline's PID 1: what a careful shell script does in place of
# minikit's init, for `make bench` to compare against. It boots the same
# kernel, modules and container bundles, and mounts what minikit's init
# mounts (rootfs/mounts.go), but runs each container with Debian's runc,
# one after another, and supervises nothing.
#
# bootbench replaces the @ONBOOT@ and @SERVICES@ lines below with one
# block per bundle, in minikit's order, made from each bundle's config.json
# and runtime.json (bench/bootbench/baseline.go). Markers go to the console in the shape of
# minikit's log, "[SECONDS] baseline: WHAT", with SECONDS from /proc/uptime
# (CLOCK_BOOTTIME, as minikit's init uses).

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mark() {
	read -r up _ </proc/uptime
	echo "[$up] baseline: $*"
}

if [ "$BASELINE_STAGE" != 2 ]; then
	# Stage 1, still on the kernel's initramfs. pivot_root (which runc
	# uses) refuses to leave it: copy it onto a tmpfs and switch_root,
	# which frees the initramfs as minikit's rootfs.MoveToTmpfs does.
	mount -t proc -o nosuid,nodev,noexec proc /proc
	mark "init started"
	mkdir -p /.newroot
	mount -t tmpfs -o mode=0755 root /.newroot
	for e in /* /.[!.]*; do
		case "$e" in
		/proc | /.newroot | '/.[!.]*') continue ;;
		esac
		cp -a "$e" /.newroot/
	done
	mkdir -p -m 0555 /.newroot/proc
	umount /proc
	export BASELINE_STAGE=2
	exec switch_root /.newroot /sbin/init
fi

# Stage 2, on the tmpfs: the mounts of rootfs.EarlyMounts, in its order.
unset BASELINE_STAGE
mount -t proc -o nosuid,nodev,noexec proc /proc
mark "root switched"
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts
mount -t tmpfs -o nosuid,nodev,mode=1777 shm /dev/shm
mount -t mqueue -o nosuid,nodev,noexec mqueue /dev/mqueue
mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp
mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /var
mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate cgroup2 /sys/fs/cgroup
mount -o remount,ro /
mount --make-rshared /
mkdir -p /var/log /run/minikit
# /run as minikit's init lays it out (init/boot.go, prepareRun): dhcpcd's
# directory, which the images bind, and the resolv.conf link into it.
mkdir -p /run/net
ln -s net/resolv.conf /run/resolv.conf
mark "filesystems mounted"

# The modules minikit's packer listed, dependencies first, one by one
# ("PATH: NEEDED ...": only the path is the module's).
loaded=" "
while read -r line; do
	m=${line%%:*}
	loaded="$loaded$m "
	insmod "$m" || echo "baseline: insmod $m failed"
done </etc/minikit/modules
# The drivers minikit's init loads only for the devices present
# (/etc/minikit/coldplug: a modalias pattern, then the modules to load
# for it). Matching globs in a shell costs seconds under TCG; a script
# would load them all, each once, in the table's order, as this one does.
if [ -f /etc/minikit/coldplug ]; then
	while read -r _ mods; do
		for m in $mods; do
			case "$loaded" in *" $m "*) continue ;; esac
			loaded="$loaded$m "
			insmod "$m" || echo "baseline: insmod $m failed"
		done
	done </etc/minikit/coldplug
fi
mark "modules loaded"
ip link set lo up

# writable ID BUNDLE: an overlay with a tmpfs upper layer over the bundle's
# rootfs, for a container whose root is not read-only, as minikit's init
# gives it (init/container.go). The overlay is mounted on the rootfs
# directory itself, so the bundle's config.json is used unchanged.
writable() {
	d=/run/baseline/rootfs/$1
	mkdir -p "$d/upper" "$d/work"
	mount -t overlay overlay -o "lowerdir=$2/rootfs,upperdir=$d/upper,workdir=$d/work" "$2/rootfs"
}

# onboot ID BUNDLE: run to completion, as minikit's onboot phase does.
onboot() {
	runc run --bundle "$2" "$1" || echo "baseline: onboot $1 exited with $?"
}

# service ID BUNDLE: start detached; nobody restarts it.
service() {
	runc run -d --bundle "$2" "$1" || echo "baseline: service $1 failed to start ($?)"
}

@ONBOOT@
mark "onboot done"
@SERVICES@
mark "services started"

# Stay PID 1 (its exit would panic the kernel); the shell reaps what is
# reparented to it.
while :; do
	sleep 3600
done
