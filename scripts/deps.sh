#!/usr/bin/env bash
# Installs, from Debian's archive, what building and testing minikit needs
# and the machine lacks. Asks apt only when something is missing.
set -euo pipefail

# command-or-file  debian-package
needs=(
	"qemu-system-x86_64 qemu-system-x86"
	"/bin/busybox busybox-static"
	"runc runc"
	"ssh openssh-client"
	"file file"
	"gcc gcc"
	"/usr/lib/x86_64-linux-gnu/libc.a libc6-dev"
	# init's libcontainer enforces seccomp filters through libseccomp, linked statically
	"/usr/lib/x86_64-linux-gnu/libseccomp.a libseccomp-dev"
	"pkg-config pkgconf"
	"dpkg-deb dpkg"
	"tar tar"
	"mkfs.ext4 e2fsprogs"
	"dnsmasq dnsmasq-base"
	"ip iproute2"
	# minikit build -format: ISOs, disk images, qcow2; minikit run -firmware efi
	"xorriso xorriso"
	"/usr/lib/ISOLINUX/isolinux.bin isolinux"
	"/usr/lib/syslinux/modules/bios/ldlinux.c32 syslinux-common"
	"mcopy mtools"
	"grub-mkimage grub-common"
	"/usr/lib/grub/x86_64-efi/linux.mod grub-efi-amd64-bin"
	"/usr/lib/grub/i386-pc/boot.img grub-pc-bin"
	"qemu-img qemu-utils"
	"/usr/share/OVMF/OVMF_CODE_4M.fd ovmf"
	"sfdisk fdisk"
	# minikit build: the root image and its dm-verity hash tree
	"mksquashfs squashfs-tools"
	"veritysetup cryptsetup-bin"
)

missing=()
for n in "${needs[@]}"; do
	what=${n% *} pkg=${n##* }
	if [[ $what == /* ]]; then
		[[ -e $what ]] || missing+=("$pkg")
	else
		command -v "$what" >/dev/null 2>&1 || missing+=("$pkg")
	fi
done
# busybox-static, not the dynamic busybox: it is copied into images.
if [[ -e /bin/busybox ]] && ! file -L /bin/busybox | grep -q 'statically linked'; then
	missing+=(busybox-static)
fi

if ((${#missing[@]} == 0)); then
	exit 0
fi
echo "installing: ${missing[*]}"
sudo=""
[[ $(id -u) == 0 ]] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
