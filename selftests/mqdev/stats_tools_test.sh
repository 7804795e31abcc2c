#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The statistics as the tools show them: mqctl stats (text, --json and
# --prometheus) and mqctl top counting what was produced and consumed, and
# mqdev-exporter (built with -fsanitize=address,undefined) serving /metrics
# to good and bad clients (exporter_client.py: 404, 405, 400, huge headers,
# byte by byte, more connections than its cap, a silent client, one that
# never reads).  Both texts must pass Debian's "promtool check metrics".
#
# The client is the host's python3 and promtool the host's, from its /usr
# shared read-only by tools/vm/run --host-usr at $MQDEV_HOST_USR (as
# ynl_test.sh finds its python).  Prints TAP through kselftest's
# ktap_helpers.sh with the "# Totals:" line selftests/run.sh reads.
. "$(dirname "$0")/../kselftest/ktap_helpers.sh"
. "$(dirname "$0")/lib.sh"

root=${MQDEV_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}

ktap_print_header
need_mqdev
for p in mqctl mqdev-exporter-asan; do
	if ! command -v $p >/dev/null; then
		ktap_skip_all "$p is not in PATH (make all builds it in build/bin)"
		exit "$KSFT_SKIP"
	fi
done
usr=${MQDEV_HOST_USR:-/usr}
host_usr_libs
export PYTHONDONTWRITEBYTECODE=1
py=$usr/bin/python3 promtool=$usr/bin/promtool
for p in "$py" "$promtool"; do
	if [ ! -x "$p" ]; then
		ktap_skip_all "no $p (in the VM: tools/vm/run --host-usr; promtool" \
			"is Debian's prometheus package, make deps)"
		exit "$KSFT_SKIP"
	fi
done

t=stats-tools-$$
dir=$(mktemp -d)
exporter=
trap 'if [ -n "$exporter" ]; then kill $exporter 2>/dev/null; fi; rm -rf "$dir"
      mqctl topic delete $t >/dev/null 2>&1' EXIT

# One sample of a metric family in Prometheus text $1: its value.
sample() {
	grep -F "$2" "$1" | awk '{ print $NF }'
}

mqctl topic create $t --partitions 2 --capacity 64K >/dev/null
seq 1 30 | mqctl produce $t --partition 1 >/dev/null
mqctl consume $t --from earliest --timeout 300 --copy >/dev/null

mqctl stats $t --prometheus >"$dir/mqctl.prom"
ok $? "mqctl stats --prometheus"
"$promtool" check metrics <"$dir/mqctl.prom" >"$dir/promtool.out" 2>&1
ok $? "promtool check metrics accepts mqctl stats --prometheus" "$dir/promtool.out"

# Each line "N" is a value of 1 or 2 bytes: 40 bytes of header, padded to 48.
in=$(sample "$dir/mqctl.prom" "mqdev_partition_records_total{topic=\"$t\",partition=\"1\",direction=\"in\"}")
out=$(sample "$dir/mqctl.prom" "mqdev_partition_records_total{topic=\"$t\",partition=\"1\",direction=\"out\"}")
bytes=$(sample "$dir/mqctl.prom" "mqdev_partition_bytes_total{topic=\"$t\",partition=\"1\",direction=\"in\"}")
[ "$in" = 30 ] && [ "$out" = 30 ] && [ "$bytes" = $((30 * 48)) ]
ok $? "30 records in and out of partition 1, $((30 * 48)) bytes (got $in, $out, $bytes)"
in0=$(sample "$dir/mqctl.prom" "mqdev_partition_records_total{topic=\"$t\",partition=\"0\",direction=\"in\"}")
[ "$in0" = 0 ]
ok $? "none in partition 0"

mqctl stats $t --json >"$dir/stats.json"
"$py" -c '
import json, sys
s = json.load(open(sys.argv[1]))
p = {x["partition"]: x for x in s["partitions"]}
assert p[1]["records_in"] == 30 and p[1]["records_out"] == 30, p
assert p[1]["refused"]["full"] == 0
assert "module" not in s
' "$dir/stats.json" >"$dir/json.out" 2>&1
ok $? "mqctl stats --json" "$dir/json.out"
mqctl stats --json | "$py" -c '
import json, sys
s = json.load(sys.stdin)
assert s["module"]["topics"]["used"] >= 1, s["module"]
' >"$dir/json.out" 2>&1
ok $? "mqctl stats --json: the module's charges without a topic" "$dir/json.out"
mqctl stats $t | grep -q "^$t  *1  *30  *30 "
ok $? "mqctl stats: the text table"
mqctl stats no-such-topic-$$ >/dev/null 2>"$dir/err"
[ $? != 0 ] && grep -q "no such topic" "$dir/err"
ok $? "mqctl stats of a missing topic: an error"

(sleep 0.3; seq 1 10 | mqctl produce $t --partition 0 >/dev/null) &
mqctl top --once --interval 1 >"$dir/top.out"
rc=$?
wait
[ $rc = 0 ] && grep -q "^$t " "$dir/top.out" && grep -q "RECS-IN/s" "$dir/top.out"
ok $? "mqctl top --once" "$dir/top.out"
mqctl top -n 2 --interval 0.2 | grep -c "rates over" | grep -qx 2
ok $? "mqctl top -n 2: two refreshes"

# The exporter, from its sample config with another port and short timeouts.
port=19464
sed -e "s/^listen = .*/listen = 127.0.0.1:$port/" \
	"$root/tools/exporter/mqdev-exporter.conf" >"$dir/exporter.conf"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	mqdev-exporter-asan --config "$dir/exporter.conf" --max-connections 4 \
	--idle-timeout 2 2>"$dir/exporter.err" &
exporter=$!
i=0
while [ $i -lt 50 ] && ! grep -q serving "$dir/exporter.err"; do
	sleep 0.1
	i=$((i + 1))
done
"$py" "$(dirname "$0")/exporter_client.py" $port "$dir/exporter.prom" \
	>"$dir/client.out" 2>&1
ok $? "mqdev-exporter: good and bad clients" "$dir/client.out"
"$promtool" check metrics <"$dir/exporter.prom" >"$dir/promtool.out" 2>&1
ok $? "promtool check metrics accepts the exporter's /metrics" "$dir/promtool.out"
grep -q "mqdev_partition_records_total{topic=\"$t\",partition=\"1\",direction=\"in\"} 30" \
	"$dir/exporter.prom"
ok $? "the exporter counts what mqctl counts"
kill -TERM $exporter
wait $exporter
rc=$?
exporter=
[ $rc = 0 ] && ! grep -q "ERROR: \|runtime error" "$dir/exporter.err"
ok $? "mqdev-exporter: SIGTERM ends it cleanly, no sanitizer report" "$dir/exporter.err"
mqdev-exporter-asan --listen nonsense >/dev/null 2>"$dir/err"
[ $? = 2 ] && grep -q "ADDR:PORT" "$dir/err"
ok $? "mqdev-exporter: a bad --listen is refused with a reason"

ktap_set_plan $((KTAP_TESTNO - 1))
ktap_finished
