#!/bin/bash
# make check's test of tools/vm/insn-trace: insn-profile (and
# pingpong-profile, which sums a whole window) on a made-up trace
# whose sums are known (whole rounds only, a round an interrupt entered left
# out, a block cut short by -icount counted by its own length, kernel and
# user addresses named; a block translated again, shorter, counted at its
# longest; runs before their block's translation), then a real trace in a
# -icount guest, which must
# find whole rounds of the produce path through the module and of the
# consumer's take, at costs in the range the cost scenario measures.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
t="$root/build/insn-trace-test"
rm -rf "$t"
mkdir -p "$t/fake"
fail() { echo "insn-trace-test: $*" >&2; exit 1; }

f="$t/fake"
printf 'produce 0x1000\nconsume 0x2000\nidle 0x3000\nbatch 2\n' >"$f/ready"
echo '00001000-00004000 r-xp 00000000 00:00 0 [test]' >"$f/maps"
cat >"$f/kallsyms" <<'KSYMS'
ffffffff81000000 T entry_SYSCALL_64
ffffffff81001000 T asm_sysvec_apic_timer_interrupt
ffffffffc0000000 t ioc_PRODUCE_BATCH	[mqdev]
KSYMS
block() {	# PC INSNS: the in_asm listing of a block of INSNS instructions
	echo "IN: "
	for i in $(seq 0 $(($2 - 1))); do
		printf '0x%016x:  nop\n' $((0x$1 + i))
	done
	echo
}
run() {		# PC [CFLAGS]: one run of the block at PC
	printf 'Trace 0: 0x7f0000000000 [0000000000000000/%016x/00000000/%08x] \n' \
		$((0x$1)) $((0x${2:-0}))
}
{
	block 1000 1; block 2000 1; block 3000 1
	block ffffffff81000000 3; block ffffffffc0000000 5
	block ffffffff81001000 2
	run 1000; run ffffffff81000000; run ffffffffc0000000
	run ffffffffc0000000; run 2000; run 3000
	# round 2: the module's second block cut to 2 by -icount's budget
	run 1000; run ffffffff81000000; run ffffffffc0000000
	run ffffffffc0000000 2; run 2000; run 3000
	# round 3: an interrupt in the produce, which is left out
	run 1000; run ffffffff81001000; run 2000; run 3000
	run 1000
} >"$f/qemu.log"
"$here/insn-profile" "$f" >"$t/fake.out"
expect() {	# the profile has this line
	grep -qxF "$1" "$t/fake.out" ||
		{ cat "$t/fake.out" >&2; fail "no line '$1'"; }
}
expect 'produce: 2 rounds of 2 messages (1 more left out: an interrupt came)'
expect '| mqdev:ioc_PRODUCE_BATCH | 8.5 | 4.25 |'
expect '| entry_SYSCALL_64 | 3.0 | 1.50 |'
expect '| user:[test] | 1.0 | 0.50 |'
expect '| **total** | 12.5 | 6.25 |'
expect 'consume: 3 rounds of 2 messages (0 more left out: an interrupt came)'
expect '| **total** | 1.0 | 0.50 |'

# pingpong-profile on the same blocks, on two vCPUs: every run counts,
# interrupts too, and two calls of mqbench's check() make a round trip
# (an mqbench of one function, mapped where its file offset plus 0x400000
# puts it; gcc's text segment has the same offset and address).
mkdir -p "$t/pp" "$t/bin"
echo 'int check(void) { return 0; } int main(void) { return check(); }' |
	cc -O0 -x c -o "$t/bin/mqbench" -
chk=$(nm "$t/bin/mqbench" | awk '$3 == "check" { print $1 }')
chk=$(printf '%x' $((0x400000 + 0x$chk)))
printf '00400000-00410000 r-xp 00000000 00:00 0 %s\n' "$t/bin/mqbench" |
	cat "$f/maps" - >"$t/pp/maps"
cp "$f/kallsyms" "$t/pp/"
{
	block 1000 1; block ffffffff81000000 3; block ffffffffc0000000 5
	block ffffffff81001000 2; block "$chk" 2
	for cpu in 0 1; do
		for i in 1 2 3 4; do
			run ffffffff81000000 | sed "s/^Trace 0/Trace $cpu/"
		done
		run ffffffffc0000000 2 | sed "s/^Trace 0/Trace $cpu/"
		run "$chk" | sed "s/^Trace 0/Trace $cpu/"
		run "$chk" | sed "s/^Trace 0/Trace $cpu/"
	done
	run ffffffff81001000; run 1000
} >"$t/pp/qemu.log"
"$here/pingpong-profile" "$t/pp" >"$t/fake.out"
expect '8 system calls, 4 messages checked, 2 round trips; 20 instructions a round trip (0 runs of blocks translated before the log left out)'
expect '| entry_SYSCALL_64 | 12.0 |'
expect '| mqdev:ioc_PRODUCE_BATCH | 2.0 |'
expect '| user:mqbench:check | 4.0 |'
expect '| asm_sysvec_apic_timer_interrupt | 1.0 |'
expect '| user:[test] | 0.5 |'
expect '| **total** | 19.5 |'

