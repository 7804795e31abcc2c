#!/bin/sh
# Plot mqbench's throughput results: messages per second against message
# size, one line per peer, both axes logarithmic.
#   tools/mqbench/plot.sh results.json out.png
set -eu
json=$1 png=$2
dat=$(mktemp)
trap 'rm -f "$dat"' EXIT

# One result per line: {"scenario":"throughput","peer":"P","size":S,...
grep '"scenario":"throughput"' "$json" |
	sed -n 's/.*"peer":"\([^"]*\)","size":\([0-9]*\),"msgs_per_s":\([0-9]*\).*/\1 \2 \3/p' |
	sort -k1,1 -k2,2n |
	awk 'BEGIN { peer = "" }
	     $1 != peer { if (peer != "") printf "\n\n"; peer = $1;
			  printf "\"%s\"\n", peer }
	     { print $2, $3 }' >"$dat"
cpu=$(sed -n 's/.*"cpu":"\([^"]*\)".*/\1/p' "$json" | head -n 1)
kernel=$(sed -n 's/.*"kernel":"\([^"]*\)".*/\1/p' "$json" | head -n 1)

gnuplot <<GP
set terminal pngcairo size 900,560 noenhanced
set output "$png"
set title "1 producer -> 1 consumer, every byte checked\n$cpu, $kernel, 2 vCPUs"
set xlabel "message size (bytes)"
set ylabel "messages per second"
set logscale xy
set xtics ("64" 64, "1 KiB" 1024, "16 KiB" 16384)
set grid
set key outside right
plot for [i=0:*] "$dat" index i using 1:2 with linespoints lw 2 title columnheader(1)
GP
