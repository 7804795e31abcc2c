#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The manual pages: built from Documentation/man/NAME.SECTION.scd with
# scdoc, linked, checked and installed.  The Makefile calls it:
#
#   man.sh page SRC OUT        scdoc SRC into OUT, without the empty
#                              paragraphs scdoc leaves (mandoc warns of them)
#   man.sh links DIR SRC...    a ".so" page in DIR for every other name in the
#                              NAME section of each SRC: mqdev_produce.3 says
#                              ".so man3/mqdev_producer.3", so that
#                              "man mqdev_produce" finds the family's page
#                              (DIR/manN are links to DIR itself, so that
#                              MANPATH=DIR man mqdev_produce works too)
#   man.sh check DIR MQCTL MAP HEADER
#                              every page lints clean (mandoc -T lint
#                              -W warning, groff -ww) and renders; every
#                              link has its page; every function libmqdev
#                              exports (MAP) or defines inline (HEADER) has a
#                              page with its prototype; every mqctl command
#                              and option in MQCTL's --help is in mqctl(1);
#                              every whole example program compiles ($CC,
#                              $CPPFLAGS for the headers)
#   man.sh install DIR MANDIR  every page and link into MANDIR/manN
set -eu

die() {
	echo "man: $*" >&2
	exit 1
}

# scdoc opens every section and block with .P, also where nothing follows
# (before .SH, after .SH, before .RE and another .SH), and blank lines
# outside examples: drop those, keep the rest.  What is left is what scdoc meant, and mandoc has nothing to say.
tidy() {
	awk '
	/^\.P$/ { if (!heading) pending = 1; next }
	/^\.(SH|SS)( |$)/ { pending = 0; heading = 1; print; next }
	/^\.RE$/ { print; next }
	# .TH resets hyphenation: names like mqdev_producer_new must not break
	/^\.TH / { print; print ".nh"; next }
	/^\.nf$/ { nofill = 1 }
	/^\.fi$/ { nofill = 0 }
	/^$/ && !nofill { next }
	{
		if (pending)
			print ".P"
		pending = 0
		heading = 0
		print
	}'
}

cmd_page() {
	src=$1 out=$2
	command -v scdoc >/dev/null || die "scdoc not found (make deps)"
	mkdir -p "$(dirname "$out")"
	scdoc <"$src" >"$out.tmp" || { rm -f "$out.tmp"; die "scdoc $src failed"; }
	tidy <"$out.tmp" >"$out"
	rm -f "$out.tmp"
}

# The names of a source's NAME section: "a, b, c - what they do"
names_of() {
	awk '/^# NAME/ { on = 1; next }
	     on && /^#/ { exit }
	     on && NF { sub(/ +- .*/, ""); gsub(/,/, " "); print; exit }' "$1"
}

is_link() {
	head -n 1 "$1" | grep -q '^\.so '
}

cmd_links() {
	dir=$1
	shift
	mkdir -p "$dir"
	# Links go first, made again below; so do pages whose source is gone.
	for f in "$dir"/*.[1-8]; do
		[ -e "$f" ] || continue
		if is_link "$f" || ! echo " $* " | grep -q "/$(basename "$f").scd "; then
			rm -f "$f"
		fi
	done
	for src in "$@"; do
		page=$(basename "$src" .scd)		# mqdev_producer.3
		sect=${page##*.}
		for name in $(names_of "$src"); do
			[ "$name.$sect" = "$page" ] && continue
			[ -e "$dir/$name.$sect" ] &&
				die "$name.$sect: named by $src and another page"
			echo ".so man$sect/$page" >"$dir/$name.$sect"
		done
		# DIR as a manpath: MANPATH=DIR man NAME follows the links too
		ln -sfn . "$dir/man$sect"
	done
}

# The names libmqdev gives: exported symbols and inline functions.
lib_names() {
	map=$1 header=$2
	sed -n '/global:/,/local:/p' "$map" |
		sed -n 's/^[[:space:]]*\(mqdev_[a-z0-9_]*\);.*/\1/p'
	sed -n 's/^static inline .*[ *]\(mqdev_[a-z0-9_]*\)(.*/\1/p' "$header"
	# the one macro a caller must know
	grep -q '^#define LIBMQDEV_OPTS(' "$header" && echo LIBMQDEV_OPTS
	return 0
}

render() {
	mandoc -T utf8 -O width=80 "$1" | sed "s/.\x08//g"
}

