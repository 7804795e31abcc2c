#!/bin/sh
# A 32-bit caller gets what a 64-bit one does:
#
# - Every struct of uapi/linux/mqdev.h has the one layout for both.
#   /dev/mq's compat_ioctl is compat_ptr_ioctl(), which hands a 32-bit
#   process's struct to the 64-bit code as it is, so a field that moves (a
#   __u64 after an odd number of __u32s, 4-aligned on i386) or a size that
#   differs (which also changes the command's number) would be read wrongly
#   or refused.  Compares pahole's layouts of both builds, field by field.
# - libmqdev builds for i386 with gcc and with clang, without a warning,
#   and no atomic access to the pages it shares with the kernel becomes a
#   call into libatomic (see u64_shared in lib/internal.h).
#
# selftests/mqdev/compat_test.c then runs the calls from 32 bits.  Skips,
# saying so, where the compiler cannot build for i386 (no gcc-multilib).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
hdr="$root/uapi/linux/mqdev.h"
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! echo 'int main(void) { return 0; }' |
     $cc -m32 -x c -o "$tmp/probe" - 2>/dev/null; then
	echo "uapi-compat-check: skipped: $cc cannot build for i386 (gcc-multilib)"
	exit 0
fi

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
	$cc -m$bits -g -c -isystem "$root/uapi" -o "$tmp/probe$bits.o" \
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

# libmqdev for i386, by each compiler there is
for c in "$cc" clang; do
	command -v "$c" >/dev/null || {
		echo "uapi-compat-check: no $c: libmqdev not built with it"
		continue
	}
	for src in "$root"/lib/*.c; do
		obj="$tmp/$(basename "$src" .c).o"
		$c -m32 -O2 -Wall -Wextra -Wno-unused-parameter -Werror \
			-D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
			-I"$root/uapi" -I"$root/lib" -c -o "$obj" "$src"
		if nm -u "$obj" | grep -q '__atomic_'; then
			echo "uapi-compat-check: $c -m32 calls libatomic from $src:" >&2
			nm -u "$obj" | grep '__atomic_' >&2
			exit 1
		fi
	done
	echo "uapi-compat-check: libmqdev builds for i386 with $c"
done
