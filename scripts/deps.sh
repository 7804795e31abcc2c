#!/bin/sh
# Install what building and testing mqdev needs, from Debian's packages.
# Idempotent and quick when everything is already there.  Run as root.
set -eu

PKGS="make gcc libc6-dev gcc-multilib clang pahole pkg-config xz-utils cpio kmod
linux-image-6.12-amd64 linux-headers-6.12-amd64 linux-source-6.12
qemu-system-x86 busybox-static libmnl-dev sparse e2fsprogs
flex bison bc libelf-dev libssl-dev
libhiredis-dev redis-tools abigail-tools
python3 python3-yaml python3-jsonschema python3-docutils dkms
scdoc mandoc groff-base man-db prometheus
zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev
kcat python3-kafka python3-confluent-kafka librdkafka-dev
rabbitmq-server librabbitmq-dev
python3-lz4 python3-snappy linux-perf"

[ $# -gt 0 ] && PKGS="$PKGS $*"

# Debian 12's own kernel, 6.1, for make check-6.1 and make dkms-check: the
# newest installed (scripts/kver.sh 6.1), else the release bookworm's
# metapackage linux-headers-amd64 names now, its image unsigned (nothing
# boots it but qemu, and the signed one wants a boot loader's trust).
here=$(dirname "$0")
if [ -z "$("$here/kver.sh" 6.1)" ]; then
	[ "$(id -u)" = 0 ] && apt-get update -q >/dev/null
	abi=$(apt-cache depends linux-headers-amd64 2>/dev/null |
	      sed -n 's/^ *Depends: linux-headers-\(6\.1\.0-[0-9]*\)-amd64$/\1/p' |
	      sort -V | tail -n 1)
	if [ -z "$abi" ]; then
		echo "deps: no Debian 6.1 kernel found (linux-headers-amd64)" >&2
		exit 1
	fi
	PKGS="$PKGS linux-image-$abi-amd64-unsigned linux-headers-$abi-amd64"
fi

# Does a kernel installed here need Debian's initramfs?  Nothing of ours
# uses one: the VM runner builds its own (tools/vm/run), and making one for
# each kernel is minutes of compression.  But a boot loader may boot it,
# and Debian's kernel cannot mount a root file system without it.  So it is
# left out only where this machine's boot is plainly arranged from outside:
# the running kernel is not one installed in /boot (a container, or a VM
# whose kernel the host hands it), this is not a chroot (an image being
# built, whose boot loader may come later), there is no /boot/grub, and no
# boot loader hooks kernel installs (those of DKMS, apt, unattended-upgrades
# and initramfs-tools itself make nothing bootable).
initrd_wanted() {
	[ -e "/boot/vmlinuz-$(uname -r)" ] && return 0
	chroot=0
	ischroot || chroot=$?
	[ $chroot = 1 ] || return 0	# 0: a chroot; 2: cannot tell
	[ -d /boot/grub ] && return 0
	for hook in /etc/kernel/postinst.d/* /usr/share/kernel/postinst.d/*; do
		[ -e "$hook" ] || continue
		case ${hook##*/} in
		dkms|initramfs-tools|apt-auto-removal|unattended-upgrades) ;;
		*) return 0 ;;
		esac
	done
	return 1
}

missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
		grep -q '^install ok installed$' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# The guest kernels are only unpacked and booted under qemu: no boot loader
# or firmware is wanted on this machine.  Installing a kernel makes it the
# one /vmlinuz and /initrd.img (and their .old) name, which some boot
# loaders boot: they are put back as they were.  (GRUB's menu, where it is
# installed, gains an entry; its default stays the newest kernel.)
links="/vmlinuz /vmlinuz.old /initrd.img /initrd.img.old"
saved=
for l in $links; do
	[ -L "$l" ] && saved="$saved $l=$(readlink "$l")"
done
if ! initrd_wanted; then
	echo "deps: no initramfs for the kernels installed now: this machine's" \
	     "kernel ($(uname -r)) is not from /boot, and no boot loader is here" \
	     "(update-initramfs -c -k VERSION makes one)"
	export INITRD=No
fi
status=0
apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends $missing ||
	status=$?
for s in $saved; do
	ln -sfn "${s#*=}" "${s%%=*}"
done
exit $status
