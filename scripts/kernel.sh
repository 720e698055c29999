#!/usr/bin/env bash
# kernel.sh OUTDIR — fetch Debian 12's newest amd64 kernel and lay it out for
# the image builder:
#
#   OUTDIR/vmlinuz                  the kernel (boot/vmlinuz-*)
#   OUTDIR/System.map, OUTDIR/config
#   OUTDIR/lib/modules/VERSION/...  the modules tree, as the package ships it
#   OUTDIR/version                  VERSION, e.g. 6.1.0-56-amd64
#
# A complete OUTDIR is reused without touching the network. Everything is
# assembled in a temporary directory beside OUTDIR and renamed into place
# at the end, so an interrupted run never leaves a half-written tree.
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

mkdir -p -- "$cache" "$parent"
shopt -s nullglob
debs=("$cache/${pkg}"_*_amd64.deb)
if [[ ${#debs[@]} -eq 0 ]]; then
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
	for f in "$dl"/*.deb; do mv -- "$f" "$cache/"; done
	rm -rf -- "$dl"
	debs=("$cache/${pkg}"_*_amd64.deb)
fi
[[ ${#debs[@]} -ge 1 ]] || die "no $pkg .deb in $cache after download"
# Several cached revisions of one package: take the newest.
deb=$(printf '%s\n' "${debs[@]}" | sort -V | tail -n 1)
log "unpacking $(basename -- "$deb")"

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
