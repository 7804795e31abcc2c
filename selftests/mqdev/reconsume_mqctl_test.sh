#!/bin/sh
# mqctl consume --group --retry-topic --reconsume-if: a record handed back
# comes again from the retry topic, in the same group, its count raised by
# the kernel, after the back-off; past --max-deliveries it is in the DLQ
# (mqctl dlq list/show) with where it came from, its count and the error;
# the group committed past it; the errors a user sees.
# Prints TAP through kselftest's ktap_helpers.sh; skips without /dev/mq or
# mqctl.
. "$(dirname "$0")/../kselftest/ktap_helpers.sh"
. "$(dirname "$0")/lib.sh"

ktap_print_header
need_mqdev
need_cmd mqctl "tools/mqctl of the mqdev repository"

t=rcs-$$
r=rcr-$$
d=rcd-$$
dir=$(mktemp -d)
trap 'rm -rf "$dir"
      for x in $t $r $d; do mqctl topic delete $x >/dev/null 2>&1; done' EXIT

for x in $t $r $d; do mqctl topic create $x >/dev/null || exit 1; done
echo a | mqctl produce $t >/dev/null
echo poison | mqctl produce $t --key k9 >/dev/null
echo b | mqctl produce $t >/dev/null

mqctl consume $t --group g --from earliest --retry-topic $r --dlq $d \
	--max-deliveries 3 --backoff 300ms,100ms --reconsume-if poison \
	--headers --timeout 3000 >"$dir/out" 2>"$dir/err"
rc=$?
[ $rc = 0 ] && [ "$(wc -l <"$dir/out")" = 5 ] &&
	[ "$(grep -c poison "$dir/out")" = 3 ] &&
	[ "$(sed -n 1p "$dir/out")" = "	a" ] &&
	grep -q "mqdev.dlq.deliveries=2,mqdev.dlq.reason=reconsume-later,mqdev.dlq.group=g,.*	poison$" \
		"$dir/out" &&
	grep -q "^mqdev.dlq.topic=$t,mqdev.dlq.partition=0,mqdev.dlq.offset=1,mqdev.dlq.deliveries=3,.*	poison$" \
		"$dir/out"
ok $? "a record handed back comes again from the retry topic, counted" "$dir/out"

mqctl dlq list $d >"$dir/list"
[ "$(wc -l <"$dir/list")" = 2 ] &&
	grep -q "^0	0	$t/0@1	3	max-deliveries$" "$dir/list"
ok $? "past --max-deliveries it is in the DLQ once, with its count" "$dir/list"

mqctl dlq show $d 0 >"$dir/show"
grep -q "mqdev.dlq.error=mqctl --reconsume-if	k9	poison$" "$dir/show"
ok $? "dlq show: the member's error, the key and value" "$dir/show"

mqctl consume $t --group g --retry-topic $r --timeout 300 >"$dir/again"
[ $? = 0 ] && [ ! -s "$dir/again" ] &&
	[ "$(mqctl scheduled list $r | tail -n 1)" = \
	  "scheduled 0, expired 0, dropped 0" ]
ok $? "the group committed past it: nothing comes again" "$dir/again"

! mqctl consume $t --retry-topic $r --timeout 100 >/dev/null 2>"$dir/e1" &&
	grep -q "only with --group" "$dir/e1"
ok $? "--retry-topic without --group is refused" "$dir/e1"
! mqctl consume $t --group g --reconsume-if x --timeout 100 \
	>/dev/null 2>"$dir/e2" && grep -q "only with --retry-topic" "$dir/e2"
ok $? "--reconsume-if without --retry-topic is refused" "$dir/e2"
echo poison2 | mqctl produce $t >/dev/null
! mqctl consume $t --group g --retry-topic nosuch-$$ --reconsume-if poison \
	--timeout 300 >/dev/null 2>"$dir/e3" &&
	grep -q "'nosuch-$$': no such topic" "$dir/e3"
ok $? "a missing retry topic is named" "$dir/e3"

ktap_set_plan $((KTAP_TESTNO - 1))
ktap_finished
