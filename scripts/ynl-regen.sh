#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Generate mqdev's netlink code from its one specification, with the
# kernel's own generator, as the kernel does for its in-tree families:
#
#   Documentation/netlink/specs/mqdev.yaml
#     -> kmod/netlink-gen.c   policies, split ops   (--mode kernel --source)
#     -> kmod/netlink-gen.h   their declarations    (--mode kernel --header)
#     -> uapi/linux/mqdev.h   the netlink enums, between its two marker
#                             comments only         (--mode uapi --header)
#
# Without arguments it rewrites those (make regen); with --check it
# generates them into a temporary directory and fails if the tree's files
# differ (make check).
#
# uapi/linux/mqdev.h stays the one header the kernel and userspace share:
# only the lines between its markers are replaced, the rest of the file is
# left as it is.
#
# tools/net/ynl (ynl-gen-c.py, cli.py) and the specs' schemas come from
# Debian's linux-source-6.12 tarball, extracted into build/ynl laid out as a
# kernel tree: the generator finds the tree's root by its MAINTAINERS file
# and a spec's schema beside specs/, so build/ynl has an empty MAINTAINERS
# and Documentation/netlink/specs/mqdev.yaml links to the spec.  They need
# python3 with yaml and jsonschema (make deps: python3-yaml,
# python3-jsonschema); PYTHON overrides the interpreter.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
ynl=$root/build/ynl
tarball=/usr/src/linux-source-6.12.tar.xz
spec=Documentation/netlink/specs/mqdev.yaml
uapi=uapi/linux/mqdev.h
begin='/* YNL-GEN-BEGIN: generated from the spec by make regen; do not edit */'
end='/* YNL-GEN-END */'
python=${PYTHON:-python3}

check=0
case "${1:-}" in
--check) check=1 ;;
"") ;;
*) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

# tools/net/ynl and the schemas, once per tarball.
if [ ! -f "$ynl/.stamp" ] || [ "$tarball" -nt "$ynl/.stamp" ]; then
	rm -rf "$ynl"
	mkdir -p "$ynl"
	tar -xJf "$tarball" -C "$ynl" --strip-components=1 \
		linux-source-6.12/tools/net/ynl \
		linux-source-6.12/Documentation/netlink/genetlink.yaml \
		linux-source-6.12/Documentation/netlink/genetlink-c.yaml \
		linux-source-6.12/Documentation/netlink/genetlink-legacy.yaml
	: >"$ynl/MAINTAINERS"
	touch "$ynl/.stamp"
fi
mkdir -p "$ynl/Documentation/netlink/specs"
ln -sfn "../../../../../$spec" "$ynl/$spec"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gen() {
	"$python" "$ynl/tools/net/ynl/ynl-gen-c.py" --spec "$ynl/$spec" "$@"
}
mkdir -p "$out/kmod"
gen --mode kernel --source -o "$out/kmod/netlink-gen.c"
gen --mode kernel --header -o "$out/kmod/netlink-gen.h"
gen --mode uapi --header -o "$out/uapi.h"

# The generated uapi header without its own preamble, include guard and
# blank lines at either end: the block that goes between the markers.  The
# one change to what the generator writes: a blank line between an enum and
# the #define of its max, which checkpatch --strict wants of the header.
sed -n '/^#define _UAPI_LINUX_MQDEV_H$/,/^#endif \/\* _UAPI_LINUX_MQDEV_H \*\/$/p' \
	"$out/uapi.h" | sed '1d;$d' |
	sed -e '/./,$!d' | sed -e ':a' -e '/^\n*$/{$d;N;ba' -e '}' |
	awk 'prev == "};" && /^#define / { print "" } { print; prev = $0 }' \
	>"$out/block"
[ -s "$out/block" ] || { echo "ynl-regen: no uapi enums generated" >&2; exit 1; }

# The tree's block, between exactly one pair of markers.
marked() {
	[ "$(grep -cxF "$begin" "$root/$uapi")" = 1 ] &&
	[ "$(grep -cxF "$end" "$root/$uapi")" = 1 ] || {
		echo "ynl-regen: $uapi needs one line of each marker:" >&2
		echo "	$begin" >&2
		echo "	$end" >&2
		exit 1
	}
}
marked

# $uapi with the block between the markers replaced by $1.
splice() {
	awk -v begin="$begin" -v end="$end" -v block="$1" '
		$0 == end { skip = 0 }
		!skip { print }
		$0 == begin {
			while ((getline line < block) > 0)
				print line
			skip = 1
		}' "$root/$uapi"
}

if [ $check = 1 ]; then
	stale=
	for f in kmod/netlink-gen.c kmod/netlink-gen.h; do
		cmp -s "$out/$f" "$root/$f" || stale="$stale $f"
	done
	splice "$out/block" >"$out/mqdev.h"
	cmp -s "$out/mqdev.h" "$root/$uapi" || stale="$stale $uapi"
	if [ -n "$stale" ]; then
		echo "generated files are stale: run make regen (${stale# })" >&2
		exit 1
	fi
	echo "ynl-regen: kmod/netlink-gen.[ch] and the enums of $uapi" \
	     "match $spec"
	exit 0
fi

for f in kmod/netlink-gen.c kmod/netlink-gen.h; do
	cmp -s "$out/$f" "$root/$f" || cp "$out/$f" "$root/$f"
done
# Only the block changes; the file is rewritten in place (same inode and
# mode), and only when the block differs, in one step, right after reading.
splice "$out/block" >"$out/mqdev.h"
cmp -s "$out/mqdev.h" "$root/$uapi" || cat "$out/mqdev.h" >"$root/$uapi"
echo "ynl-regen: kmod/netlink-gen.c, kmod/netlink-gen.h and the enums of" \
     "$uapi are generated from $spec"
