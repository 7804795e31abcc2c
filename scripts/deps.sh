#!/bin/sh
# Install what building and testing mqdev needs, from Debian's packages.
# Idempotent and quick when everything is already there.  Run as root.
set -eu

PKGS="make gcc libc6-dev pkg-config xz-utils cpio kmod
linux-image-6.12-amd64 linux-headers-6.12-amd64 linux-source-6.12
qemu-system-x86 busybox-static libmnl-dev sparse e2fsprogs
flex bison bc libelf-dev libssl-dev
libhiredis-dev redis-tools abigail-tools
python3 python3-yaml python3-jsonschema
scdoc mandoc groff-base man-db"

[ $# -gt 0 ] && PKGS="$PKGS $*"

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
# The guest kernel is only unpacked and booted under qemu: no boot loader
# or firmware is wanted on this machine.
apt-get install -y -q --no-install-recommends $missing
