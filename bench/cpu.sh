#!/bin/sh
# bench/cpu.sh: where an article's CPU goes, thread by thread, in a closed
# loop, next to what the floor (bench/floor) spends on a request of the same
# article, and how idle the machine was meanwhile. It answers what bounds the
# rate: one thread (the loop busy the whole run while the machine idles) or
# both cores (no idle left, so only less CPU an article helps).
#
#   bench/cpu.sh [BUILD_DIR]         (default: build-bench)
#   env: PRELOAD (s of batches of 100 from empty first, 12), DURATION (s per
#        load, 10), CONNS (16), LOADS (articles a request, "1 100"),
#        SNAPSHOT_LOG_BYTES and SNAPSHOT_LOG_SHARE (bench/lib.sh: the defaults)
#        FLOOR_ARGS (bench/floor's options: -l decodes as storyd does)
#
# Columns are microseconds of CPU an article stored: storyd's loop, its
# second fingerprinter (ahead), its decode thread, the rest of storyd (the
# snapshot rebuild, the log's fsync thread, threads that ended), storyd in
# all, and loadgen; idle is the share of the machine's cores no task used,
# taken from when loadgen has made its articles to when it ends. The last
# line is a ceiling: the most single posts a second storyd and loadgen
# could reach if they used every cycle of the cores at the CPU a post took,
# over the floor's rate (measured after storyd, with the same loadgen).
# storyd runs as bench/lib.sh starts it (fsync everysec, max_articles
# 1,000,000, a fresh data directory).
set -eu

build=${1:-build-bench}
. "$(dirname "$0")/lib.sh"
duration=${DURATION:-10}
conns=${CONNS:-16}
tck=$(getconf CLK_TCK)

# cpu_of PID: "name ns" for each thread, then "all ns" for the process,
# threads that ended included (utime + stime, in clock ticks)
cpu_of() {
	for t in /proc/"$1"/task/*; do
		printf '%s %s\n' "$(cat "$t/comm" 2>/dev/null || echo gone)" \
		    "$(cut -d' ' -f1 "$t/schedstat" 2>/dev/null || echo 0)"
	done
	awk -v tck="$tck" '{ sub(/.*\) /, ""); printf "all %.0f\n", ($12 + $13) * 1e9 / tck }' \
	    "/proc/$1/stat"
}

# machine: total and idle jiffies of all cores
machine() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $5 + $6 }' /proc/stat; }

# run ADDR PID ARGS...: loadgen on ADDR, with PID's CPU and the machine's
# idle share before and after; prints art_s, then "name us" per article
run() {
	addr=$1 pid=$2
	shift 2
	"$loadgen" -a "$addr" -d "$duration" -w 0 -c "$conns" "$@" > "$tmp/lg.out" &
	lg=$!
	# from when loadgen has made its articles and starts sending
	wait_line "$tmp/lg.out" "^made " > /dev/null || exit 1
	cpu_of "$pid" > "$tmp/c0"
	m0=$(machine)
	wait "$lg"
	m1=$(machine)
	cpu_of "$pid" > "$tmp/c1"
	res=$(grep '^RESULT' "$tmp/lg.out")
	art=$(field "$res" art_s)
	n=$(awk -v a="$art" -v d="$duration" 'BEGIN { printf "%.0f", a * d }')
	echo "art_s $art"
	echo "loadgen $(awk -v c="$(field "$res" cpu_s)" -v n="$n" 'BEGIN { printf "%.1f", c * 1e6 / n }')"
	echo "$m0 $m1" | awk '{ printf "idle %.1f\n", 100 * ($4 - $2) / ($3 - $1) }'
	awk -v n="$n" 'NR == FNR { a[$1] += $2; next } { b[$1] += $2 }
	    END { for (k in b) printf "%s %.1f\n", k, (b[k] - a[k]) / 1e3 / n }' "$tmp/c0" "$tmp/c1"
}

# col FILE NAME: NAME's value in a run's output, 0 when absent
col() { awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }' "$1"; }

start_storyd
"$loadgen" -a "$saddr" -b 100 -c 16 -d "${PRELOAD:-12}" -A $((${PRELOAD:-12} * 30000)) \
    -p pre- > /dev/null
echo "storyd $saddr (pid $storyd_pid), after ${PRELOAD:-12} s of batches of 100; $(nproc) cores;" \
    "$duration s a load, $conns connections"
printf '\n%-6s %8s %7s %7s %7s %7s %7s %8s %6s\n' "load" "art/s" "loop" "ahead" "decode" \
    "other" "storyd" "loadgen" "idle%"
for b in ${LOADS:-1 100}; do
	run "$saddr" "$storyd_pid" -b "$b" -A $((duration * 30000)) -p "b$b-" > "$tmp/r$b"
	loop=$(col "$tmp/r$b" storyd)
	ahead=$(col "$tmp/r$b" storyd-ahead)
	dec=$(col "$tmp/r$b" storyd-decode)
	all=$(col "$tmp/r$b" all)
	awk -v b="$b" -v a="$(col "$tmp/r$b" art_s)" -v l="$loop" -v h="$ahead" -v d="$dec" \
	    -v t="$all" -v g="$(col "$tmp/r$b" loadgen)" -v i="$(col "$tmp/r$b" idle)" \
	    'BEGIN { printf "%-6s %8.0f %7.1f %7.1f %7.1f %7.1f %7.1f %8.1f %6.1f\n",
	        b, a, l, h, d, t - l - h - d, t, g, i }'
done

start_floor
run "$faddr" "$floor_pid" -b 1 -A $((duration * 30000)) -p f- > "$tmp/floor"
awk -v a="$(col "$tmp/floor" art_s)" -v t="$(col "$tmp/floor" all)" \
    -v g="$(col "$tmp/floor" loadgen)" -v i="$(col "$tmp/floor" idle)" \
    'BEGIN { printf "%-6s %8.0f %7.1f %7s %7s %7s %7.1f %8.1f %6.1f\n",
        "floor", a, t, "", "", "", t, g, i }'
if [ -f "$tmp/r1" ]; then
	awk -v s="$(col "$tmp/r1" all)" -v g="$(col "$tmp/r1" loadgen)" -v c="$(nproc)" \
	    -v r="$(col "$tmp/r1" art_s)" -v f="$(col "$tmp/floor" art_s)" 'BEGIN {
		top = c * 1e6 / (s + g)
		printf "\nsingle posts: storyd %.0f/s, %.3f of the floor; at %.1f us of storyd and", r, r / f, s
		printf " loadgen CPU a post, %d cores give at most %.0f/s: %.3f of the floor\n", c, top, top / f
	}'
fi
