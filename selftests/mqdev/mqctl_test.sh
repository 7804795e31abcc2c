#!/bin/sh
# mqctl end to end: topics, produce/consume, and a consumer group of mqctl
# processes sharing a topic, one of them killed, the rest carrying on; and
# SIGTERM and SIGINT ending producers and consumers asleep in the kernel.
# Prints TAP through kselftest's ktap_helpers.sh, with the "# Totals:" line
# selftests/run.sh reads; skips without /dev/mq or mqctl.
. "$(dirname "$0")/../kselftest/ktap_helpers.sh"
. "$(dirname "$0")/lib.sh"

ktap_print_header
need_mqdev
need_cmd mqctl "tools/mqctl of the mqdev repository"

t=mqctl-test-$$
dir=$(mktemp -d)
trap 'rm -rf "$dir"; mqctl topic delete $t >/dev/null 2>&1
      mqctl topic delete $t-v >/dev/null 2>&1
      mqctl topic delete $t-ow >/dev/null 2>&1
      mqctl topic delete $t-full >/dev/null 2>&1
      mqctl topic delete $t-d >/dev/null 2>&1
      mqctl topic delete $t-s >/dev/null 2>&1' EXIT

# Run a command, send it signal $1 after $2 seconds, and SIGKILL 5 seconds
# later if it is still there; $rc is its exit status (busybox's timeout execs
# the command: its status is the command's own), $took the seconds it ran.
signalled() {
	sig=$1 after=$2
	shift 2
	start=$(date +%s)
	timeout -s $sig -k 5 $after "$@"
	rc=$?
	took=$(($(date +%s) - start))
}

# Until group g of $t lists $1 members, for at most about 10 s: a loaded
# machine may take a while to start one.
wait_members() {
	for i in $(seq 1 100); do
		mqctl --json group list |
			grep -q '"group":"g","topic":"'$t'","members":'$1, && return
		sleep 0.1
	done
}

mqctl topic create $t --partitions 4 --capacity 64K >/dev/null
ok $? "topic create"
seq 1 40 | mqctl produce $t
ok $? "produce 40"
[ "$(mqctl consume $t --from earliest --timeout 300 | sort -n | tr '\n' ' ')" = \
  "$(seq 1 40 | tr '\n' ' ')" ]
ok $? "a standalone consumer reads all 40"

# two members of one group share the partitions: 40 in all, none twice.
# The records are sent once both have joined: a debug kernel under TCG
# may take seconds to start each, and each waits 6 s for a record.
mqctl consume $t --group g --from latest --timeout 6000 >"$dir/a" &
a=$!
mqctl consume $t --group g --from latest --timeout 6000 >"$dir/b" &
b=$!
wait_members 2
for p in 0 1 2 3; do
	seq $((101 + p * 10)) $((110 + p * 10)) | mqctl produce $t --partition $p
done
wait $a $b
[ "$(sort -n "$dir/a" "$dir/b" | tr '\n' ' ')" = "$(seq 101 140 | tr '\n' ' ')" ]
ok $? "two members: every record once"
[ -s "$dir/a" ] && [ -s "$dir/b" ]
ok $? "both members got a share"
mqctl --json group describe g | grep -q '"lag":0,' &&
	! mqctl --json group describe g | grep -q '"lag":[1-9]'
ok $? "the group's lag is 0 after committing"

# one member killed mid-stream: the other takes over, nothing is lost
mqctl watch >"$dir/events" &
w=$!
sleep 0.3
mqctl consume $t --group g >"$dir/c" &
c=$!
mqctl consume $t --group g >"$dir/d" &
d=$!
sleep 0.5
mqctl group describe g >"$dir/describe"
grep -q 'member-' "$dir/describe"
ok $? "describe shows the owners"
kill -9 $c
wait $c 2>/dev/null
seq 41 80 | mqctl produce $t
sleep 1
kill -INT $d
wait $d
[ "$(sort -n "$dir/c" "$dir/d" | uniq | tr '\n' ' ')" = "$(seq 41 80 | tr '\n' ' ')" ]
ok $? "after a member was killed the other read all 40 new records"
kill -INT $w
wait $w
grep -q "^rebalance group g topic $t" "$dir/events"
ok $? "watch printed the rebalances"

