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
# A module built for another kernel than the guest's is refused up front,
# with both named: the other kernel is 6.1 for a 6.12 module, and 6.12 for
# any other.
root=$(cd "$(dirname "$0")/../.." && pwd)
ko=${MQDEV_VM_MODULE:-$root/kmod/mqdev.ko}
other=6.1
case "$(modinfo -F vermagic "$ko" 2>/dev/null)" in 6.12.*) ;; *) other=6.12 ;; esac
if "$run" --kver $other --module "$ko" -- true 2>&1 |
   grep -q "is built for .*, the guest boots $other"; then
	echo "ok: a module for another kernel is refused"
else
	echo "FAILED: a module for another kernel is refused"
	fails=$((fails + 1))
fi
[ $fails = 0 ]
