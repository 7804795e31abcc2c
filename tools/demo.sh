#!/bin/sh
# The main job, as a person would try it: run in the VM by 'make demo'
# (tools/vm/run -- tools/demo.sh), or on a host with mqdev.ko loaded.
set -e
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

say() { printf '\n## %s\n' "$*"; }
run() { echo "\$ $*"; "$@"; }

say "A topic with three partitions, 256 KiB each; producers wait when it is full"
run mqctl topic create orders --partitions 3 --capacity 256K
run mqctl topic list

say "A consumer follows every partition from the start, in the background"
echo "\$ mqctl consume orders --from earliest --keys > consumer.out &"
mqctl consume orders --from earliest --keys >"$out/consumer.out" &
consumer=$!

say "A producer sends keyed orders; each gets its partition and offset back"
echo "\$ mqctl produce orders --key-separator ' ' -v <<orders"
mqctl produce orders --key-separator ' ' -v <<'ORDERS'
alice 2 pizzas
ivan 1 salad
dave 3 soups
alice 1 lemonade
judy 1 pie
dave 1 coffee
ORDERS
sleep 1
kill -INT $consumer
wait $consumer || true

say "What the consumer printed (one customer's orders stay in order: same key, same partition)"
run cat "$out/consumer.out"

say "The log of each partition"
run mqctl topic describe orders

say "The same records as JSON, read again from offset 1 of partition 1"
run mqctl --json consume orders --partition 1 --from 1 --timeout 100

say "A topic that keeps only the newest records: 500 readings into 4 KiB"
run mqctl topic create metrics --capacity 4K --on-full overwrite
echo "\$ seq 1 500 | mqctl produce metrics"
seq 1 500 | mqctl produce metrics
echo "\$ mqctl consume metrics --from earliest --timeout 100 | tail -n 3"
mqctl consume metrics --from earliest --timeout 100 2>"$out/lost" | tail -n 3
cat "$out/lost"
run mqctl topic describe metrics

say "A consumer group: two members share the four partitions of 'events'"
run mqctl topic create events --partitions 4
echo "\$ mqctl consume events --group billing --from earliest > member-1.out &   (twice)"
mqctl consume events --group billing --from earliest >"$out/m1" &
m1=$!
mqctl consume events --group billing --from earliest >"$out/m2" &
m2=$!
sleep 0.5
echo "\$ for p in 0 1 2 3; do seq ... | mqctl produce events --partition \$p; done"
for p in 0 1 2 3; do
	seq $((p * 100 + 1)) $((p * 100 + 5)) | mqctl produce events --partition $p
done
sleep 0.5
run mqctl group describe billing

say "One member is killed; the other takes its partitions at once and carries on"
echo "\$ kill -9 $m1"
kill -9 $m1
wait $m1 2>/dev/null || true
for p in 0 1 2 3; do
	seq $((p * 100 + 6)) $((p * 100 + 8)) | mqctl produce events --partition $p
done
sleep 0.5
run mqctl group describe billing
kill -INT $m2
wait $m2 || true
echo "\$ sort -n member-1.out member-2.out | tr '\\n' ' '   (each record once or, if it was read but not committed when a member died, again)"
sort -n "$out/m1" "$out/m2" | tr '\n' ' '
echo
run mqctl group list

say "Errors say what is wrong"
run mqctl topic create orders || true
run mqctl produce no-such-topic </dev/null || true

run mqctl topic delete orders
run mqctl topic delete metrics
run mqctl topic delete events