check_lint() {
	dir=$1
	n=0 before=$failed
	for f in "$dir"/*.[1-8]; do
		[ -e "$f" ] || die "no pages in $dir (make man)"
		if is_link "$f"; then
			target=$(sed -n '1s/^\.so man[1-8]\///p' "$f")
			if [ ! -f "$dir/$target" ] || is_link "$dir/$target"; then
				fail "$f: links to $target, which is no page"
			fi
			continue
		fi
		if ! out=$(mandoc -T lint -W warning "$f" 2>&1) || [ -n "$out" ]; then
			fail "$f: mandoc -T lint -W warning:
${out:-failed}"
		fi
		if ! out=$(groff -t -man -ww -z "$f" 2>&1) || [ -n "$out" ]; then
			fail "$f: groff -ww:
${out:-failed}"
		fi
		# man(1) renders it too, and it says something.
		if ! out=$(MANWIDTH=80 man -l "$f" 2>&1 >/dev/null) ||
		   [ -n "$out" ]; then
			fail "$f: man -l:
${out:-failed}"
		fi
		[ "$(render "$f" | grep -c .)" -gt 10 ] ||
			fail "$f: renders to (nearly) nothing"
		n=$((n + 1))
	done
	[ "$failed" != "$before" ] || echo "man: $n pages lint clean and render"
}

check_lib() {
	dir=$1 map=$2 header=$3
	n=0 before=$failed
	for name in $(lib_names "$map" "$header"); do
		n=$((n + 1))
		f=$dir/$name.3
		if [ ! -e "$f" ]; then
			fail "libmqdev's $name has no page (add it to a family's NAME and SYNOPSIS)"
			continue
		fi
		is_link "$f" && f=$dir/$(sed -n '1s/^\.so man3\///p' "$f")
		# Its prototype (or macro) is in the page's SYNOPSIS.
		render "$f" | sed -n '/^SYNOPSIS/,/^[A-Z]/p' |
			grep -q "[ *]$name(" ||
			fail "$name: no prototype in the SYNOPSIS of $(basename "$f")"
	done
	[ "$n" -gt 0 ] || fail "no libmqdev names found in $map"
	[ "$failed" != "$before" ] ||
		echo "man: $n libmqdev functions, each with a page"
}

# mqctl's commands: "  topic create|list|describe|delete   ..." and
# "  produce TOPIC   ..." in its --help; each command's --help its options.
mqctl_commands() {
	"$1" --help | awk '/^  [a-z]/ {
		sub(/^  /, ""); sub(/  .*/, ""); split($0, w, " ")
		print w[1], (w[2] ~ /^[a-z|-]+$/ ? w[2] : "")
	}'
}

check_mqctl() {
	mqctl=$1 page=$2
	[ -x "$mqctl" ] || die "$mqctl: not built"
	text=$(render "$page")
	synopsis=$(echo "$text" | sed -n '/^SYNOPSIS/,/^[A-Z]/p')
	cmds=$(mqctl_commands "$mqctl") || fail "$mqctl --help failed"
	[ -n "$cmds" ] || fail "no commands in $mqctl --help"
	n=0
	echo "$cmds" | {
		while read -r cmd subs; do
			n=$((n + 1))
			for sub in $(echo "$subs" | tr '|' ' ') ""; do
				echo "$synopsis" | grep -q "mqctl $cmd${sub:+ $sub}\b" ||
					fail "mqctl(1)'s SYNOPSIS has no 'mqctl $cmd${sub:+ $sub}'"
			done
			usage=$("$mqctl" "$cmd" --help 2>&1) ||
				fail "mqctl $cmd --help failed: $usage"
			for opt in $(echo "$usage" | grep -o -- '--[a-z][a-z-]*' | sort -u); do
				echo "$text" | grep -q -- "$opt\([^a-z-]\|\$\)" ||
					fail "mqctl(1) does not say what 'mqctl $cmd $opt' does"
			done
		done
		[ "$failed" = 0 ] || exit 1
		echo "man: $n mqctl commands, each with its options in mqctl(1)"
	} || failed=1
}

# A whole program in a page's EXAMPLES (one with main()) compiles, warning
# free, against the headers: the API it shows is the API there is.
check_examples() {
	dir=$1
	n=0 before=$failed
	for f in "$dir"/*.[1-8]; do
		is_link "$f" && continue
		src=$(render "$f" | awk '
			/^EXAMPLES/ { on = 1; next }
			/^[A-Z]/ { on = 0 }
			on && /^           / { sub(/^           /, ""); buf = buf $0 "\n"; next }
			on && NF { if (buf ~ /int main\(/) exit
				   buf = "" }
			END { if (buf ~ /int main\(/) printf "%s", buf }')
		[ -n "$src" ] || continue
		n=$((n + 1))
		# shellcheck disable=SC2086 # CPPFLAGS: words, as make has them
		if ! out=$(printf '%s\n' "$src" | ${CC:-cc} ${CPPFLAGS:-} \
			   -Wall -Wextra -Werror -fsyntax-only -x c - 2>&1); then
			fail "$f: its example does not compile:
$out"
		fi
	done
	[ "$failed" != "$before" ] ||
		echo "man: $n example programs compile"
}

failed=0
fail() {
	echo "man: $*" >&2
	failed=1
}

cmd_check() {
	dir=$1 mqctl=$2 map=$3 header=$4
	command -v mandoc >/dev/null || die "mandoc not found (make deps)"
	check_lint "$dir"
	check_lib "$dir" "$map" "$header"
	check_examples "$dir"
	check_mqctl "$mqctl" "$dir/mqctl.1"
	[ "$failed" = 0 ] || die "the manual pages need work (see above)"
}

cmd_install() {
	dir=$1 mandir=$2
	for f in "$dir"/*.[1-8]; do
		[ -e "$f" ] || die "no pages in $dir (make man)"
		sect=${f##*.}
		install -D -m 644 "$f" "$mandir/man$sect/$(basename "$f")"
	done
}

[ $# -ge 1 ] || die "usage: man.sh page|links|check|install ..."
cmd=$1
shift
case $cmd in
page)		[ $# = 2 ] || die "usage: man.sh page SRC OUT"; cmd_page "$@" ;;
links)		[ $# -ge 2 ] || die "usage: man.sh links DIR SRC..."; cmd_links "$@" ;;
check)		[ $# = 4 ] || die "usage: man.sh check DIR MQCTL MAP HEADER"
		cmd_check "$@" ;;
install)	[ $# = 2 ] || die "usage: man.sh install DIR MANDIR"
		cmd_install "$@" ;;
tidy)		tidy ;;
*)		die "unknown command '$cmd'" ;;
esac
