#!/bin/sh
# The module's kernel-doc, checked by the kernel's own script (from Debian's
# linux-source-6.12 tarball, as checkpatch.pl is): -Wall, so a function
# comment without Return: for a non-void function fails too.  Any output is
# a failure.  netlink-gen.[ch] are generated (scripts/ynl-regen.sh), and so
# are the *.mod.c of a build: not checked.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
kdoc=$root/build/kdoc/scripts/kernel-doc

if [ ! -f "$kdoc" ]; then
	mkdir -p "$root/build/kdoc"
	tar -xJf /usr/src/linux-source-6.12.tar.xz -C "$root/build/kdoc" \
		--strip-components=1 linux-source-6.12/scripts/kernel-doc
fi

cd "$root"
files=
for f in kmod/*.c kmod/*.h; do
	case $f in
	kmod/netlink-gen.[ch] | kmod/*.mod.c) continue ;;
	esac
	files="$files $f"
done

set +e
# shellcheck disable=SC2086
out=$(perl "$kdoc" -none -Wall $files 2>&1)
rc=$?
set -e
if [ -n "$out" ] || [ "$rc" != 0 ]; then
	printf '%s\n' "$out"
	echo "kdoc-check: kernel-doc is not clean (status $rc)" >&2
	exit 1
fi
