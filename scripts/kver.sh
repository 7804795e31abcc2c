#!/bin/sh
# The release of the newest Debian 6.12 kernel installed for the guest.
ls /boot/vmlinuz-6.12*-amd64 2>/dev/null | sort -V | tail -n 1 | sed 's,^/boot/vmlinuz-,,'
