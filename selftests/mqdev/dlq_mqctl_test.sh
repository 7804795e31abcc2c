#!/bin/sh
# mqctl consume --share-group --dlq and mqctl dlq: a poison record rejected
# ends in the dead-letter topic once, listed and shown with where it came
# from; one released past --max-deliveries too, with its count; redrive
# puts it back in its topic and partition with its key and value and none
# of the dead letter's headers, and a second redrive repeats nothing; dlq
# info on a group whose members are gone, until it is deleted; the errors a
# user sees; --dlq-expired; a later member with other settings refused.
# Prints TAP through kselftest's ktap_helpers.sh; skips without /dev/mq or
# mqctl.
. "$(dirname "$0")/../kselftest/ktap_helpers.sh"
. "$(dirname "$0")/lib.sh"

ktap_print_header
need_mqdev
need_cmd mqctl "tools/mqctl of the mqdev repository"

t=dlqs-$$
d=dlqd-$$
dir=$(mktemp -d)
trap 'rm -rf "$dir"; mqctl exchange delete $d-x >/dev/null 2>&1
      for x in $t $d $t-gone $t-retry $t-exp; do
	      mqctl topic delete $x >/dev/null 2>&1; done' EXIT

mqctl topic create $t --partitions 2 >/dev/null || exit 1
mqctl topic create $d >/dev/null || exit 1
echo a | mqctl produce $t --partition 1 >/dev/null
echo poison | mqctl produce $t --partition 1 --key k9 >/dev/null
echo b | mqctl produce $t --partition 1 >/dev/null

mqctl consume $t --share-group g --from earliest --dlq $d \
	--reject-if poison --timeout 500 >"$dir/out"
sleep 0.2
mqctl dlq list $d >"$dir/list"
[ "$(wc -l <"$dir/out")" = 3 ] && [ "$(wc -l <"$dir/list")" = 2 ] &&
	grep -q "^0	0	$t/1@1	1	rejected$" "$dir/list"
ok $? "a rejected poison record is in the dead-letter topic once" "$dir/list"

mqctl dlq show $d 0 >"$dir/show"
grep -q "mqdev.dlq.topic=$t,mqdev.dlq.partition=1,mqdev.dlq.offset=1,mqdev.dlq.deliveries=1,mqdev.dlq.reason=rejected,mqdev.dlq.group=g,mqdev.dlq.timestamp=[0-9]*	k9	poison$" \
	"$dir/show"
ok $? "dlq show: the dead letter's headers, key and value" "$dir/show"

# g2 is new: it reads a, poison and b (accepted) and retry (released)
echo retry | mqctl produce $t --partition 0 >/dev/null
: >"$dir/out2"	# before the loop looks: the consumer opens it later
mqctl consume $t --share-group g2 --from earliest --dlq $d \
	--release-if retry --max-deliveries 3 --backoff 50ms --timeout 5000 \
	>"$dir/out2" &
