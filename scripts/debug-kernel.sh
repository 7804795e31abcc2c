#!/bin/sh
# Build the debug kernel of `make check-debug` once: tinyconfig plus
# scripts/debug-kernel.config, from Debian's linux-source-6.12, under
# $MQDEV_CACHE/debug (outside the tree), rebuilt only when the fragment or
# the source package changes.  Then build mqdev.ko for it
# in build/debug/kmod, a copy of kmod/ (kbuild writes beside the sources).
# Prints the path of the bzImage.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${MQDEV_CACHE:-/var/cache/mqdev}/debug
tarball=/usr/src/linux-source-6.12.tar.xz
frag=$root/scripts/debug-kernel.config
key=$(sha256sum <"$frag" | cut -c1-12)-$(stat -c %Y "$tarball")
src=$cache/linux-source-6.12
obj=$cache/build-$key
image=$obj/arch/x86/boot/bzImage

mkdir -p "$cache"
if [ ! -f "$src/Makefile" ]; then
	echo "debug-kernel: extracting $tarball" >&2
	tar -xJf "$tarball" -C "$cache"
fi
if [ ! -f "$obj/.built" ]; then
	# one configuration at a time is kept
	for old in "$cache"/build-*; do
		[ "$old" = "$obj" ] || rm -rf "$old"
	done
	mkdir -p "$obj"
	# (re)configure only a fresh tree: a rerun after a failed build resumes
	[ -f "$obj/.config" ] ||
	make -s -C "$src" O="$obj" tinyconfig >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" \
		"$frag" >/dev/null
	make -s -C "$src" O="$obj" olddefconfig >/dev/null
	# every option of the fragment must have taken
	missing=$(grep '^CONFIG_' "$frag" | while read -r line; do
		case $line in
		*=n) grep -q "^# ${line%=n} is not set" "$obj/.config" ||
			! grep -q "^${line%=n}=" "$obj/.config" || echo "$line" ;;
		*) grep -qx "$line" "$obj/.config" || echo "$line" ;;
		esac
	done)
	if [ -n "$missing" ]; then
		echo "debug-kernel: options that did not take:" $missing >&2
		exit 1
	fi
	echo "debug-kernel: building (a few minutes, once)" >&2
	# modules too: that writes the Module.symvers mqdev.ko links against
	make -s -C "$src" O="$obj" -j"$(nproc)" bzImage modules >&2
	touch "$obj/.built"
fi

kmod=$root/build/debug/kmod
mkdir -p "$kmod"
cp "$root"/kmod/*.c "$root"/kmod/*.h "$root"/kmod/Kbuild "$kmod/"
rm -f "$kmod"/*.mod.c
mkdir -p "$root/build/debug/uapi/linux"
cp "$root/uapi/linux/mqdev.h" "$root/build/debug/uapi/linux/"
make -s -C "$obj" M="$kmod" CONFIG_MQDEV=m modules >&2
echo "$image"