# The log's parsing where it is subtle, in both: a block translated again
# shorter (as -icount cuts it) keeps its longest length; a block run before
# its translation shows up (a TB flush after the log began) is unknown to
# insn-profile, which counts as it reads, but pingpong-profile counts after
# the whole log; a block never translated is unknown to both.
a="$t/again"
mkdir -p "$a"
cp "$t/pp/maps" "$f/kallsyms" "$a/"
printf 'produce 0x1000\nconsume 0x2000\nbatch 1\n' >"$a/ready"
{
	run 1000
	block 1000 1; block 2000 1; block ffffffffc0000000 5
	run ffffffffc0000000; run ffffffffc0000000 2
	run 2000; run ffffffff81000000; run 3000
	block ffffffffc0000000 2; block ffffffff81000000 3
	run ffffffff81000000; run ffffffff81000000; run ffffffff81000000
	run 1000; run ffffffffc0000000
	run 2000
	block "$chk" 2; run "$chk"; run "$chk"
} >"$a/qemu.log"
"$here/insn-profile" "$a" >"$t/fake.out"
expect 'produce: 2 rounds of 1 messages (0 more left out: an interrupt came)'
expect '| mqdev:ioc_PRODUCE_BATCH | 6.0 | 6.00 |'
expect '| (untranslated in the log) | 0.5 | 0.50 |'
expect '| **total** | 7.0 | 7.00 |'
expect 'consume: 1 rounds of 1 messages (0 more left out: an interrupt came)'
expect '| entry_SYSCALL_64 | 9.0 | 9.00 |'
expect '| (untranslated in the log) | 2.0 | 2.00 |'
expect '| **total** | 12.0 | 12.00 |'
"$here/pingpong-profile" "$a" >"$t/fake.out"
expect '4 system calls, 2 messages checked, 1 round trips; 32 instructions a round trip (1 runs of blocks translated before the log left out)'
expect '| mqdev:ioc_PRODUCE_BATCH | 12.0 |'
expect '| entry_SYSCALL_64 | 12.0 |'
expect '| user:[test] | 4.0 |'
expect '| user:mqbench:check | 4.0 |'
expect '| **total** | 32.0 |'

# --parts: the two traces side by side, each function in its part: the
# module's ioctl handler with mqdev's command table, the process's blocks
# with user space, the rest with the kernel's own.
"$here/pingpong-profile" --parts "$t/pp" "$a" >"$t/fake.out"
expect '| instructions a round trip | pp | again |'
expect '| user space: the benchmark, the library, libc | 4 | 8 |'
expect "| mqdev's command table: dispatch, the request's copy and checks | 2 | 12 |"
expect "| the security modules' file hooks | 0 | 0 |"
expect "| waiting and waking: the peer's own code | 0 | 0 |"
expect "| the kernel's own, every peer's: scheduler, idle, entry, interrupts | 13 | 12 |"
expect '| **total** | 20 | 32 |'