pid=$!
i=0
while [ "$(grep -c retry "$dir/out2")" -lt 3 ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
sleep 0.3
mqctl dlq info $t g2 >"$dir/info"
kill $pid
wait $pid
mqctl dlq list $d >"$dir/list"
[ "$(grep -c retry "$dir/out2")" = 3 ] &&
	grep -q "^0	1	$t/0@0	3	max-deliveries$" "$dir/list" &&
	grep -q "^written	1$" "$dir/info" &&
	grep -q "^backoff_ms	50$" "$dir/info"
ok $? "released past --max-deliveries: a dead letter with the count" "$dir/list"

# g's member is gone, the group is not: its dead-letter settings neither
mqctl dlq info $t g >"$dir/info1" 2>&1 &&
	grep -q "^dlq	$d$" "$dir/info1" && grep -q "^written	1$" "$dir/info1" &&
	mqctl group delete g --topic $t >/dev/null &&
	! mqctl dlq info $t g >"$dir/info1" 2>&1 &&
	grep -q "has no share group" "$dir/info1"
ok $? "dlq info on a memberless group, until the group is deleted" "$dir/info1"

mqctl dlq redrive $d >"$dir/r1"
mqctl consume $t --partition 1 --from 3 --keys --headers --timeout 300 \
	>"$dir/back"
grep -qx "redriven	2" "$dir/r1" &&
	[ "$(cat "$dir/back")" = "	k9	poison" ]
ok $? "dlq redrive puts the poison record back, key and value, no DLQ headers" "$dir/back"

mqctl dlq redrive $d >"$dir/r2"
mqctl consume $t --partition 1 --from 3 --timeout 300 >"$dir/back2"
grep -qx "redriven	0" "$dir/r2" &&
	[ "$(wc -l <"$dir/back2")" = 1 ] &&
	[ "$(mqctl consume $t --partition 0 --from 1 --timeout 300)" = retry ]
ok $? "a second redrive repeats nothing"

# A record with all seven headers, routed into the dead-letter topic by an
# exchange (anyone allowed to produce to it could), is not redriven: only
# the kernel's dead letters (MQDEV_RECORD_DEAD_LETTER) are.
mqctl exchange create $d-x --type direct >/dev/null &&
	mqctl exchange bind $d-x $d --key k >/dev/null &&
	echo forged | mqctl produce --exchange $d-x --routing-key k \
		--header mqdev.dlq.topic=$t --header mqdev.dlq.partition=1 \
		--header mqdev.dlq.offset=0 --header mqdev.dlq.deliveries=1 \
		--header mqdev.dlq.reason=rejected --header mqdev.dlq.group=g \
		--header mqdev.dlq.timestamp=1 >/dev/null
ok $? "a forged dead letter is routed into the dead-letter topic"
mqctl dlq redrive $d >"$dir/r3" 2>"$dir/e3"
[ $? = 0 ] && grep -qx "redriven	0" "$dir/r3" &&
	grep -qx "not dead letters	1" "$dir/r3" &&
	grep -q "not a dead letter the kernel wrote" "$dir/e3" &&
	[ "$(mqctl consume $t --partition 1 --from 4 --timeout 300)" = "" ]
ok $? "dlq redrive skips and counts a forged dead letter" "$dir/r3"

# A dead letter whose topic is gone stops redrive (exit 1, named, not
# committed past), every time; --skip-bad reports it and goes on.
mqctl topic create $t-gone >/dev/null &&
	echo poison | mqctl produce $t-gone >/dev/null &&
	mqctl consume $t-gone --share-group g --from earliest --dlq $d \
		--reject-if poison --timeout 300 >/dev/null &&
	sleep 0.2 && mqctl topic delete $t-gone >/dev/null &&
	echo again | mqctl produce $t --partition 0 >/dev/null &&
	mqctl consume $t --share-group g5 --from earliest --dlq $d \
		--reject-if again --timeout 300 >/dev/null
ok $? "two more dead letters, the first of a topic then deleted"
sleep 0.2
mqctl dlq redrive $d >"$dir/r4" 2>"$dir/e4"
rc4=$?
mqctl dlq redrive $d >"$dir/r5" 2>"$dir/e5"
rc5=$?
[ $rc4 = 1 ] && [ $rc5 = 1 ] && grep -qx "failed	1" "$dir/r5" &&
	grep -q "^mqctl: dlq redrive: 0/3 of '$d' to '$t-gone': .*stopped" \
		"$dir/e5" && grep -qx "redriven	0" "$dir/r5"
ok $? "an unsendable dead letter stops redrive, named, every time" "$dir/e5"
mqctl dlq redrive $d --skip-bad >"$dir/r6" 2>"$dir/e6"
[ $? = 0 ] && grep -qx "failed	1" "$dir/r6" && grep -qx "redriven	1" "$dir/r6" &&
	grep -q "0/3 of '$d' to '$t-gone': .*skipped" "$dir/e6" &&
	[ "$(mqctl consume $t --partition 0 --from 3 --timeout 300)" = again ] &&
	mqctl dlq redrive $d >"$dir/r7" && grep -qx "failed	0" "$dir/r7"
ok $? "--skip-bad: reported, committed past, the next one redriven" "$dir/e6"

# --to: into a retry topic, not back into $t (where every group sees it)
echo third | mqctl produce $t --partition 0 >/dev/null
mqctl consume $t --share-group g6 --from earliest --dlq $d \
	--reject-if third --timeout 300 >/dev/null
sleep 0.2
mqctl topic create $t-retry >/dev/null
mqctl dlq redrive $d --to $t-retry >"$dir/r8"
[ $? = 0 ] && grep -qx "redriven	1" "$dir/r8" &&
	[ "$(mqctl consume $t-retry --from earliest --timeout 300)" = third ] &&
	[ "$(mqctl consume $t --partition 0 --from 5 --timeout 300)" = "" ]
ok $? "dlq redrive --to TOPIC: there, not back in its own topic" "$dir/r8"

! mqctl consume $t --share-group g3 --dlq $t --timeout 100 \
	>/dev/null 2>"$dir/err" && grep -q "not the topic consumed" "$dir/err"
ok $? "--dlq: the topic consumed is refused"
! mqctl consume $t --share-group g3 --dlq nosuch-$$ --timeout 100 \
	>/dev/null 2>"$dir/err" && grep -q "no such topic" "$dir/err"
ok $? "--dlq: a missing topic is refused"
! mqctl consume $t --dlq $d --timeout 100 >/dev/null 2>"$dir/err" &&
	grep -q "only with --share-group" "$dir/err"
ok $? "--dlq without --share-group is refused"
! mqctl consume $t --share-group g3 --backoff 10s,x --timeout 100 \
	>/dev/null 2>"$dir/err" && grep -q "backoff" "$dir/err"
ok $? "--backoff: a bad duration is refused"

# --dlq-expired: a record whose TTL passed before a member took it is in
# the dead-letter topic, reason expired; a later member with other
# settings is refused, explained.
mqctl topic create $t-exp >/dev/null &&
	echo stale | mqctl produce $t-exp --ttl 10ms >/dev/null &&
	echo fresh | mqctl produce $t-exp >/dev/null && sleep 0.1 &&
	mqctl consume $t-exp --share-group ge --from earliest --dlq $d \
		--dlq-expired --timeout 300 >"$dir/oute" && sleep 0.2 &&
	mqctl dlq info $t-exp ge >"$dir/infoe" &&
	mqctl dlq list $d >"$dir/liste"
[ "$(cat "$dir/oute")" = fresh ] &&
	grep -q "^[0-9]*	[0-9]*	$t-exp/0@0	0	expired$" "$dir/liste" &&
	grep -q "^expired	yes$" "$dir/infoe" && grep -q "^written	1$" "$dir/infoe"
ok $? "--dlq-expired: an expired record dead-lettered, reason expired" "$dir/liste"
off=$(grep "$t-exp/0@0" "$dir/liste" | cut -f2)
mqctl dlq show $d "$off" >"$dir/showe" &&
	grep -q "mqdev.dlq.reason=expired,.*	stale$" "$dir/showe"
ok $? "dlq show: the reason expired and the value" "$dir/showe"
! mqctl consume $t-exp --share-group ge --dlq $d --timeout 100 \
	>/dev/null 2>"$dir/err" && grep -q "other settings" "$dir/err" &&
	mqctl consume $t-exp --share-group ge --timeout 100 >/dev/null
ok $? "a later member with other settings is refused, with none joins" "$dir/err"
! mqctl consume $t-exp --share-group g7 --dlq-expired --timeout 100 \
	>/dev/null 2>"$dir/err" && grep -q "only with --dlq" "$dir/err"
ok $? "--dlq-expired without --dlq is refused"

ktap_set_plan $((KTAP_TESTNO - 1))
ktap_finished
