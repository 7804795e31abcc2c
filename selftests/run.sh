#!/bin/sh
# Run every mqdev selftest (inside the VM: tools/vm/run -- selftests/run.sh)
# and end with one line "N passed, M failed".  Exits non-zero on any failure.
# Arguments, if any, name the tests to run (e.g. topic_test).
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/build/selftests"
pass=0 fail=0 skip=0

if [ $# -gt 0 ]; then
	tests=$(for t in "$@"; do echo "$bin/$t"; done)
else
	tests=$(ls "$bin"/*_test)
fi

for t in $tests; do
	name=$(basename "$t")
	echo "== $name"
	out=$(mktemp)
	"$t" >"$out" 2>&1
	rc=$?
	cat "$out"
	totals=$(grep '^# Totals:' "$out" | tail -n 1)
	field() { echo "$totals" | tr ' ' '\n' | sed -n "s/^$1:\([0-9]*\)$/\1/p"; }
	p=$(field pass) f=$(field fail) s=$(field skip) e=$(field error)
	if [ -z "$p" ]; then
		echo "$name: no totals (exit $rc): counted as one failure"
		p=0 f=1 s=0 e=0
	elif [ $rc != 0 ] && [ "$f" = 0 ] && [ "${e:-0}" = 0 ]; then
		echo "$name: exited $rc with no failed test: counted as one failure"
		f=1
	fi
	pass=$((pass + p))
	fail=$((fail + f + ${e:-0}))
	skip=$((skip + s))
	rm -f "$out"
done

echo "selftests: $pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