# --critical: on each vCPU, from sched_ttwu_pending() to try_to_wake_up()
# (an answer) and on to the IPI (a hand-off), the two vCPUs' runs
# interleaved; the parts are an answer's mean, the segments' medians.
c="$t/crit"
mkdir -p "$c"
cp "$t/pp/maps" "$c/"
cat "$f/kallsyms" - >"$c/kallsyms" <<'KSYMS'
ffffffff81002000 T sched_ttwu_pending
ffffffff81003000 T try_to_wake_up
ffffffff81004000 T native_send_call_func_single_ipi
KSYMS
on() {		# CPU PC [CFLAGS]: a run on that vCPU
	run "$2" "${3:-0}" | sed "s/^Trace 0/Trace $1/"
}
{
	block ffffffff81002000 4; block ffffffff81003000 6
	block ffffffff81004000 2; block ffffffff81000000 3
	block ffffffffc0000000 5; block 1000 1
	# answer 1, vCPU 1: 4 + 1 + 3 + 5 = 13, hand-off 6; vCPU 0 meanwhile
	on 1 ffffffff81002000; on 1 1000; on 0 ffffffff81000000
	on 1 ffffffff81000000; on 0 ffffffff81003000; on 1 ffffffffc0000000
	on 1 ffffffff81003000; on 0 ffffffff81004000; on 1 ffffffff81004000
	# answer 2, vCPU 0: 4 + 2 (cut) = 6, hand-off 6 + 1 = 7
	on 0 ffffffff81002000; on 0 ffffffffc0000000 2
	on 0 ffffffff81003000; on 0 1000; on 0 ffffffff81004000
	# answer 3, vCPU 1: 4 + 3 + 3 + 1 = 11, hand-off 6
	on 1 ffffffff81002000; on 1 ffffffff81000000; on 1 ffffffff81000000
	on 1 1000; on 1 ffffffff81003000; on 1 ffffffff81004000
	# an answer not finished when the log ends: not counted
	on 0 ffffffff81002000; on 0 ffffffffc0000000
} >"$c/qemu.log"
"$here/pingpong-profile" --critical "$c" >"$t/fake.out"
expect 'crit: 3 answers, 3 hand-offs'
expect '| an answer, median | 11 |'
expect '| a hand-off, median | 6 |'
expect '| **the critical path of a round trip: two of each** | 34 |'
expect "| an answer's mqdev's command table: dispatch, the request's copy and checks, mean | 2 |"
expect "| an answer's user space: the benchmark, the library, libc, mean | 1 |"
expect "| an answer's the kernel's own, every peer's: scheduler, idle, entry, interrupts, mean | 7 |"
"$here/pingpong-profile" --critical "$t/pp" >"$t/fake.out" 2>&1 &&
	fail "--critical found answers in a trace with no wake-up"
expect "pingpong-profile: $t/pp: no wake-up answered on an idle vCPU (pingpong-trace --pin)"

# A rebuild after the trace does not rename it: the first profile kept the
# project's binaries beside the trace; a trace whose binary was rebuilt
# before it was first profiled is named from the new one, with a warning.
[ -f "$t/pp/mapped/${t#"$root"/}/bin/mqbench" ] ||
	fail "the traced mqbench was not kept beside the trace"
printf 'int pad(int x) { return x * 3 + 1; }\n%s\n' \
	'int check(void) { return pad(0); } int main(void) { return check(); }' |
	cc -O0 -x c -o "$t/bin/mqbench" -
[ "$(nm "$t/bin/mqbench" | awk '$3 == "check" { print $1 }')" != \
  "$(printf '%016x' $((0x$chk - 0x400000)))" ] ||
	fail "the rebuilt mqbench has check() where it was"
"$here/pingpong-profile" "$t/pp" >"$t/fake.out"
expect '8 system calls, 4 messages checked, 2 round trips; 20 instructions a round trip (0 runs of blocks translated before the log left out)'
expect '| user:mqbench:check | 4.0 |'
l="$t/late"
mkdir -p "$l"
cp "$t/pp/qemu.log" "$t/pp/kallsyms" "$t/pp/maps" "$l/"
touch -d '1 hour ago' "$l/maps"
"$here/pingpong-profile" "$l" >"$t/fake.out" 2>"$t/late.err" &&
	fail "a rebuilt mqbench's check() was found in an old trace"
grep -qF "insn-profile: $t/bin/mqbench changed after the trace: its names may be wrong" "$t/late.err" ||
	{ cat "$t/late.err" >&2; fail "no warning for a binary rebuilt after the trace"; }

# The real thing, briefly.
"$here/insn-trace" --seconds 1 --out "$t/real" >"$t/real.out" 2>&1 ||
	{ cat "$t/real.out" >&2; fail "insn-trace failed"; }
python3 - "$t/real.out" <<'PY' || { cat "$t/real.out" >&2; fail "bad trace"; }
import re, sys
text = open(sys.argv[1]).read()
segs = dict(re.findall(r"\n(produce|consume): (\d+) rounds", text))
assert int(segs.get("produce", 0)) >= 3 and int(segs.get("consume", 0)) >= 3
prod, cons = text.split("\nconsume:")
for name in ("entry_SYSCALL_64", "mqdev:ioc_PRODUCE_BATCH",
             "mqdev:mqdev_append_batch", "rep_movs_alternative"):
    assert "| %s |" % name in prod, name
assert "consumer_take |" in cons
totals = [float(t) for t in re.findall(r"\*\*total\*\* \| [\d.]+ \| ([\d.]+)", text)]
# the cost scenario's 300 and 95, give or take the rare odd round
assert 200 < totals[0] < 450 and 60 < totals[1] < 150, totals
PY
echo "insn-trace-test: the profile's sums and a real trace are right"
