#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# mqdev-kafkad end to end, with Kafka's own clients: kcat (librdkafka),
# confluent-kafka and kafka-python, from the host's /usr, which tools/vm/run
# --host-usr shares read-only at $MQDEV_HOST_USR.  Metadata, a produce and
# consume round trip with keys, kcat and mqctl on the same topic both ways,
# compressed batches (gzip, snappy, lz4, zstd), an idempotent producer whose
# connections are cut, a transactional one killed and fenced (its readers
# reaching the end past aborted records), a kcat
# consumer group whose
# committed offsets show in `mqctl group describe` and follow
# `mqctl group reset`, two group members sharing partitions, and bad input
# (kafkad_fuzz.py).  The daemon is the ASan+UBSan build when there is one;
# it must end cleanly, with nothing in its log from the sanitizers.
# Prints TAP through kselftest's ktap_helpers.sh; skips without /dev/mq,
# mqctl, the daemon or kcat.
. "$(dirname "$0")/../kselftest/ktap_helpers.sh"
. "$(dirname "$0")/lib.sh"

root=${MQDEV_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
here=$root/selftests/mqdev

ktap_print_header
need_mqdev
need_cmd mqctl "tools/mqctl of the mqdev repository"
daemon=$(command -v mqdev-kafkad-san || command -v mqdev-kafkad)
if [ -z "$daemon" ]; then
	ktap_skip_all "mqdev-kafkad is not in PATH (make tools)"
	exit "$KSFT_SKIP"
fi

# The host's programs, from its /usr shared into the guest: their
# libraries are found there too (kcat links librdkafka).
usr=${MQDEV_HOST_USR:-/usr}
host_usr_libs
kcat=$usr/bin/kcat
py=$usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1
if [ ! -x "$kcat" ] || ! "$kcat" -V >/dev/null 2>&1; then
	ktap_skip_all "no kcat that runs in $usr/bin (Debian's kcat: make deps)"
	exit "$KSFT_SKIP"
fi

port=19092
b=127.0.0.1:$port
t=kafkad-test-$$
dir=$(mktemp -d)
pid=
pid2=
pid3=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	[ -n "$pid2" ] && kill "$pid2" 2>/dev/null
	[ -n "$pid3" ] && kill "$pid3" 2>/dev/null
	for x in $t $t-h $t-z $t-g $t-k $t-py $t-ck $t-d $t-f $t-i $t-x $t-ci $t-co $t-ack-1 $t-ack-2 $t-akp-1 $t-akp-2 $t-w; do
		mqctl topic delete $x >/dev/null 2>&1
	done
	rm -rf "$dir"
}
trap cleanup EXIT

# each result says when it came, for the test's own time (make check runs
# it under TCG)
t0=$(date +%s)
ok() {
	if [ "$1" = 0 ]; then
		ktap_test_pass "$2 (at $(($(date +%s) - t0)) s)"
	else
		ktap_test_fail "$2 (at $(($(date +%s) - t0)) s)"
	fi
}

wait_listening() {
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		grep -q listening "$1" 2>/dev/null && break
		sleep 0.5
	done
}

# SIGTERM: the daemon (PID, its log LOG) must end cleanly, with nothing from
# the sanitizers in its log.
daemon_stop() {
	kill -TERM $1
	wait $1
	rc=$?
	[ $rc = 0 ] && ! grep -q 'Sanitizer\|runtime error' "$2"
	ok $? "$3 ends cleanly on SIGTERM, nothing from ASan or UBSan (exit $rc)"
	grep -A30 'Sanitizer\|runtime error' "$2" | sed 's/^/# /' | head -40
}

