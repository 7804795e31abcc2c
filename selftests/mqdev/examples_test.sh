#!/bin/sh
# The examples in tools/examples, each run on fresh topics: each shows one
# delivery guarantee and exits non-zero if the guarantee did not hold.
# Prints TAP through kselftest's ktap_helpers.sh, with the "# Totals:" line
# selftests/run.sh reads; skips without /dev/mq, mqctl or the examples.
. "$(dirname "$0")/../kselftest/ktap_helpers.sh"
. "$(dirname "$0")/lib.sh"

ex=$(cd "$(dirname "$0")/.." && pwd)/examples
ktap_print_header
need_mqdev
if ! command -v mqctl >/dev/null || [ ! -x "$ex/txn_pipeline" ]; then
	ktap_skip_all "mqctl or $ex is missing (tools/ of the mqdev repository)"
	exit "$KSFT_SKIP"
fi

t=ex-$$
dir=$(mktemp -d)
trap 'rm -rf "$dir"; for s in idem alo in out orders; do
	mqctl topic delete $t-$s >/dev/null 2>&1; done' EXIT

for s in idem alo in out orders; do
	mqctl topic create $t-$s >/dev/null ||
		ktap_exit_fail_msg "cannot create the topic $t-$s"
done

"$ex/idempotent_retry" $t-idem >"$dir/idem"
ok $? "idempotent_retry runs"
[ "$(grep -c 'a duplicate: not appended again' "$dir/idem")" = 4 ] &&
	grep -q "old instance now gets: Stale file handle" "$dir/idem" &&
	grep -q "next sequence number in partition 0: 4" "$dir/idem" &&
	[ "$(mqctl consume $t-idem --from earliest --timeout 300 | wc -l)" = 4 ]
ok $? "idempotent_retry: a resent batch is appended once, a restart fences"

"$ex/at_least_once" $t-alo >"$dir/alo"
ok $? "at_least_once: a crash before the commit repeats, loses nothing"
grep -q "2 repeats, 0 missing" "$dir/alo"
ok $? "at_least_once says so"

"$ex/txn_pipeline" $t-in $t-out >"$dir/pipe"
ok $? "txn_pipeline: every double exactly once across a crash"
grep -q "output: 10 records, 10 of 10 doubles exactly once, [1-9]" "$dir/pipe"
ok $? "txn_pipeline: the crashed batch was aborted"

"$ex/order_cart" $t-orders "$dir" >"$dir/cart"
ok $? "order_cart: orders 1 and 2 reach the cart, order 3 never"
grep -q "order 2: the order is in the database: commit" "$dir/cart" &&
	grep -q "order 3: no such order: abort" "$dir/cart"
ok $? "order_cart: the checker decided both orphans"

sed 's/^/# /' "$dir/idem" "$dir/alo" "$dir/pipe" "$dir/cart"
ktap_set_plan $((KTAP_TESTNO - 1))
ktap_finished
