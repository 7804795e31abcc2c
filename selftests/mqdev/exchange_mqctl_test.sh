#!/bin/sh
# mqctl exchange end to end: a topic exchange splitting a stream of events
# between services (the README's example), fanout, describe's counts, the
# unroutable policies, bind and unbind, and the errors a user sees.
# Prints TAP through kselftest's ktap_helpers.sh; skips without /dev/mq or
# mqctl.
. "$(dirname "$0")/../kselftest/ktap_helpers.sh"
. "$(dirname "$0")/lib.sh"

ktap_print_header
need_mqdev
need_cmd mqctl "tools/mqctl of the mqdev repository"

t=exq-$$
dir=$(mktemp -d)
trap 'rm -rf "$dir"
      for x in $t-events $t-all; do mqctl exchange delete $x; done >/dev/null 2>&1
      for q in billing audit eu dead small; do mqctl topic delete $t-$q; done \
	>/dev/null 2>&1' EXIT

for q in billing audit eu dead; do
	mqctl topic create $t-$q --partitions 2 >/dev/null || exit 1
done
mqctl exchange create $t-events --type topic --alternate $t-dead >/dev/null
ok $? "exchange create --type topic --alternate"
mqctl exchange list | grep -qx "$t-events"
ok $? "exchange list"
mqctl exchange bind $t-events $t-billing --key 'order.*.paid' >/dev/null &&
mqctl exchange bind $t-events $t-audit --key '#' >/dev/null &&
mqctl exchange bind $t-events $t-eu --key '*.eu.#' --partition 1 >/dev/null
ok $? "exchange bind, with patterns and a partition"

echo paid | mqctl produce --exchange $t-events --routing-key order.eu.paid -v \
	>"$dir/acks"
[ "$(wc -l <"$dir/acks")" = 3 ] &&
	grep -qx "topic $t-eu partition 1 offset 0" "$dir/acks" &&
	grep -q "^topic $t-billing partition . offset 0$" "$dir/acks" &&
	grep -q "^topic $t-audit partition . offset 0$" "$dir/acks"
ok $? "one message, three copies, each acknowledged where it went"
printf 'a\nb\n' | mqctl produce --exchange $t-events --routing-key order.us.new -v \
	>"$dir/acks"
[ "$(grep -c "^topic $t-audit " "$dir/acks")" = 2 ] &&
	[ "$(wc -l <"$dir/acks")" = 2 ]
ok $? "a key only '#' matches goes to audit alone"
[ "$(mqctl consume $t-eu --from earliest --timeout 300)" = paid ]
ok $? "the copy is a record of the topic, for its consumers"

mqctl exchange unbind $t-events $t-audit --key '#' >/dev/null
ok $? "exchange unbind"
echo lost | mqctl produce --exchange $t-events --routing-key x.y -v >"$dir/acks"
grep -q "^topic $t-dead partition . offset 0$" "$dir/acks"
ok $? "unroutable: to the alternate topic"
mqctl --json exchange describe $t-events >"$dir/desc"
grep -q '"routed":3,"alternated":1,"refused":0,"dropped":0' "$dir/desc" &&
	grep -q "\"topic\":\"$t-billing\",\"key\":\"order.\*.paid\",\"partition\":\"any\",\"routed\":1" "$dir/desc" &&
	grep -q "\"topic\":\"$t-eu\",\"key\":\"\*.eu.#\",\"partition\":\"1\",\"routed\":1" "$dir/desc"
ok $? "describe counts messages per exchange and per binding"

mqctl exchange create $t-all --type fanout >/dev/null &&
	mqctl exchange bind $t-all $t-billing >/dev/null &&
	mqctl exchange bind $t-all $t-audit >/dev/null
echo x | mqctl produce --exchange $t-all --routing-key whatever -v >"$dir/acks"
[ "$(wc -l <"$dir/acks")" = 2 ]
ok $? "fanout: a copy per binding, whatever the key"
mqctl exchange unbind $t-all $t-billing >/dev/null &&
	mqctl exchange unbind $t-all $t-audit >/dev/null
echo gone | mqctl produce --exchange $t-all --routing-key k 2>"$dir/err"
[ $? = 1 ] && grep -q "dropped (counted by the exchange)" "$dir/err" &&
	mqctl --json exchange describe $t-all | grep -q '"dropped":1'
