#!/usr/bin/env bash
# kernel.sh OUTDIR — fetch Debian 12's newest amd64 kernel and lay it out for
# the image builder:
#
#   OUTDIR/vmlinuz                  the kernel (boot/vmlinuz-*)
#   OUTDIR/System.map, OUTDIR/config
#   OUTDIR/lib/modules/VERSION/...  the modules tree, as the package ships it
#   OUTDIR/version                  VERSION, e.g. 6.1.0-56-amd64
#
# A complete OUTDIR is reused without touching the network. A cached .deb
# is used only when its SHA-256 is the one apt's package lists give, and is
# downloaded again otherwise. Everything is assembled in a temporary
# directory beside OUTDIR and renamed into place at the end, so an
# interrupted run never leaves a half-written tree.
#
# Environment:
#   KERNEL_PACKAGE    pin a package, e.g. linux-image-6.1.0-56-amd64
#                     (default: the newest linux-image-6.1.0-NN-amd64)
#   KERNEL_CACHE_DIR  where downloaded .deb files are kept
#                     (default: OUTDIR/../cache/kernel-debs)
set -euo pipefail

usage() {
	echo "usage: $0 OUTDIR" >&2
	exit 2
}

log() { echo "kernel.sh: $*" >&2; }
die() { log "$*"; exit 1; }

[[ $# -eq 1 && -n $1 ]] || usage
outdir=${1%/}
parent=$(dirname -- "$outdir")
cache=${KERNEL_CACHE_DIR:-$parent/cache/kernel-debs}

# complete DIR: succeeds when DIR holds everything this script promises.
complete() {
	local dir=$1 version
	[[ -s $dir/version ]] || return 1
	version=$(<"$dir/version")
	[[ -n $version && -s $dir/vmlinuz && -s $dir/System.map && -s $dir/config &&
		-d $dir/lib/modules/$version/kernel && -s $dir/lib/modules/$version/modules.builtin ]]
}

if complete "$outdir"; then
	log "kernel $(<"$outdir/version") cached in $outdir, nothing to do"
	exit 0
fi

# newest_package prints the newest signed generic amd64 6.1 kernel package
# that apt knows of; -rt, -cloud, -unsigned and -dbg flavours do not match.
newest_package() {
	apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' |
		awk '{print $1}' | sort -V | tail -n 1
}

pkg=${KERNEL_PACKAGE:-}
if [[ -z $pkg ]]; then
	pkg=$(newest_package)
	if [[ -z $pkg ]]; then
		log "no linux-image-6.1.0-*-amd64 in the apt lists, running apt-get update"
		apt-get update -qq
		pkg=$(newest_package)
	fi
	[[ -n $pkg ]] || die "no linux-image-6.1.0-*-amd64 package found by apt-cache"
fi
[[ $pkg =~ ^linux-image-6\.1\.0-[0-9]+-amd64$ ]] ||
	die "KERNEL_PACKAGE=$pkg is not a linux-image-6.1.0-NN-amd64 package"

# apt_file PKG prints "FILE SHA256" for the file apt would fetch for PKG,
# from its package lists (whose Release files apt checked against
# Debian's keys): the same source of truth the recipes check their
# packages against.
apt_file() {
	local uri file size sum
	read -r uri file size sum < <(apt-get download --print-uris -qq "$1" 2>/dev/null) || return 1
	[[ $file == *.deb && $sum =~ ^SHA256:[0-9a-f]{64}$ ]] || return 1
	printf '%s %s\n' "$file" "${sum#SHA256:}"
}

# sha256_is FILE SUM: succeeds when FILE's SHA-256 is SUM.
sha256_is() {
	sha256sum --check --status --strict - <<<"$2  $1"
}

if ! expected=$(apt_file "$pkg"); then
	log "apt's lists have no file for $pkg, running apt-get update"
	apt-get update -qq
	expected=$(apt_file "$pkg") || die "apt-get download --print-uris $pkg names no file: cannot check the package"
fi
read -r file sum <<<"$expected"
[[ $file == "${file##*/}" ]] || die "apt named the file of $pkg $file, not a plain file name"

mkdir -p -- "$cache" "$parent"
deb=$cache/$file
# The cache is shared with the recipes and outlives any one run: a file
# corrupted or replaced there since it was checked is caught here, before
# its kernel goes into an image.
if [[ -e $deb ]] && ! sha256_is "$deb" "$sum"; then
	log "$file in $cache does not have the SHA-256 apt's lists give ($sum): removing it and downloading again"
	rm -f -- "$deb"
fi
if [[ ! -e $deb ]]; then
	log "downloading $pkg into $cache"
	dl=$(mktemp -d "$cache/.download.XXXXXX")
	# apt-get download writes into the working directory; download into a
	# private one so a partial file never sits in the cache under its real name.
	# As root, apt would try (and fail) to drop to _apt in a private dir.
	sandbox=()
	[[ $EUID -ne 0 ]] || sandbox=(-o APT::Sandbox::User=root)
	if ! (cd "$dl" && apt-get download -q "${sandbox[@]}" "$pkg" >&2); then
		rm -rf -- "$dl"
		die "apt-get download $pkg failed"
	fi
	if [[ ! -f $dl/$file ]] || ! sha256_is "$dl/$file" "$sum"; then
		rm -rf -- "$dl"
		die "apt-get download $pkg did not give $file with SHA-256 $sum"
	fi
	mv -- "$dl/$file" "$deb"
	rm -rf -- "$dl"
fi
log "unpacking $file"

shopt -s nullglob
work=$(mktemp -d "$parent/.kernel.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
dpkg-deb -x "$deb" "$work/pkg"

kernels=("$work"/pkg/boot/vmlinuz-*)
[[ ${#kernels[@]} -eq 1 ]] || die "$deb: expected one boot/vmlinuz-*, found ${#kernels[@]}"
version=${kernels[0]##*/vmlinuz-}

moddir=
for d in "$work/pkg/lib/modules/$version" "$work/pkg/usr/lib/modules/$version"; do
	if [[ -d $d ]]; then moddir=$d; break; fi
done
[[ -n $moddir ]] || die "$deb: no lib/modules/$version"

out=$work/out
mkdir -p "$out/lib/modules"
cp -- "${kernels[0]}" "$out/vmlinuz"
cp -- "$work/pkg/boot/System.map-$version" "$out/System.map"
cp -- "$work/pkg/boot/config-$version" "$out/config"
mv -- "$moddir" "$out/lib/modules/$version"
printf '%s\n' "$version" >"$out/version"
complete "$out" || die "$deb: unpacked tree for $version is incomplete"

# An incomplete OUTDIR from an older layout or a hand edit is replaced whole.
rm -rf -- "$outdir"
mv -- "$out" "$outdir"
log "kernel $version ready in $outdir"
