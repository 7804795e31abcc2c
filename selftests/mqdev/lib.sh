# SPDX-License-Identifier: GPL-2.0
# What mqdev's shell selftests share.  Sourced after kselftest's
# ktap_helpers.sh, and used after ktap_print_header: a missing requirement
# skips the whole test with its reason.

# Skip unless the module is loaded.
need_mqdev() {
	if [ ! -c /dev/mq ]; then
		ktap_skip_all "/dev/mq is missing: the mqdev module is not loaded (CONFIG_MQDEV=m)"
		exit "$KSFT_SKIP"
	fi
}

# need_cmd NAME WHERE: skip unless program NAME is in PATH; WHERE says what
# provides it.
need_cmd() {
	if ! command -v "$1" >/dev/null; then
		ktap_skip_all "$1 is not in PATH ($2)"
		exit "$KSFT_SKIP"
	fi
}

# The host's programs run from its /usr, which tools/vm/run --host-usr
# shares read-only at $MQDEV_HOST_USR: their libraries are found there too,
# not in the guest's initramfs.
host_usr_libs() {
	[ -n "${MQDEV_HOST_USR:-}" ] || return 0
	for d in "$MQDEV_HOST_USR"/lib/*-linux-gnu; do
		LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	done
	export LD_LIBRARY_PATH
}

# ok STATUS DESCRIPTION [FILE]: one TAP result, passed when STATUS is 0;
# a failure shows FILE (the output that explains it) as TAP comments.
ok() {
	if [ "$1" = 0 ]; then
		ktap_test_pass "$2"
	else
		ktap_test_fail "$2"
		if [ -n "${3:-}" ]; then
			sed 's/^/# /' "$3"
		fi
	fi
}