# resets: refused while members run, explained; done when they are gone
mqctl consume $t --group g >/dev/null &
e=$!
wait_members 1
msg=$(mqctl group reset g --topic $t --to earliest 2>&1)
[ $? = 1 ] && echo "$msg" | grep -q "has members"
ok $? "reset with members is refused with the kernel's reason"
kill -INT $e
wait $e
mqctl group reset g --topic $t --to earliest >/dev/null
ok $? "reset to earliest"
[ "$(mqctl consume $t --group g --timeout 500 | wc -l)" = 120 ]
ok $? "the group reads everything again"
mqctl group reset g --topic $t --to 5 --partition 1 >/dev/null
ok $? "reset one partition to an offset"
mqctl group reset g --topic $t --to 1000000 --partition 1 2>&1 |
	grep -q "offset beyond the end"
ok $? "an offset past the end is refused with the kernel's reason"
mqctl group list | grep -q "^g .* $t "
ok $? "group list"
mqctl group delete g >/dev/null && ! mqctl group describe g 2>/dev/null
ok $? "group delete"
mqctl group delete g 2>&1 | grep -q "no such group"
ok $? "deleting it again says why"

# verify: an idempotent producer's records, checked for gaps and repeats
mqctl topic create $t-v --partitions 2 >/dev/null
seq 1 50 | mqctl produce $t-v --producer vp-$$ --partition 0 &&
	seq 51 100 | mqctl produce $t-v --producer vp-$$ --partition 0 &&
	seq 101 120 | mqctl produce $t-v --producer vp-$$ --partition 1
ok $? "produce as a named producer, three times"
out=$(mqctl verify $t-v)
[ $? = 0 ] && echo "$out" | grep -q "120 records in 2 (partition, producer) streams.* 0 gaps .* 0 repeats"
ok $? "verify finds the restarted producer's numbers run on"
mqctl consume $t-v --group vg --from earliest --count 30 >/dev/null
[ "$(mqctl --json verify $t-v --group vg)" = \
  '{"records":90,"streams":2,"gaps":0,"missing":0,"repeats":0,"aborted":0}' ]
ok $? "verify from where a group stands"
mqctl topic create $t-ow --capacity 4K --on-full overwrite >/dev/null
seq 1 2000 | mqctl produce $t-ow --producer vo-$$
out=$(mqctl verify $t-ow)
[ $? = 1 ] && echo "$out" | grep -q "^gap: partition 0 producer [0-9]*: [0-9]* missing, sequence [1-9]"
ok $? "verify reports what overwriting dropped, and fails"
mqctl verify nosuch-$$ 2>&1 | grep -q "nosuch-$$"
ok $? "verify names a missing topic"

# A stop signal ends a command asleep in the kernel at once.  Nobody holds
# this 'block' topic, so nothing in it is ever freed: a producer of 200 lines
# fills its 4 KiB (about 85 records) and waits for room that never comes.
seq 1 200 >"$dir/200"
mqctl topic create $t-full --capacity 4K >/dev/null
signalled TERM 5 mqctl produce $t-full <"$dir/200" 2>"$dir/err"
[ $rc = 143 ] && [ $took -le 8 ] &&
	grep -q '^mqctl: interrupted: [0-9]* lines* not sent$' "$dir/err"
ok $? "SIGTERM ends a producer waiting for room at once (exit $rc after ${took}s)"
unsent=$(sed -n 's/^mqctl: interrupted: \([0-9]*\) lines* not sent$/\1/p' "$dir/err")
sent=$(mqctl --json topic describe $t-full |
	sed -n 's/.*"next_offset":\([0-9]*\).*/\1/p')
[ -n "$unsent" ] && [ "${sent:-0}" -gt 0 ] && [ $((sent + unsent)) = 200 ]
ok $? "the lines it says were not sent are those the topic lacks ($sent in, $unsent not)"
signalled INT 5 mqctl produce $t-full <"$dir/200" 2>"$dir/err"
[ $rc = 130 ] && [ $took -le 8 ] &&
	grep -qx 'mqctl: interrupted: 200 lines not sent' "$dir/err"