KCAT() {
	"$kcat" -b $b -X socket.timeout.ms=10000 -X topic.metadata.refresh.interval.ms=-1 "$@"
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# A new group waits 2 s for more members (Kafka's default is 3), so that two
# started together share its first generation.
"$daemon" --listen $b --set max_connections=64 --set idle_timeout_ms=20000 \
	--set max_consumers=16 --set group_max_size=8 --set first_request_ms=2000 \
	--set group_initial_delay_ms=2000 -v 2>"$dir/log" &
pid=$!
wait_listening "$dir/log"
grep -q "listening on $b" "$dir/log"
ok $? "the daemon listens on $b"

# config parsing: every spelling of --config read, sizes that overflow and
# lines too long refused, long comments skipped
printf 'bogus = 1\n' >"$dir/bad.conf"
"$py" -c "print('# ' + 'x' * 700); print('verbose = no')" >"$dir/long-comment.conf"
"$py" -c "print('advertised_host = ' + 'x' * 700)" >"$dir/long-line.conf"
r=
for a in "--config=$dir/bad.conf" "-c$dir/bad.conf" "-c $dir/bad.conf" \
	 "-c$dir/long-line.conf" "--set max_request=17592186044417M"; do
	"$daemon" $a --help >/dev/null 2>&1
	r="$r$?"
done
"$daemon" -c "$dir/long-comment.conf" --help >/dev/null 2>&1
r="$r$?"
[ "$r" = 222220 ]
ok $? "config: --config=F, -cF refused with a bad line; overflows and long lines refused, long comments read ($r)"

mqctl topic create $t --partitions 2 >/dev/null
KCAT -L -t $t >"$dir/L" 2>&1
grep -q "topic \"$t\" with 2 partitions" "$dir/L" &&
	grep -q "broker 0 at 127.0.0.1:$port" "$dir/L"
ok $? "kcat -L: the broker and the topic's partitions"
KCAT -L >"$dir/L" 2>&1 && grep -q "topic \"$t\"" "$dir/L"
ok $? "kcat -L: every topic"

printf 'k1:one\nk2:two\nk3:three\nk4:four\n' | KCAT -P -t $t -K: 2>"$dir/err"
ok $? "kcat -P: four keyed records"
KCAT -C -t $t -o beginning -e -f '%k=%s\n' 2>/dev/null | sort >"$dir/got"
printf 'k1=one\nk2=two\nk3=three\nk4=four\n' >"$dir/want"
cmp -s "$dir/got" "$dir/want"
ok $? "kcat -C -o beginning -e: the same four, keys and values"
[ "$(mqctl consume $t --from earliest --keys --timeout 500 | sort | tr '\t' =)" = \
  "$(cat "$dir/want")" ]
ok $? "mqctl consume reads what kcat produced"
for p in 0 1; do
	n=$(mqctl --json topic describe $t | tr '{' '\n' |
	    grep "\"partition\":$p," | sed -n 's/.*"next_offset":\([0-9]*\).*/\1/p')
	k=$(KCAT -C -t $t -p $p -o beginning -e -f 'x\n' 2>/dev/null | wc -l)
	[ "$n" = "$k" ] || break
done
ok $? "each partition holds what kcat reads of it (librdkafka's partitioner kept)"

seq 1 50 | mqctl produce $t --partition 1
KCAT -C -t $t -p 1 -o -50 -e -f '%s\n' 2>/dev/null >"$dir/got"
seq 1 50 | cmp -s - "$dir/got"
ok $? "kcat reads what mqctl produce wrote"
hw=$(KCAT -Q -t $t:1:-1 2>/dev/null | sed -n 's/.*\[1\] *offset \([0-9]*\).*/\1/p')
[ "$hw" = "$(mqctl --json topic describe $t | tr '{' '\n' | grep '"partition":1,' |
	     sed -n 's/.*"high_watermark":\([0-9]*\).*/\1/p')" ]
ok $? "ListOffsets: latest is mqdev's high watermark ($hw)"

# Kafka's record model: null keys and values, distinct from empty ones,
# and headers, kept by mqdev and read back by both sides.
mqctl topic create $t-h >/dev/null
printf 'key1:v1\n' | KCAT -P -t $t-h -K: -H trace=abc -H nul 2>/dev/null &&
	printf ':\n' | KCAT -P -t $t-h -K: -Z 2>/dev/null &&
	printf 'k3:\n' | KCAT -P -t $t-h -K: 2>/dev/null
ok $? "kcat -P: headers (one null), a null key and value, an empty value"
mqctl --json consume $t-h --from earliest --timeout 500 >"$dir/h"
sed -n 1p "$dir/h" | grep -q '"key":"key1","value":"v1","headers":\[\["trace","abc"\],\["nul",null\]\]' &&
	sed -n 2p "$dir/h" | grep -q '"key":null,"value":null' &&
	sed -n 3p "$dir/h" | grep -q '"key":"k3","value":""}'
ok $? "mqctl consume: the headers, the null key and value, the empty value"
sed 's/^/# mqctl: /' "$dir/h"
KCAT -C -t $t-h -o beginning -e -J 2>/dev/null >"$dir/got"
sed -n 1p "$dir/got" | grep -q '"headers":\["trace","abc","nul",null\]' &&
	sed -n 1p "$dir/got" | grep -q '"key":"key1","payload":"v1"' &&
	sed -n 2p "$dir/got" | grep -q '"key":null,"payload":null' &&
	sed -n 3p "$dir/got" | grep -q '"key":"k3","payload":""'
ok $? "kcat -C reads them back as they were sent"
sed 's/^/# kcat: /' "$dir/got"

# compressed batches, every codec librdkafka has
mqctl topic create $t-z >/dev/null
for z in gzip snappy lz4 zstd; do
	seq 1 200 | sed "s/^/$z-/" | KCAT -P -t $t-z -z $z -X linger.ms=50 2>"$dir/err" || break
done
ok $? "kcat -P -z gzip, snappy, lz4, zstd: accepted"
KCAT -C -t $t-z -o beginning -e -f '%s\n' 2>/dev/null >"$dir/got"
for z in gzip snappy lz4 zstd; do seq 1 200 | sed "s/^/$z-/"; done >"$dir/want"
cmp -s "$dir/got" "$dir/want"
ok $? "the 800 compressed records read back in order"

# acks=all: on a durable topic with no replica in sync, refused as Kafka
# does (NOT_ENOUGH_REPLICAS), nothing appended; acks=1 appends.  A full
# 'block' topic parks the Produce until its timeout (REQUEST_TIMED_OUT),
# while other clients are served.
mqctl topic create $t-d --durable --min-insync 1 >/dev/null
echo lost | KCAT -P -t $t-d -X acks=all -X message.timeout.ms=3000 2>"$dir/err"
# librdkafka retries NOT_ENOUGH_REPLICAS until the message times out
[ $? != 0 ] && grep -qiE 'not enough in-sync replicas|timed out' "$dir/err" &&
	mqctl --json topic describe $t-d | grep -q '"next_offset":0,'
ok $? "acks=all without a replica in sync: NOT_ENOUGH_REPLICAS, nothing appended"
echo kept | KCAT -P -t $t-d -X acks=1 2>/dev/null &&
	[ "$(KCAT -C -t $t-d -o beginning -e -f '%s\n' 2>/dev/null)" = kept ]
ok $? "acks=1 on the durable topic appends, and Fetch reads to its watermark"
# A topic deleted and made again by its name: the daemon's handles of the
# old one fail (EIDRM), and the client's retry lands in the new one.
mqctl topic create $t-r >/dev/null
echo old | KCAT -P -t $t-r 2>/dev/null
mqctl topic delete $t-r && mqctl topic create $t-r >/dev/null &&
	echo new | KCAT -P -t $t-r -X message.timeout.ms=10000 2>"$dir/err" &&
	[ "$(KCAT -C -t $t-r -o beginning -e -f '%s\n' 2>/dev/null)" = new ]
ok $? "a topic deleted and created again: the next Produce lands in the new one"
mqctl topic create $t-f --capacity 4K >/dev/null
# batches of 10: each fits whole, until the topic is full
seq 1 300 | KCAT -P -t $t-f -X request.timeout.ms=2000 -X batch.num.messages=10 \
	-X message.timeout.ms=4000 -X retries=0 2>"$dir/err" &
f=$!
sleep 1
KCAT -L -t $t >/dev/null 2>&1
ok $? "while a Produce waits for room in a full topic, others are served"
wait $f
[ $? != 0 ] && grep -qi 'timed out' "$dir/err"
ok $? "the full topic's Produce ends REQUEST_TIMED_OUT"

# An idempotent producer whose connections are cut (kafkad_idem.py, a proxy
# that drops answers and cuts requests): a second daemon advertises the
# proxy's port, so that every connection the client makes goes through it.
# Each record lands once: mqctl verify (the records' producer sequences)
# and their values agree.
idempotent() {
	mqctl topic create $t-i --partitions 3 >/dev/null
	"$daemon" --listen 127.0.0.1:$((port + 2)) --set advertised_port=$((port + 1)) \
		-v 2>"$dir/log2" &
	pid2=$!
	wait_listening "$dir/log2"
	"$py" "$here/kafkad_idem.py" $((port + 1)) $((port + 2)) $t-i 2000 1 \
		>"$dir/idem" 2>&1
	ok $? "confluent-kafka, idempotent: all 2000 delivered across cut connections ($(tail -n 1 "$dir/idem"))"
	sed 's/^/# /' "$dir/idem"
	mqctl verify $t-i >"$dir/verify" 2>&1 &&
		grep -q ': 2000 records in [1-9]' "$dir/verify"
	ok $? "mqctl verify: 2000 records, no producer sequence repeated or missing"
	sed 's/^/# verify: /' "$dir/verify" | tail -n 3
	mqctl consume $t-i --from earliest --timeout 500 >"$dir/got"
	[ "$(wc -l <"$dir/got")" = 2000 ] && [ "$(sort -u "$dir/got" | wc -l)" = 2000 ]
	ok $? "each of the 2000 values once ($(wc -l <"$dir/got") records)"
	n=$(grep -c 'sent again: not appended' "$dir/log2")
	[ "$n" -gt 0 ]
	ok $? "batches sent again after a lost answer were not appended again ($n)"
	daemon_stop $pid2 "$dir/log2" "the second daemon"
	pid2=
}

# a consumer group: committed offsets kept in mqdev's own group
KCAT -G g-$$ $t -X auto.offset.reset=earliest -e -f '%s\n' >"$dir/g" 2>"$dir/gerr"
ok $? "kcat -G: a group member reads to the end and leaves"
[ "$(wc -l <"$dir/g")" = 54 ]
ok $? "kcat -G read all 54 records"
mqctl --json group describe g-$$ >"$dir/desc" 2>&1
grep -q "\"topic\":\"$t\"" "$dir/desc" &&
	! grep -q '"lag":[1-9]' "$dir/desc" &&
	! grep -q '"current_offset":null' "$dir/desc" &&
	grep -q '"current_offset":[1-9]' "$dir/desc"
ok $? "mqctl group describe: the Kafka group's committed offsets, lag 0"
echo more | mqctl produce $t --partition 0
KCAT -G g-$$ $t -e -f '%s\n' >"$dir/g" 2>/dev/null
[ "$(cat "$dir/g")" = more ]
ok $? "the group goes on from its commit: only the new record"
mqctl group reset g-$$ --topic $t --to earliest >/dev/null &&
	KCAT -G g-$$ $t -e -f '%s\n' 2>/dev/null | wc -l >"$dir/n"
[ "$(cat "$dir/n")" = 55 ]
ok $? "after mqctl group reset the Kafka group reads everything again"

# two members share the partitions
mqctl topic create $t-g --partitions 4 >/dev/null
seq 1 400 | KCAT -P -t $t-g -K: 2>/dev/null
seq 1 400 | sed 's/.*/&:&/' | KCAT -P -t $t-g -K: 2>/dev/null
KCAT -G g2-$$ $t-g -X auto.offset.reset=earliest -e -f '%s\n' >"$dir/m1" 2>/dev/null &
m1=$!
KCAT -G g2-$$ $t-g -X auto.offset.reset=earliest -e -f '%s\n' >"$dir/m2" 2>/dev/null &
m2=$!
wait $m1
wait $m2
[ -s "$dir/m1" ] && [ -s "$dir/m2" ] &&
	[ "$(cat "$dir/m1" "$dir/m2" | sort -u | wc -l)" = 400 ] &&
	[ "$(cat "$dir/m1" "$dir/m2" | wc -l)" = 800 ]
ok $? "two kcat -G members share the partitions: each record once ($(wc -l <"$dir/m1") + $(wc -l <"$dir/m2"))"

# one member killed mid-stream: its session times out, the other takes its
# partitions over from the group's commits (at least once: nothing lost)
mqctl topic create $t-k --partitions 2 >/dev/null
seq 1 200 | sort >"$dir/seq200"
for m in 3 4; do
	# -u: what the killed one read is printed before it is killed
	KCAT -u -G g3-$$ $t-k -X auto.offset.reset=earliest -X session.timeout.ms=3000 \
		-X heartbeat.interval.ms=300 -X auto.commit.interval.ms=300 \
		-f '%s\n' >"$dir/m$m" 2>/dev/null &
	eval m$m=\$!
done
sleep 3
seq 1 100 | KCAT -P -t $t-k 2>/dev/null
sleep 1
kill -9 $m3
wait $m3 2>/dev/null
seq 101 200 | KCAT -P -t $t-k 2>/dev/null
sleep 7
kill -TERM $m4
wait $m4 2>/dev/null
[ "$(cat "$dir/m3" "$dir/m4" | sort -un | tr '\n' ' ')" = "$(seq 1 200 | tr '\n' ' ')" ]
ok $? "a member killed: the other takes over after its session timeout, nothing lost"
echo "# killed member read $(wc -l <"$dir/m3"), the other $(wc -l <"$dir/m4");" \
	"missing: $(cat "$dir/m3" "$dir/m4" | sort -un | grep -vxF -f - "$dir/seq200" | head -5 | tr '\n' ' ')"
grep "group g3-$$" "$dir/log" | sed 's/^/# /'

# kafka-python and confluent-kafka
if "$py" -c 'import kafka' 2>/dev/null; then
	mqctl topic create $t-py --partitions 2 >/dev/null
	"$py" "$here/kafkad_clients.py" $b kp-produce $t-py 100 2>"$dir/err" &&
		"$py" "$here/kafkad_clients.py" $b kp-produce $t-py 100 gzip 2>>"$dir/err"
	ok $? "kafka-python: a producer, plain and gzip"
	# its other codecs (python3-lz4, -snappy), decoded.  Not zstd: Kafka
	# takes zstd from Produce v7 on, and kafka-python refuses it to a
	# broker older than 2.1, which this one says it is (0.11); librdkafka's
	# zstd is tested above.
	mqctl topic create $t-pz >/dev/null
	zerr=0
	for z in lz4 snappy; do
		"$py" "$here/kafkad_clients.py" $b kp-produce $t-pz 50 $z 2>>"$dir/err" || zerr=1
	done
	[ $zerr = 0 ] &&
		[ "$(mqctl consume $t-pz --from earliest --timeout 500 2>/dev/null | sort -u | wc -l)" = 50 ] &&
		[ "$(mqctl consume $t-pz --from earliest --timeout 500 2>/dev/null | wc -l)" = 100 ]
	ok $? "kafka-python: lz4 and snappy batches decoded"
	"$py" "$here/kafkad_clients.py" $b kp-consume $t-py kp-$$ 200 >"$dir/got" 2>>"$dir/err" &&
		[ "$(sort -u "$dir/got" | wc -l)" = 100 ] &&
		grep -qx 'key-7=value-7' "$dir/got"
	ok $? "kafka-python: a group consumer reads all 200, keys and values"
	mqctl --json group describe kp-$$ | grep -q '"lag":0' &&
		! mqctl --json group describe kp-$$ | grep -q '"lag":[1-9]'
	ok $? "kafka-python's commit shows in mqctl group describe"
	"$py" "$here/kafkad_clients.py" $b kp-times $t-py >"$dir/got" 2>>"$dir/err"
	ok $? "ListOffsets by time: the record found, with its own timestamp ($(cat "$dir/got"))"
else
	ktap_test_skip "no kafka-python (python3-kafka)"
fi
if "$py" -c 'import confluent_kafka' 2>/dev/null; then
	mqctl topic create $t-ck --partitions 3 >/dev/null
	"$py" "$here/kafkad_clients.py" $b ck-produce $t-ck 300 zstd 2>"$dir/err" &&
		"$py" "$here/kafkad_clients.py" $b ck-consume $t-ck ck-$$ 300 >"$dir/got" 2>>"$dir/err" &&
		[ "$(sort -u "$dir/got" | wc -l)" = 300 ]
	ok $? "confluent-kafka: a zstd producer and a group consumer with manual commits"
	idempotent
	mqctl topic create $t-x --partitions 2 >/dev/null
	"$py" "$here/kafkad_txn.py" $b $t-x txn-$$ >"$dir/txn" 2>&1
	ok $? "confluent-kafka, transactional: committed, aborted, killed and fenced instances; read_committed sees each committed record once, and reaches the end past aborted records"
	sed 's/^/# /' "$dir/txn" | grep -v '^# %[0-9]'
	[ "$(mqctl consume $t-x --from earliest --timeout 500 | sed 's/-.*//' | sort | uniq -c |
	     awk '{printf "%s%s ", $2, $1}')" = "A50 D50 F50 " ]
	ok $? "mqctl consume sees the same: A, D and F, 50 each"
	# consume-transform-produce, killed twice at random points
	mqctl topic create $t-ci --partitions 2 >/dev/null
	mqctl topic create $t-co --partitions 2 >/dev/null
	seq 0 249 | sed 's/^/r-/' | mqctl produce $t-ci
	"$py" "$here/kafkad_ctp.py" $b $t-ci $t-co ctp-$$ ctp-$$ 250 2 1 >"$dir/ctp" 2>&1
	ok $? "a consume-transform-produce pipeline killed twice: each input once in the output ($(tail -n 1 "$dir/ctp"))"
	grep -v '^%[0-9]' "$dir/ctp" | sed 's/^/# /'
	mqctl --json group describe ctp-$$ >"$dir/desc" 2>&1
	grep -q '"current_offset":[1-9]' "$dir/desc" && ! grep -q '"lag":[1-9]' "$dir/desc"
	ok $? "the pipeline's offsets, committed with its transactions, show in mqctl group describe, lag 0"
else
	ktap_test_skip "no confluent-kafka (python3-confluent-kafka)"
fi

# the admin APIs: topics created and deleted, groups listed and described
for a in ck kp; do
	case $a in
	ck) mod=confluent_kafka grp=ck-$$ ;;
	kp) mod=kafka grp=kp-$$ ;;
	esac
	if ! "$py" -c "import $mod" 2>/dev/null; then
		ktap_test_skip "no $mod for the admin APIs"
		continue
	fi
	"$py" "$here/kafkad_admin.py" $b $a $t-a$a $grp >"$dir/admin" 2>&1
	ok $? "$a admin client: CreateTopics, DeleteTopics, ListGroups, DescribeGroups and their refusals"
	grep -v '^%[0-9]' "$dir/admin" | sed 's/^/# /'
	mqctl --json topic describe $t-a$a-1 | grep -q '"partitions":3' &&
		! mqctl topic describe $t-a$a-2 >/dev/null 2>&1
	ok $? "$a admin client: mqctl sees the topic created (3 partitions), not the one deleted"
