#!/bin/sh
# Check that tools/vm/run does what the tests rely on: it passes the
# command's exit status through, fails on a kernel report even when the
# command succeeded, and never outlives its time limit.
set -u
run=$(dirname "$0")/run
fails=0

expect() {
	want=$1 what=$2
	shift 2
	"$run" "$@" >/dev/null 2>&1
	got=$?
	if [ "$got" = "$want" ]; then
		echo "ok: $what"
	else
		echo "FAILED: $what (exit $got, wanted $want)"
		fails=$((fails + 1))
	fi
}

expect 0 "a passing command passes" -- true
expect 3 "the command's exit status comes back" -- sh -c 'exit 3'
expect 1 "a WARNING in the kernel log fails the run" \
	-- sh -c 'echo "WARNING: CPU: 0 PID: 1 at test" >/dev/kmsg'
expect 1 "a guest that never boots fails, retries and all" \
	--kernel /dev/null -- true
expect 1 "a hung guest is stopped at the time limit" --timeout 15 \
	-- sh -c 'sleep 600'
[ $fails = 0 ]
