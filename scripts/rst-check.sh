#!/bin/sh
# The design page must be valid reStructuredText, as the kernel's
# Documentation/ is: docutils reports every malformed table, bad heading
# and broken markup; any report fails the check.
set -eu
cd "$(dirname "$0")/.."
status=0
for f in Documentation/*.rst; do
	out=$(python3 - "$f" <<'PY'
import io, sys
import docutils.core
err = io.StringIO()
docutils.core.publish_doctree(open(sys.argv[1]).read(), source_path=sys.argv[1],
                              settings_overrides={"warning_stream": err,
                                                  "report_level": 2})
sys.stdout.write(err.getvalue())
PY
)
	if [ -n "$out" ]; then
		printf '%s\n' "$out" >&2
		status=1
	fi
done
[ $status = 0 ] && echo "rst-check: Documentation/*.rst is valid reStructuredText"
exit $status
