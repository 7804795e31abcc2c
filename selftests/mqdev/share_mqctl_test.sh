#!/bin/sh
# mqctl consume --share-group and mqctl group describe --topic: two mqctl
# members print every record once between them; the window shown is past
# them all; a rejected record is done too, and counted; the group outlives
# its killed members until mqctl group delete; the errors a user sees.
# Prints TAP through kselftest's ktap_helpers.sh; skips without /dev/mq or
# mqctl.
. "$(dirname "$0")/../kselftest/ktap_helpers.sh"

ktap_print_header
if [ ! -c /dev/mq ]; then
	ktap_skip_all "/dev/mq is missing: the mqdev module is not loaded (CONFIG_MQDEV=m)"
	exit "$KSFT_SKIP"
fi
if ! command -v mqctl >/dev/null; then
	ktap_skip_all "mqctl is not in PATH (tools/mqctl of the mqdev repository)"
	exit "$KSFT_SKIP"
fi

t=shq-$$
u=shq2-$$
dir=$(mktemp -d)
pids=
trap 'for p in $pids; do kill -9 $p; done 2>/dev/null
      rm -rf "$dir"; mqctl topic delete $t >/dev/null 2>&1
      mqctl topic delete $u >/dev/null 2>&1' EXIT

ok() {
	if [ "$1" = 0 ]; then
		ktap_test_pass "$2"
	else
		ktap_test_fail "$2"
	fi
}

# Wait up to 20 s until files $2... have $1 lines between them.
wait_lines() {
	want=$1
	shift
	i=0
	while [ "$(cat "$@" | wc -l)" -lt "$want" ] && [ $i -lt 200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(cat "$@" | wc -l)" -eq "$want" ]
}

mqctl topic create $t --partitions 2 >/dev/null || exit 1
mqctl consume $t --share-group g --from earliest --reject-if poison \
	>"$dir/m1" &
pids="$pids $!"
mqctl consume $t --share-group g --reject-if poison >"$dir/m2" &
pids="$pids $!"
sleep 0.5
seq 1 200 | mqctl produce $t >/dev/null
echo poison | mqctl produce $t --partition 0 >/dev/null
wait_lines 201 "$dir/m1" "$dir/m2" &&
	[ "$(cat "$dir/m1" "$dir/m2" | sort | uniq | wc -l)" = 201 ]
ok $? "two share-group members print every record once between them"

mqctl group describe g --topic $t >"$dir/desc"
grep -q "^Share group g on $t: 2 members" "$dir/desc" &&
	[ "$(awk '$1 ~ /^[01]$/ { s += $2; e += $3; a += $4 + $5 + $6 + $7 }
		END { print s, e, a }' "$dir/desc")" = "201 201 0" ]
ok $? "group describe --topic: the windows are past every record"

mqctl group describe g --topic $t --json | grep -q '"type":"share".*"lost":0,'
ok $? "group describe --topic --json"

mqctl group describe g --topic $t --json |
	grep -q '"rejected_total":1,'
ok $? "group describe --topic --json counts the rejected record"

mqctl group list | grep -Eq "^g +$t +share +2 +- +-$"
ok $? "group list shows the share group, its kind and members"
mqctl group list --json |
	grep -q "{\"group\":\"g\",\"topic\":\"$t\",\"members\":2,\"generation\":null,\"lag\":null,\"type\":\"share\"}"
ok $? "group list --json gives the share group's type"
mqctl group describe g | grep -q "^Share group g on $t: 2 members"
ok $? "group describe finds a share group without --topic"

# An idle member sleeps in the kernel: a handful of context switches in a
# second, not the hundred of a look every 10 ms; a record still wakes it.
m1=${pids# }
m1=${m1%% *}
csw() { awk '/^voluntary_ctxt_switches/ { print $2 }' /proc/$1/status; }
c0=$(csw "$m1")
sleep 1
c1=$(csw "$m1")
[ $((c1 - c0)) -lt 20 ]
ok $? "an idle share-group member does not poll ($((c1 - c0)) switches in 1 s)"

! mqctl group delete g --topic $t >/dev/null 2>"$dir/err" &&
	grep -q "has members" "$dir/err"
ok $? "group delete refuses a share group with members"

for p in $pids; do kill -9 "$p"; wait "$p"; done 2>/dev/null
pids=
mqctl group describe g --topic $t | grep -q "^Share group g on $t: 0 members"
ok $? "the group outlives its last member"

# A consumer-group delete by name leaves share groups of the name alone.
! mqctl group delete g >/dev/null 2>"$dir/err" &&
	grep -q "share group is deleted with its topic" "$dir/err" &&
	mqctl group describe g --topic $t >/dev/null
ok $? "group delete without --topic or --share leaves a share group alone"
! mqctl group delete g --share --topic $t >/dev/null 2>&1
ok $? "group delete --share with --topic is refused"

mqctl group delete g --topic $t >/dev/null &&
	! mqctl group describe g --topic $t >/dev/null 2>&1
ok $? "group delete --topic deletes a memberless share group"
! mqctl group list | grep -q "^g "
ok $? "a deleted share group is no longer listed"

# --share deletes the share groups of the name, not its consumer groups.
mqctl topic create $u >/dev/null &&
	mqctl consume $t --share-group g --timeout 100 >/dev/null &&
	mqctl consume $u --group g --timeout 100 >/dev/null &&
	mqctl group delete g --share >/dev/null &&
	! mqctl group describe g --topic $t >/dev/null 2>&1 &&
	mqctl group describe g --topic $u >/dev/null &&
	! mqctl group delete g --share >/dev/null 2>&1 &&
	mqctl group delete g >/dev/null &&
	! mqctl group describe g --topic $u >/dev/null 2>&1
ok $? "group delete --share deletes share groups only, plain delete consumer ones"

# Stopped and continued every 0.4 s, a --timeout 1500 wait still ends
# after 1.5 s: the signals do not start it over.
mqctl consume $t --share-group g3 --timeout 1500 >/dev/null &
m=$!
i=0
while [ $i -lt 10 ] && kill -0 $m 2>/dev/null; do
	sleep 0.4
	kill -STOP $m 2>/dev/null
	kill -CONT $m 2>/dev/null
	i=$((i + 1))
done
! kill -0 $m 2>/dev/null && wait $m
ok $? "a --share-group --timeout wait keeps its deadline across signals ($i stops)"

! mqctl consume $t --reject-if x --timeout 100 >/dev/null 2>"$dir/err" &&
	grep -q "only with --share-group" "$dir/err"
ok $? "--reject-if without --share-group is refused"
! mqctl consume $t --share-group g --group h --timeout 100 \
	>/dev/null 2>&1
ok $? "--share-group with --group is refused"

ktap_set_plan $((KTAP_TESTNO - 1))
ktap_finished
