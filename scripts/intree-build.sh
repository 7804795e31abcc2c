#!/bin/sh
# Build mqdev in-tree: put the sources into Debian's linux-source-6.12 tree
# (extracted once under $MQDEV_CACHE), enable CONFIG_MQDEV=m through Kconfig,
# and compile drivers/misc/mqdev.  Proves Kconfig and kmod/Kbuild serve an
# in-tree build as well as the out-of-tree one.  Then the selftests, as
# kselftest builds them: selftests/mqdev at tools/testing/selftests/mqdev with
# libmqdev's sources beside them in lib/, against the tree's uapi headers
# (built only: the host cannot load the module; the VM runs them).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${MQDEV_CACHE:-/var/cache/mqdev}
src=$cache/linux-source-6.12

if [ ! -f "$src/Makefile" ]; then
	mkdir -p "$cache"
	tar -xJf /usr/src/linux-source-6.12.tar.xz -C "$cache"
fi
mkdir -p "$src/drivers/misc/mqdev"
cp "$root"/kmod/*.c "$root"/kmod/*.h "$root"/kmod/Kbuild "$src/drivers/misc/mqdev/"
cp "$root/Kconfig" "$src/drivers/misc/mqdev/Kconfig"
cp "$root/uapi/linux/mqdev.h" "$src/include/uapi/linux/mqdev.h"
grep -q 'mqdev/Kconfig' "$src/drivers/misc/Kconfig" ||
	sed -i '$i source "drivers/misc/mqdev/Kconfig"' "$src/drivers/misc/Kconfig"
grep -q 'CONFIG_MQDEV' "$src/drivers/misc/Makefile" ||
	echo 'obj-$(CONFIG_MQDEV) += mqdev/' >>"$src/drivers/misc/Makefile"

cd "$src"
if [ ! -f .config ]; then
	make -s tinyconfig
	./scripts/config -e MODULES -e MMU -e 64BIT -m MQDEV
	make -s olddefconfig
fi
grep -q '^CONFIG_MQDEV=m' .config || {
	./scripts/config -m MQDEV
	make -s olddefconfig
}
grep '^CONFIG_MQDEV=m' .config
make -s -j"$(nproc)" modules_prepare
# Compile and link the directory; the .ko's final modpost step needs a
# vmlinux, which 'make check-debug' builds (this tree is only prepared).
rm -f drivers/misc/mqdev/*.o
make -j"$(nproc)" W=1 KCFLAGS=-Werror drivers/misc/mqdev/
ls -l drivers/misc/mqdev/mqdev.o

st=tools/testing/selftests/mqdev
rm -rf "$st"
mkdir -p "$st/lib"
cp -R "$root"/selftests/mqdev/. "$st/"
cp "$root"/lib/*.c "$root"/lib/*.h "$st/lib/"
make -s -j"$(nproc)" headers
make -j"$(nproc)" -C tools/testing/selftests TARGETS=mqdev USERCFLAGS=-Werror
ls "$st"/*_test
