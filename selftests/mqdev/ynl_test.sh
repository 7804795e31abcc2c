#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The control channel through the kernel's own generic netlink client,
# tools/net/ynl/cli.py, knowing mqdev only from its spec
# (Documentation/netlink/specs/mqdev.yaml): groups listed and described
# (--dump group-get), one reset and one commit (--do), the statistics
# (--dump stats-get, --do module-stats-get), and refusals read
# back with their extended acks: an attribute the command does not take
# (FORCE on group-commit), a topic that does not exist, a missing attribute.
#
# cli.py is the one make regen (or make check) extracts into build/ynl, run
# from there as in a kernel tree.  In the VM the interpreter is the host's,
# whose /usr tools/vm/run --host-usr shares read-only at $MQDEV_HOST_USR.
# Prints TAP through kselftest's ktap_helpers.sh, with the "# Totals:" line
# selftests/run.sh reads; skips without /dev/mq, mqctl, cli.py or a python3
# with yaml.
. "$(dirname "$0")/../kselftest/ktap_helpers.sh"
. "$(dirname "$0")/lib.sh"

root=${MQDEV_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
ynl=$root/build/ynl
spec=Documentation/netlink/specs/mqdev.yaml

ktap_print_header
need_mqdev
need_cmd mqctl "tools/mqctl of the mqdev repository"
if [ ! -f "$ynl/tools/net/ynl/cli.py" ] || [ ! -e "$ynl/$spec" ]; then
	ktap_skip_all "$ynl has no tools/net/ynl/cli.py or spec: run make regen"
	exit "$KSFT_SKIP"
fi

# The host's python, from its /usr shared into the guest: its libraries
# are not in the guest's initramfs, its modules are found from its prefix.
if [ -n "${MQDEV_HOST_USR:-}" ]; then
	py=$MQDEV_HOST_USR/bin/python3
	host_usr_libs
else
	py=$(command -v python3)
fi
export PYTHONDONTWRITEBYTECODE=1
if [ -z "$py" ] || ! "$py" -c 'import yaml' 2>/dev/null; then
	ktap_skip_all "no python3 with the yaml module" \
		"(in the VM: tools/vm/run --host-usr, and python3-yaml on the host)"
	exit "$KSFT_SKIP"
fi
# Without jsonschema cli.py cannot check the spec against its schema.
schema=
if ! "$py" -c 'import jsonschema' 2>/dev/null; then
	ktap_print_msg "no jsonschema module: the spec is not checked against" \
		"its schema (python3-jsonschema)"
	schema=--no-schema
fi

t=ynl-test-$$
out=$(mktemp)
trap 'rm -f "$out"; mqctl topic delete $t >/dev/null 2>&1' EXIT

# cli.py as in a kernel tree; its output (JSON, or the error) in $out.
# The spec is checked against its schema by the first call only: the spec
# does not change between calls, and in the guest the check was about half
# of each call's time (seconds each under TCG).
cli() {
	(cd "$ynl" && "$py" tools/net/ynl/cli.py --spec "$spec" $schema \
		--output-json "$@") >"$out" 2>&1
	cli_status=$?
	schema=--no-schema
	return $cli_status
}

mqctl topic create $t --partitions 2 --capacity 64K >/dev/null ||
	ktap_exit_fail_msg "cannot create the topic $t"
seq 1 10 | mqctl produce $t --partition 0 &&
	seq 1 5 | mqctl produce $t --partition 1 ||
	ktap_exit_fail_msg "cannot produce to $t"

cli --do group-reset --json '{"group": "g", "topic": "'$t'", "reset": "earliest"}'
ok $? "do group-reset to earliest makes the group" "$out"

cli --dump group-get --json '{"group": "g", "topic": "'$t'"}'
# group-type after the attributes a consumer group's message had before it
grep -q '"group": "g", "topic": "'$t'", "generation": 0, "members": 0, "group-type": "consumer"' "$out" &&
	grep -q '"index": 0, "committed": 0, "position": 0, "first": 0, "end": 10, "lag": 10' "$out" &&
	grep -q '"index": 1, "committed": 0, "position": 0, "first": 0, "end": 5, "lag": 5' "$out"
ok $? "dump group-get describes it: both partitions, their ends and lag" "$out"

cli --do group-reset --json \
	'{"group": "g", "topic": "'$t'", "reset": "offset", "offset": 4, "partition": 0}' &&
	cli --do group-commit --json \
	'{"group": "g", "topic": "'$t'", "partition": 1, "offset": 2}'
ok $? "do group-reset to an offset in one partition, do group-commit" "$out"

cli --dump group-get --json '{"topic": "'$t'"}'
grep -q '"index": 0, "committed": 4, "position": 4, "first": 0, "end": 10, "lag": 6' "$out" &&
	grep -q '"index": 1, "committed": 2, "position": 2, "first": 0, "end": 5, "lag": 3' "$out"
ok $? "the positions moved: partition 0 to 4, partition 1 committed at 2" "$out"

cli --dump group-get
grep -q '"group": "g", "topic": "'$t'"' "$out"
ok $? "dump group-get lists every group, this one among them" "$out"

cli --do group-commit --json \
	'{"group": "g", "topic": "'$t'", "partition": 0, "offset": 1, "force": true}'
[ $? != 0 ] && grep -q 'Netlink error: Invalid argument' "$out" &&
	grep -q "'msg': 'Unknown attribute type'" "$out" &&
	grep -q "'bad-attr': '.force'" "$out"
ok $? "group-commit refuses FORCE (EINVAL), the extended ack names it" "$out"

cli --do group-reset --json \
	'{"group": "g", "topic": "no-such-topic-'$$'", "reset": "latest"}'
[ $? != 0 ] && grep -q 'Netlink error: No such file or directory' "$out" &&
	grep -q "'msg': 'no such topic'" "$out" &&
	grep -q "'bad-attr': '.topic'" "$out"
ok $? "a reset of a topic that does not exist: ENOENT, 'no such topic'" "$out"

cli --do group-commit --json '{"group": "g", "topic": "'$t'", "offset": 1}'
[ $? != 0 ] && grep -q "'msg': 'missing attribute: partition'" "$out" &&
	grep -q "'miss-type': 'partition'" "$out"
ok $? "a commit without its partition: the ack says which is missing" "$out"

cli --dump group-get --json '{"group": "g", "topic": "'$t'"}'
grep -q '"index": 0, "committed": 4, "position": 4,' "$out"
ok $? "the refused requests moved nothing" "$out"

# The statistics, decoded from the spec alone: the nests, their enums.
cli --dump stats-get --json '{"topic": "'$t'"}'
grep -q '"records-in": 10,' "$out" && grep -q '"records-in": 5,' "$out" &&
	grep -q '"gstats": {' "$out" && grep -q '"group": "g"' "$out"
ok $? "dump stats-get: each partition's records in, and the group" "$out"

cli --do module-stats-get
grep -q '"kind": "topics"' "$out" && grep -q '"kind": "txns"' "$out" &&
	grep -q '"user-limit":' "$out"
ok $? "do module-stats-get: every kind of charge, by its name" "$out"

ktap_set_plan $((KTAP_TESTNO - 1))
ktap_finished