done

# bad input
mqctl topic create $t-w --partitions 64 >/dev/null
KAFKAD_FUZZ_WIDE=$t-w KAFKAD_FUZZ_SMALL=$t-f "$py" "$here/kafkad_fuzz.py" 127.0.0.1 $port $pid $t 1 >"$dir/fuzz" 2>&1
rc=$?
sed 's/^/# fuzz: /' "$dir/fuzz"
[ $rc = 0 ]
ok $? "the fuzzer: every bad input answered or its connection closed"
KCAT -L -t $t >/dev/null 2>&1
ok $? "after the fuzzer kcat is still served"

# out of file descriptors: the daemon waits for one, it does not spin
(ulimit -n 32 && exec "$daemon" --listen 127.0.0.1:$((port + 3)) -v) 2>"$dir/log3" &
pid3=$!
wait_listening "$dir/log3"
KAFKAD_FUZZ_CASES=cases_emfile "$py" "$here/kafkad_fuzz.py" 127.0.0.1 $((port + 3)) \
	$pid3 $t >"$dir/fuzz" 2>&1
rc=$?
sed 's/^/# fuzz: /' "$dir/fuzz"
kill -TERM $pid3
wait $pid3
rc2=$?
[ $rc = 0 ] && [ $rc2 = 0 ] && ! grep -q 'Sanitizer\|runtime error' "$dir/log3"
ok $? "out of file descriptors: no busy loop, clients served once some are free"
pid3=

tail -n 15 "$dir/log" | sed 's/^/# daemon: /'
daemon_stop $pid "$dir/log" "the daemon"
pid=

ktap_set_plan $((KTAP_TESTNO - 1))
ktap_finished
