#!/bin/bash
# make check's test of tools/vm/host-profile: the report must find TCG's
# indirect-branch helper in the host's qemu (Debian's is stripped, so the
# names come from qemu's own table of helpers), and a short real run of two
# peers must give each a table whose rows add up to about the mean round
# trip the guest measured: the vCPU threads take turns, so their CPU a
# round trip is of the order of the round trip, not a tenth or ten times it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
t="$root/build/host-profile-test"
fail() { echo "host-profile-test: $*" >&2; exit 1; }

"$here/host-profile-report" --helpers | grep -q ' helper_lookup_tb_ptr$' ||
	fail "no helper_lookup_tb_ptr in $(command -v qemu-system-x86_64)"
"$here/host-profile" --peers mqdev,posix-mq --count 1000000 --seconds 2 \
	--out "$t" >"$t.out" 2>&1 || { cat "$t.out" >&2; fail "it failed"; }
python3 - "$t.out" <<'PY' || { cat "$t.out" >&2; fail "a bad table"; }
import re, sys
text = open(sys.argv[1]).read()
rows = {m.group(1): [float(x) for x in m.group(2).split(" | ")]
        for m in re.finditer(r"^\| ([A-Za-z ]+) \| ([\d. |]+) \|$", text, re.M)}
mean = dict(re.findall(r"(\S+) ([\d.]+)(?:,|$)",
                       text.split("mean round trip, us: ")[1]))
for i, peer in enumerate(("mqdev", "posix-mq")):
    assert rows["guest code"][i] > 0 and rows["indirect branches"][i] > 0
    assert rows["host kernel"][i] > 0, peer
    parts = sum(v[i] for k, v in rows.items() if k != "total")
    assert abs(parts - rows["total"][i]) < 0.5, (peer, parts)
    ratio = rows["total"][i] / float(mean[peer])
    assert 0.4 < ratio < 2.5, (peer, ratio)
PY
echo "host-profile-test: qemu's helpers are named and a real run adds up"
