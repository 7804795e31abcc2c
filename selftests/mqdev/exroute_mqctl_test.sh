#!/bin/sh
# mqctl and routing beyond keys: a headers exchange bound with --header and
# --match, messages with headers, describe showing the bindings' headers; a
# routing program read from a tcpdump -ddd file, a refused one with its
# reason, and detach.  TAP through kselftest's ktap_helpers.sh.
. "$(dirname "$0")/../kselftest/ktap_helpers.sh"
. "$(dirname "$0")/lib.sh"

ktap_print_header
need_mqdev
need_cmd mqctl "tools/mqctl of the mqdev repository"

t=exr-$$
dir=$(mktemp -d)
trap 'rm -rf "$dir"
      for x in $t-hdr $t-prog; do mqctl exchange delete $x; done >/dev/null 2>&1
      for q in orders eu other; do mqctl topic delete $t-$q; done \
	>/dev/null 2>&1' EXIT

for q in orders eu other; do
	mqctl topic create $t-$q >/dev/null || exit 1
done

mqctl exchange create $t-hdr --type headers >/dev/null &&
	mqctl exchange bind $t-hdr $t-orders --header kind=order \
		--header format=json --match all >/dev/null &&
	mqctl exchange bind $t-hdr $t-eu --header region=eu --header urgent \
		--match any >/dev/null
ok $? "headers exchange: bind with --header and --match"
echo o1 | mqctl produce --exchange $t-hdr --routing-key '' \
	--header kind=order --header format=json -v >"$dir/acks"
[ "$(wc -l <"$dir/acks")" = 1 ] && grep -q "^topic $t-orders " "$dir/acks"
ok $? "all: every header of the binding"
echo o2 | mqctl produce --exchange $t-hdr --routing-key '' \
	--header kind=order --header urgent=yes -v >"$dir/acks"
[ "$(wc -l <"$dir/acks")" = 1 ] && grep -q "^topic $t-eu " "$dir/acks"
ok $? "any: one header, a name alone matching any value"
[ "$(mqctl consume $t-eu --from earliest --timeout 300 --headers)" = \
	"$(printf 'kind=order,urgent=yes\to2')" ]
ok $? "the copy keeps its headers"
echo none | mqctl produce --exchange $t-hdr --routing-key '' 2>"$dir/err"
[ $? = 1 ] && grep -q "dropped" "$dir/err"
ok $? "no headers: no binding"
mqctl exchange describe $t-hdr >"$dir/desc"
grep -q "all kind=order,format=json" "$dir/desc" &&
	grep -q "any region=eu,urgent$" "$dir/desc"
ok $? "describe shows the bindings' headers and match"
mqctl --json exchange describe $t-hdr |
	grep -q '"match":"any","headers":\[\["region","eu"\],\["urgent",null\]\]'
ok $? "describe --json shows them as pairs"
mqctl exchange bind $t-hdr $t-other --header x=1 --match some 2>"$dir/err"
[ $? = 1 ] && grep -q "all or any" "$dir/err"
ok $? "a bad --match is refused"

# binding (key[0] % bindings): tcpdump -ddd's format, with a comment
mqctl exchange create $t-prog >/dev/null &&
	for q in orders eu other; do
		mqctl exchange bind $t-prog $t-$q --key $q >/dev/null || exit 1
	done
cat >"$dir/bykey.bpf" <<'BPF'
# ld [12]; tax; ld [288]; rsh #24; mod x; add #1; ret a
7
32 0 0 12
7 0 0 0
32 0 0 288
116 0 0 24
156 0 0 0
4 0 0 1
22 0 0 0
BPF
mqctl exchange program $t-prog "$dir/bykey.bpf" >/dev/null
ok $? "exchange program FILE"
echo m | mqctl produce --exchange $t-prog --routing-key orders --key 1 -v \
	>"$dir/acks"	# '1' is 49: binding 1
grep -q "^topic $t-eu " "$dir/acks"
ok $? "the program routes by the record key's first byte"
mqctl exchange describe $t-prog | grep -q "^Program: 7 instructions"
ok $? "describe shows the program"
printf '2\n48 0 0 32\n22 0 0 0\n' >"$dir/bad.bpf"	# ldb [32]; ret a
mqctl exchange program $t-prog "$dir/bad.bpf" 2>"$dir/err"
[ $? = 1 ] && grep -q "refused: instruction 0: a packet load" "$dir/err"
ok $? "a refused program: the reason"
printf '3\n6 0 0 0\n' >"$dir/short.bpf"
mqctl exchange program $t-prog "$dir/short.bpf" 2>"$dir/err"
[ $? = 1 ] && grep -q "count says 3" "$dir/err"
ok $? "a file that does not add up is refused before the kernel sees it"
mqctl exchange program $t-prog --detach >/dev/null &&
	echo m | mqctl produce --exchange $t-prog --routing-key orders --key 1 \
		-v >"$dir/acks" &&
	grep -q "^topic $t-orders " "$dir/acks"
ok $? "detach: the key routes again"

ktap_set_plan $((KTAP_TESTNO - 1))
ktap_finished