ok $? "SIGINT ends a producer that found the topic full at once (exit $rc after ${took}s)"
signalled TERM 2 mqctl consume $t-full >"$dir/out"
[ $rc = 0 ] && [ $took -le 5 ] && [ ! -s "$dir/out" ]
ok $? "SIGTERM ends a consumer waiting for records at once (exit $rc after ${took}s)"
signalled INT 2 mqctl consume $t-full --group gs >"$dir/out"
[ $rc = 0 ] && [ $took -le 5 ] && [ ! -s "$dir/out" ]
ok $? "SIGINT ends a group member waiting for records at once (exit $rc after ${took}s)"
signalled TERM 2 mqctl verify $t-full --timeout 60000 >"$dir/out"
[ $rc = 0 ] && [ $took -le 5 ] && grep -q "^$t-full: [0-9]* records" "$dir/out"
ok $? "SIGTERM ends verify waiting for more records (exit $rc after ${took}s)"

# A durable topic: described so, refused with overwrite, and with no replica
# in sync an acks=all producer is told why, with nothing appended.
mqctl topic create $t-d --durable --on-full overwrite 2>"$dir/err"
[ $? != 0 ] && grep -q 'blocks when full' "$dir/err"
ok $? "a durable topic that would overwrite is refused"
mqctl topic create $t-d --durable --min-insync 1 >/dev/null &&
	mqctl topic describe $t-d | grep -q '^Durable: yes	MinInSync: 1	Replicas: 0$'
ok $? "a durable topic is described as such"
echo lost | mqctl produce $t-d --acks all 2>"$dir/err"
[ $? != 0 ] && grep -q 'too few replicas in sync' "$dir/err" &&
	mqctl --json topic describe $t-d | grep -q '"next_offset":0,'
ok $? "acks=all without a replica in sync is refused, nothing appended"
echo one | mqctl produce $t-d --acks 1 &&
	mqctl --json topic describe $t-d | grep -q '"high_watermark":1,"in_sync":0'
ok $? "acks=1 appends, and with none in sync the watermark is the end"
mqctl topic delete $t-d >/dev/null

# Delayed messages: sent with --delay and --at, listed, one cancelled;
# then two that come in the order of their due times, not of their
# sending.  The listed ones are due in minutes, so the list does not race
# the clock on a slow machine (a debug kernel under TCG takes seconds per
# command).  Early's due time is taken before late is sent; if early's own
# command ends after it (an --at past is due at once), the order would say
# nothing, and the check is skipped, saying so.
mqctl topic create $t-s >/dev/null
echo never | mqctl produce $t-s --delay 10m -v >"$dir/id" &&
	echo later | mqctl produce $t-s --delay 9m &&
	echo latest | mqctl produce $t-s --at @$(($(date +%s) + 900))
ok $? "produce --delay and --at"
id=$(sed -n 's/^scheduled id //p' "$dir/id")
[ "$(mqctl scheduled list $t-s | sed -n '$p')" = \
  "scheduled 3, expired 0, dropped 0" ] && [ -n "$id" ] &&
	mqctl scheduled list $t-s | grep -q "^$id "
ok $? "scheduled list shows the three"
mqctl scheduled cancel $t-s "$id" && ! mqctl scheduled cancel $t-s "$id" 2>/dev/null
ok $? "scheduled cancel, and again is refused"
at=$(($(date +%s) + 8))
echo late | mqctl produce $t-s --delay 8.5s &&
	echo early | mqctl produce $t-s --at @$at
rc=$?
if [ $rc = 0 ] && [ "$(date +%s)" -ge $at ]; then
	ktap_test_skip "they come in the order of their due times: early was sent after its due time"
else
	[ $rc = 0 ] &&
	[ "$(mqctl consume $t-s --from earliest --count 2 --timeout 15000 | tr '\n' ' ')" = \
	  "early late " ]
	ok $? "they come in the order of their due times"
fi
echo gone | mqctl produce $t-s --ttl 1ms && sleep 0.1 &&
	[ -z "$(mqctl consume $t-s --from earliest --count 3 --timeout 500 | grep gone)" ]
ok $? "a record past its --ttl is not delivered"
mqctl topic create $t-ttl --ttl 1.5s >/dev/null &&
	mqctl topic describe $t-ttl | grep -q '^TTL: 1.5s$'
ok $? "topic create --ttl, and describe shows it"
mqctl topic delete $t-ttl >/dev/null
mqctl produce $t-s --delay 5x </dev/null 2>"$dir/err"
[ $? != 0 ] && grep -q 'a duration' "$dir/err"
ok $? "a bad duration is refused"
mqctl topic delete $t-s >/dev/null

ktap_set_plan $((KTAP_TESTNO - 1))
ktap_finished
