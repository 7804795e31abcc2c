#!/bin/sh
# Every struct of uapi/linux/mqdev.h has the one layout for a 64-bit and a
# 32-bit caller: /dev/mq's compat_ioctl is compat_ptr_ioctl(), which hands
# a 32-bit process's struct to the 64-bit code as it is, so a field that
# moves (a __u64 after an odd number of __u32s, 4-aligned on i386) or a
# size that differs (which also changes the command's number) would be read
# wrongly or refused.  Compares pahole's layouts of both builds, field by
# field; selftests/mqdev/compat_test.c then runs the calls from 32 bits.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
hdr="$root/uapi/linux/mqdev.h"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

structs=$(sed -n 's/^struct \(mqdev_[a-z0-9_]*\) {$/\1/p' "$hdr" | sort -u)
if [ -z "$structs" ]; then
	echo "uapi-compat-check: no struct found in $hdr" >&2
	exit 1
fi
{
	echo '#include <linux/mqdev.h>'
	for s in $structs; do echo "struct $s v_$s;"; done
} >"$tmp/probe.c"

for bits in 64 32; do
	${CC:-cc} -m$bits -g -c -isystem "$root/uapi" -o "$tmp/probe$bits.o" \
		"$tmp/probe.c"
	# without the comments' cache-line marks, whose places differ
	pahole --show_only_data_members "$tmp/probe$bits.o" |
		sed -e '/cacheline/d' >"$tmp/layout$bits"
done

if ! diff -u "$tmp/layout64" "$tmp/layout32"; then
	echo "uapi-compat-check: the layouts above differ between 64 and 32 bits" >&2
	exit 1
fi
echo "uapi-compat-check: $(echo "$structs" | wc -l) structs, one layout"
