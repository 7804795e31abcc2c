#!/bin/sh
# The release of the newest Debian kernel of a series installed for the
# guest (its image, its modules and its headers): 6.12 unless another series
# is named, e.g. 6.1 (Debian 12's own).  A release (it has a '-') is printed
# as it is, so that callers may take either.
series=${1:-6.12}
case "$series" in *-*) echo "$series"; exit 0 ;; esac
for image in $(ls /boot/vmlinuz-"$series".*-amd64 2>/dev/null | sort -rV); do
	kver=${image#/boot/vmlinuz-}
	if [ -d "/lib/modules/$kver/kernel" ] &&
	   [ -d "/usr/src/linux-headers-$kver" ]; then
		echo "$kver"
		exit 0
	fi
done