ok $? "unroutable without an alternate: dropped, counted, reported"
echo refused | mqctl produce --exchange $t-all --routing-key k --mandatory \
	2>"$dir/err"
[ $? = 1 ] && grep -q "refuses it" "$dir/err" &&
	mqctl --json exchange describe $t-all | grep -q '"refused":1'
ok $? "--mandatory: refused, counted"

# exchange to exchange: what reaches $t-all is routed again by $t-events
mqctl exchange bind $t-all --to-exchange $t-events >/dev/null
ok $? "exchange bind --to-exchange"
echo via | mqctl produce --exchange $t-all --routing-key order.eu.paid -v \
	>"$dir/acks"
[ "$(wc -l <"$dir/acks")" = 2 ] &&
	grep -q "^topic $t-billing " "$dir/acks" &&
	grep -q "^topic $t-eu partition 1 " "$dir/acks"
ok $? "a message routed through two exchanges, a copy per topic"
mqctl --json exchange describe $t-all |
	grep -q "\"exchange\":\"$t-events\",\"key\":\"\",\"partition\":\"exchange\",\"routed\":1"
ok $? "describe shows the binding to an exchange"
mqctl exchange bind $t-events --to-exchange $t-all --key '#' 2>"$dir/err"
[ $? = 1 ] && grep -q "cycle" "$dir/err"
ok $? "a binding closing a cycle is refused, saying why"

# a copy that fails is skipped and reported; the others go in
mqctl topic create $t-small --capacity 4096 >/dev/null &&
	mqctl exchange bind $t-all $t-small >/dev/null &&
	mqctl exchange bind $t-all $t-audit >/dev/null
head -c 3000 /dev/zero | tr '\0' x | mqctl produce --exchange $t-all \
	--routing-key order.eu.paid -v >"$dir/acks" 2>"$dir/err"
[ $? = 0 ] && [ "$(wc -l <"$dir/acks")" = 3 ] &&
	grep -q "copy to topic $t-small failed" "$dir/err" &&
	mqctl --json exchange describe $t-all >"$dir/desc" &&
	grep -q '"failed":1,"over_budget":0,"bindings"' "$dir/desc" &&
	grep -q "\"topic\":\"$t-small\",\"key\":\"\",\"partition\":\"any\",\"routed\":0,\"failed\":1" "$dir/desc"
ok $? "a failed copy: skipped, reported with its reason, counted"
mqctl exchange unbind $t-all --to-exchange $t-events >/dev/null &&
	mqctl exchange unbind $t-all $t-audit >/dev/null
ok $? "exchange unbind --to-exchange"
# a deleted topic's binding goes with it
mqctl topic delete $t-small >/dev/null &&
	[ "$(mqctl --json exchange describe $t-all | grep -c "$t-small")" = 0 ]
ok $? "a deleted topic's binding is dropped"

mqctl exchange bind $t-events $t-billing --key 'a*' 2>"$dir/err"
[ $? = 1 ] && grep -q "are whole words" "$dir/err"
ok $? "a bad pattern is refused, saying why"
mqctl exchange create $t-events 2>"$dir/err"
[ $? = 1 ] && grep -q "exists already" "$dir/err"
ok $? "a second exchange of the name is refused"
# a delay or a TTL is a topic producer's, not an exchange's
refused=0
for o in "--delay 1s" "--at @1" "--ttl 1m"; do
	# shellcheck disable=SC2086
	echo x | mqctl produce --exchange $t-events --routing-key a $o \
		2>"$dir/err" >/dev/null
	if [ $? = 1 ] && grep -q "only --key, --mandatory" "$dir/err"; then
		refused=$((refused + 1))
	fi
done
[ $refused = 3 ]
ok $? "produce --exchange refuses --delay, --at and --ttl"
mqctl exchange delete $t-events >/dev/null && mqctl exchange delete $t-all >/dev/null
ok $? "exchange delete"
mqctl exchange describe $t-events 2>"$dir/err"
[ $? = 1 ] && grep -q "no such exchange" "$dir/err"
ok $? "a deleted exchange is gone"

ktap_set_plan $((KTAP_TESTNO - 1))
ktap_finished
