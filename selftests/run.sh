#!/bin/sh
# Run every mqdev selftest (inside the VM: tools/vm/run -- selftests/run.sh)
# and end with one line "selftests: N passed, M failed, S skipped"; after
# each test a line "== NAME: N s", its time in seconds, then a line
# "== NAME: slow: TEST, N.N s" for each of its harness tests that took
# SLOW_S or more, slowest first.  Exits
# non-zero on any failure.  Arguments, if any, name the tests to run (e.g.
# topic_test, mqctl_test.sh).
#
# The tests are those of selftests/mqdev, built into build/selftests by the
# top-level Makefile (through selftests/mqdev/Makefile, a kselftest one):
# each prints TAP and the "# Totals:" line counted here, or exits with
# kselftest's KSFT_SKIP (4) after "1..0 # SKIP reason", counted as one skip.
#
# --kernel-only leaves out the tests named in selftests/mqdev/userspace.list:
# those of userspace daemons (the Kafka gateway, the mirror), whose subject
# does not change with the kernel they run on.  make check runs them once;
# the runs on other kernels (check-6.1, check-debug) pass --kernel-only.
# --no-frontends leaves out those named in selftests/mqdev/frontends.list:
# the shell tests of command-line front ends, whose kernel paths C tests
# drive too.  The debug kernel's run (check-debug) passes it.  Options come
# before test names; a list that names no test of selftests/mqdev (a front
# end's: a .sh) is an error.
root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/selftests/mqdev"
bin="$root/build/selftests"
pass=0 fail=0 skip=0
KSFT_SKIP=4
left_out=

# The test names of selftests/mqdev/$1.list, each followed by the option
# $2 that named it; each must be a test there, ending in one of $3.
list_of() {
	names=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' \
		"$src/$1.list") || exit 2
	for n in $names; do
		found=
		for ext in $3; do
			[ -f "$src/$n$ext" ] && found=1
		done
		if [ -z "$found" ]; then
			echo "$1.list: $n is not a test of $src ($3)" >&2
			exit 2
		fi
		echo "$n $2"
	done
}

while [ $# -gt 0 ]; do
	case $1 in
	--kernel-only) names=$(list_of userspace "$1" ".c .sh") ;;
	--no-frontends) names=$(list_of frontends "$1" .sh) ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac || exit 2
	left_out="$left_out
$names"
	shift
done
for t in "$@"; do
	case $t in
	-*) echo "run.sh: $t after a test name: options come first" >&2
	    exit 2 ;;
	esac
done

if [ $# -gt 0 ]; then
	tests=$(for t in "$@"; do
		if [ -f "$src/$t.sh" ]; then t=$t.sh; fi
		echo "$bin/$t"
	done)
else
	# the programs of *_test.c and the *_test.sh scripts, by name
	tests=$(cd "$src" && printf '%s\n' *_test.c *_test.sh | sort |
		sed -n -e '/^\*/d' -e "s|^\(.*\)\.c$|$bin/\1|p" \
		       -e "s|^.*\.sh$|$bin/&|p")
fi

# A 32-bit ELF program (compat_test), which a kernel without IA32
# emulation cannot execute at all: its -l (list the tests) fails there.
elf32() {
	[ "$(od -An -tx1 -j4 -N1 "$1" 2>/dev/null | tr -d ' ')" = 01 ]
}

# Copies a test's output through, and appends to file $1, for each
# harness test, its time in hundredths of a second and its name, from its
# RUN line to its OK or FAIL line (the harness flushes the RUN line before
# it forks the test, the OK or FAIL line as the next test starts or the
# program exits).  /proc/uptime is read by the shell itself: a date(1) a
# test would cost a debug kernel seconds.  The shell reads a byte at a
# time; a file's output is tens of KB.  It stops at $2, which run.sh writes
# once the test program has exited, rather than at the end of the pipe: a
# process the test left behind holding its output must not keep run.sh
# waiting.  The shell tests print no RUN lines, so they are not timed.
stamp() {
	t0=
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		*"$2")
			[ -z "${line%"$2"}" ] || printf '%s\n' "${line%"$2"}"
			return 0
			;;
		esac
		printf '%s\n' "$line"
		case $line in
		"#  RUN "*)
			uptime_cs
			t0=$cs
			;;
		"#            OK  "*|"#          FAIL  "*)
			uptime_cs
			[ -z "$t0" ] || echo "$((cs - t0)) ${line##* }" >>"$1"
			t0=
			;;
		esac
	done
}

# $cs: hundredths of a second since boot, from /proc/uptime's "SECONDS.HH"
# (in the shell, not a subshell); the 1 in front keeps a fraction such as
# 08 from being read as octal.
uptime_cs() {
	read -r up _ </proc/uptime
	cs=$((${up%.*} * 100 + 1${up#*.} - 100))
}

# A harness test that takes a third of the harness's default time-out
# (30 s) or more: on a slow boot of the debug kernel such a test is the next
# to be killed, and the log should say so before it is.  Tests with a
# time-out of their own are named too: run.sh cannot see it.
SLOW_S=10

for t in $tests; do
	name=$(basename "$t")
	why=$(echo "$left_out" | sed -n "s/^${name%.sh} //p" | head -n 1)
	if [ -n "$why" ]; then
		echo "== $name: left out ($why)"
		continue
	fi
	echo "== $name"
	if elf32 "$t" && ! { "$t" -l >/dev/null 2>&1 || [ $? = $KSFT_SKIP ]; }; then
		echo "$name: a 32-bit program this kernel cannot run (no IA32 emulation): skipped"
		skip=$((skip + 1))
		continue
	fi
	out=$(mktemp)
	times=$(mktemp)
	began=$(date +%s)
	end="run.sh: the end of $name, $$"
	# tee: what a test printed is in the log even if the VM's time runs out
	{ "$t" 2>&1; echo $? >"$times.rc"; echo "$end"; } |
		stamp "$times" "$end" | tee "$out"
	rc=$(cat "$times.rc" 2>/dev/null)
	echo "== $name: $(($(date +%s) - began)) s"
	sort -n -r "$times" | while read -r cs test; do
		[ "$cs" -ge $((SLOW_S * 100)) ] || break
		echo "== $name: slow: $test, $((cs / 100)).$((cs % 100 / 10)) s"
	done
	rm -f "$times" "$times.rc"
	totals=$(grep '^# Totals:' "$out" | tail -n 1)
	field() { echo "$totals" | tr ' ' '\n' | sed -n "s/^$1:\([0-9]*\)$/\1/p"; }
	p=$(field pass) f=$(field fail) s=$(field skip) e=$(field error)
	if [ -z "$p" ] && [ "$rc" = $KSFT_SKIP ] && grep -q '^1\.\.0 # SKIP' "$out"; then
		p=0 f=0 s=1 e=0
	elif [ -z "$p" ]; then
		echo "$name: no totals (exit $rc): counted as one failure"
		p=0 f=1 s=0 e=0
	elif [ "$rc" != 0 ] && [ "$rc" != $KSFT_SKIP ] && [ "$f" = 0 ] &&
	     [ "${e:-0}" = 0 ]; then
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
