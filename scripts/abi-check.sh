#!/bin/sh
# libmqdev's ABI against the baseline kept in the tree (lib/libmqdev.abi),
# with abidiff from Debian's abigail-tools.  Only the types of the public
# headers count.  An incompatible change fails until the baseline and the
# version are moved on purpose (`scripts/abi-check.sh --update`, and a new
# version node in lib/libmqdev.map): a symbol removed, or a function's or
# public type's change.  Symbols added are reported and pass.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
lib=$root/build/lib/libmqdev.so
base=$root/lib/libmqdev.abi
hdrs="--headers-dir $root/lib --headers-dir $root/uapi/linux"

if [ "${1:-}" = --update ]; then
	# shellcheck disable=SC2086
	abidw $hdrs --no-corpus-path --no-comp-dir-path --out-file "$base" "$lib"
	echo "abi-check: baseline written to lib/libmqdev.abi"
	exit 0
fi
set +e
# Changed or removed: a failure.  Added symbols alone: compatible.
# shellcheck disable=SC2086
abidiff --no-added-syms --headers-dir2 "$root/lib" \
	--headers-dir2 "$root/uapi/linux" "$base" "$lib" \
	>"$root/build/abidiff.txt" 2>&1
rc=$?
set -e
# abidiff's status is a bit field: 1 error, 2 usage, 4 change, 8 incompatible
if [ $((rc & 3)) != 0 ]; then
	cat "$root/build/abidiff.txt"
	echo "abi-check: abidiff failed (status $rc)" >&2
	exit 1
fi
if [ $((rc & 12)) != 0 ]; then
	cat "$root/build/abidiff.txt"
	echo "abi-check: libmqdev's ABI changed: move the version and the" \
	     "baseline on purpose (scripts/abi-check.sh --update)" >&2
	exit 1
fi
# shellcheck disable=SC2086
if ! abidiff --headers-dir2 "$root/lib" --headers-dir2 "$root/uapi/linux" \
	"$base" "$lib" >/dev/null 2>&1; then
	echo "abi-check: symbols were added: record them in the baseline"
fi
echo "abi-check: libmqdev's ABI is the baseline's, or adds to it"
