#!/bin/sh
# Check that tools/vm/run does what the tests rely on: it passes the
# command's exit status through, fails on a kernel report even when the
# command succeeded, and never outlives its time limit; and what the
# power-cut test relies on: a disk that outlives a SIGKILLed qemu, and a
# 9p share that writes through.
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

# The disk: what was synced before the power cut is there after it, and
# what the guest wrote to the 9p share is on the host at once.
dir=$(mktemp -d "$root/build/vm-selftest.XXXXXX")
"$(dirname "$0")/mkdisk" "$dir/disk.img" 16
expect 2 "a missing disk image is refused" --no-module \
	--disk "$dir/none.img" -- true
expect 0 "a command that ends before --kill-after is not killed" \
	--no-module --kill-after 60 -- true
expect 137 "--kill-after kills qemu, and says so with 137" \
	--no-module --disk "$dir/disk.img" --kill-after 2 -- sh -c "
	echo synced >/var/lib/mqdev/file && sync &&
	echo through >'$dir/9p' && sleep 600"
if [ "$(cat "$dir/9p" 2>/dev/null)" = through ]; then
	echo "ok: the 9p share writes through"
else
	echo "FAILED: a line written to the 9p share before the kill is lost"
	fails=$((fails + 1))
fi
# shellcheck disable=SC2016 # the guest expands it
expect 0 "the disk keeps what was synced across the power cut" \
	--no-module --disk "$dir/disk.img" -- \
	sh -c '[ "$(cat /var/lib/mqdev/file)" = synced ]'
rm -rf "$dir"
[ $fails = 0 ]
