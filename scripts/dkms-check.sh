#!/bin/sh
# make dkms-check: DKMS adds, builds and installs mqdev for each kernel the
# VM boots (Debian's 6.12 and 6.1), then each kernel's guest loads the
# module DKMS installed and runs a quick test.  Nothing of the host's
# changes: DKMS's trees (--dkmstree, --sourcetree, --installtree) are all in
# build/dkms, depmod is not run (--no-depmod), and the module is not signed
# (sign_file names no program), so DKMS makes no key in /var/lib/dkms.
# DKMS's install wants root.
set -eu
cd "$(dirname "$0")/.."
root=$PWD
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' dkms.conf)
want=$(sed -n 's/^VERSION\t*:= *//p' Makefile)
fail() { echo "dkms-check: $*" >&2; exit 1; }

[ "$version" = "$want" ] ||
	fail "dkms.conf's PACKAGE_VERSION $version is not the Makefile's $want"
[ "$(id -u)" = 0 ] || fail "dkms install must run as root"
command -v dkms >/dev/null || fail "no dkms; run 'make deps' as root"

tree=$root/build/dkms
rm -rf "$tree"
mkdir -p "$tree/var" "$tree/install"
make -s dkms-src DKMS_SRC="$tree/src"
export sign_file=/nonexistent/sign-file
dkms="dkms --dkmstree $tree/var --sourcetree $tree/src --installtree $tree/install --no-depmod"

$dkms add "mqdev/$version" >"$tree/log" 2>&1 ||
	{ cat "$tree/log" >&2; fail "dkms add failed"; }
for series in ${DKMS_KERNELS:-6.12 6.1}; do
	kver=$(scripts/kver.sh "$series")
	[ -n "$kver" ] || fail "no Debian $series kernel and headers; make deps"
	mkdir -p "$tree/install/$kver"
	for action in build install; do
		$dkms "$action" "mqdev/$version" -k "$kver" >>"$tree/log" 2>&1 || {
			cat "$tree/log" >&2
			cat "$tree/var/mqdev/$version/build/make.log" >&2 || true
			fail "dkms $action for $kver failed"
		}
	done
	$dkms status "mqdev/$version" -k "$kver" | grep -q ': installed$' ||
		fail "dkms does not call mqdev installed for $kver"
	# DKMS compresses the module as the kernel's own are (6.12: xz); the
	# guest's insmod takes it plain.
	ko=$(find "$tree/install/$kver" -name 'mqdev.ko*')
	[ -n "$ko" ] || fail "dkms installed no mqdev.ko for $kver"
	mkdir -p "$tree/vm/$kver"
	case "$ko" in
	*.xz) xz -dc "$ko" ;;
	*) cat "$ko" ;;
	esac >"$tree/vm/$kver/mqdev.ko"
	echo "dkms-check: $kver: built and installed as $ko"
	tools/vm/run --kver "$kver" --module "$tree/vm/$kver/mqdev.ko" -- \
		selftests/run.sh uapi_test
done
