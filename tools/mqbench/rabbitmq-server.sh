#!/bin/sh
# Start Debian's rabbitmq-server in the benchmark's guest, in the foreground,
# from the host's /usr that tools/vm/run --host-usr shares read-only at
# $MQDEV_HOST_USR (or from /usr).  mqbench (tools/mqbench/rabbitmq.c) runs
# it in a process group of its own and kills the group to stop it.
#
#   rabbitmq-server.sh DIR PORT
#
# DIR (writable, new or empty: mqbench makes a fresh one) gets everything the node writes: its home
# (the Erlang cookie), Mnesia database, logs, an empty config and an empty
# plugin list.  The node is rabbit@localhost, AMQP on 127.0.0.1:PORT.
#
# Why each step:
#   - Debian's erl script names /usr/lib/erlang outright: an erl of our own,
#     first in PATH, points ROOTDIR and BINDIR at the shared tree;
#   - the shared tree's libraries are not in the guest's library path;
#   - only the applications the rabbit application needs, as the plugins
#     directory: at boot RabbitMQ looks for feature flags in every module
#     of every application in it, and Debian's has 70 (1,262 modules): on
#     the host that scan is 15 s of the 30 s start-up, under TCG minutes;
#   - epmd started first and waited for: the node's own attempt to start
#     it does not find it in PATH, and without it the node dies with
#     "nodistribution";
#   - in the guest (MQDEV_VM=1; never on a host), "localhost" must resolve
#     and be the host name: the guest has no /etc/hosts and no host name.
set -eu

[ $# = 2 ] || { echo "usage: rabbitmq-server.sh DIR PORT" >&2; exit 2; }
dir=$1 port=$2
usr=${MQDEV_HOST_USR:-/usr}
erts=$(ls -d "$usr"/lib/erlang/erts-* 2>/dev/null | tail -n 1)
home=$(ls -d "$usr"/lib/rabbitmq/lib/rabbitmq_server-* 2>/dev/null | tail -n 1)
if [ -z "$erts" ] || [ -z "$home" ]; then
	echo "rabbitmq-server.sh: no Erlang or rabbitmq-server in $usr" \
	     "(Debian's rabbitmq-server; in the VM tools/vm/run --host-usr)" >&2
	exit 1
fi

mkdir -p "$dir/bin" "$dir/home" "$dir/mnesia" "$dir/log" \
	 "$dir/rabbitmq/sbin" "$dir/rabbitmq/plugins"
cat >"$dir/bin/erl" <<ERL
#!/bin/sh
ROOTDIR=$usr/lib/erlang BINDIR=$erts/bin EMU=beam PROGNAME=erl
export ROOTDIR BINDIR EMU PROGNAME
exec "\$BINDIR/erlexec" "\$@"
ERL
chmod +x "$dir/bin/erl"

# The applications rabbit needs, transitively, from their .app files;
# Erlang/OTP's own are in the erlang tree already.
app_deps() {
	cat "$1"/ebin/*.app | tr -d '\n' |
		grep -o '{applications, *\[[^]]*\]' |
		sed 's/.*\[//; s/\]//; s/,/ /g'
}
todo=rabbit
while [ -n "$todo" ]; do
	next=
	for app in $todo; do
		[ -e "$dir/rabbitmq/plugins/$app" ] && continue
		src=$(ls -d "$home/plugins/$app"-[0-9]* 2>/dev/null | tail -n 1)
		[ -n "$src" ] || continue
		ln -s "$src" "$dir/rabbitmq/plugins/$app"
		next="$next $(app_deps "$src")"
	done
	todo=$next
done
# RABBITMQ_HOME is the parent of the scripts' directory: ours, so that
# its plugins directory is the one above
ln -s "$home/sbin/rabbitmq-defaults" "$dir/rabbitmq/sbin/"
echo '[].' >"$dir/enabled_plugins"
: >"$dir/rabbitmq.conf"

if [ "${MQDEV_VM:-}" = 1 ]; then
	grep -qs '[[:space:]]localhost' /etc/hosts ||
		echo '127.0.0.1 localhost' >>/etc/hosts
	[ -e /etc/nsswitch.conf ] || echo 'hosts: files' >/etc/nsswitch.conf
	hostname localhost
fi

export PATH="$dir/bin:$erts/bin:$PATH" HOME="$dir/home"
export LD_LIBRARY_PATH="$usr/lib/x86_64-linux-gnu"
export RABBITMQ_SCRIPTS_DIR="$dir/rabbitmq/sbin"
export RABBITMQ_PLUGINS_DIR="$dir/rabbitmq/plugins"
export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
export RABBITMQ_PID_FILE="$dir/pid"
export RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log"
export RABBITMQ_NODENAME=rabbit@localhost
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$port"
export ERL_EPMD_ADDRESS=127.0.0.1

epmd &
i=0
until epmd -names >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 600 ] || { echo "rabbitmq-server.sh: epmd did not start" >&2; exit 1; }
	sleep 0.1
done
echo "rabbitmq-server.sh: epmd up; starting $home" >&2
exec "$home/sbin/rabbitmq-server"
