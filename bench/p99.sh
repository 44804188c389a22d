#!/bin/sh
# bench/p99.sh: latency of single posts at a fixed rate while storyd holds a
# few hundred thousand articles and writes snapshots, window by window.
#
#   bench/p99.sh [BUILD_DIR]         (default: build-bench)
#   env: PRELOAD (s of batches of 100 first, 35), WINDOWS (3), DURATION (s
#        per window, 16), RATE (posts/s, 3300: half of storyd's maximum
#        here when it was chosen; the target's half rate is half of the
#        day's single-post maximum in bench/http.sh, which ranged
#        6,252-9,321 posts/s on 2026-12-01), SNAPSHOT_LOG_BYTES
#        (268435456, the default),
#        SNAPSHOT_LOG_SHARE (0.25, the default), MAX_ARTICLES (bench/lib.sh:
#        1000000, and storyd grows through the windows; below what the
#        preload stores, it is at rest, each post evicting one, as a daemon
#        at max_articles is), BESIDE (a command run beside storyd through
#        the windows, to see what work on the other core costs its posts:
#        "chrt -i 0 sh -c 'while :; do :; done'" spins at idle priority;
#        it finds storyd's address in STORYD_ADDR: "build-bench/bench/loadgen
#        -a \$STORYD_ADDR -b 100 -c 16 -d 60 -w 0 -A 200000 -p b-" is a burst of
#        batches, which the posts must not queue behind)
#
# Each window prints loadgen's p50, p99 and p99.9; the bucket of storyd's own
# histogram of POST /v1/articles (from the request read to the reply sent)
# that holds its 99th percentile, "<=N" ms (what loadgen sees beyond it was
# spent before storyd read the post, in the kernel or in loadgen); how many
# snapshots storyd rebuilt during it (from its log): those it started then and one
# still under way from before, the TLB shootdowns the machine's cores
# received (/proc/interrupts): a thread of storyd that changes a mapping
# interrupts the loop's core too (include/pages.h), and the loop thread's
# share of the window on a CPU (busy %) and time spent ready to run but
# waiting for one (wait ms), from /proc/PID/task/PID/schedstat: what the
# machine, not storyd's own work, held the loop; and the log writes that
# kept the loop over 1 ms (writes, from storyd_log_write_duration_seconds).
# storyd runs on a temporary data directory with fsync everysec
# (bench/lib.sh). The first row, "floor", is the same rate sent to
# bench/floor before storyd starts: the p99 the machine and loadgen allow a
# server that only parses and answers. Only loopback.
set -eu

build=${1:-build-bench}
. "$(dirname "$0")/lib.sh"

# the same rate, connections and articles against the floor first, alone
# on the machine: the tail that the machine and loadgen give a server that
# only parses and answers (measured after storyd instead, it took the
# aftermath of storyd's exit, 9-11 ms against 1.9-2.6)
ahead=$(open_loop_articles "${RATE:-3300}" "${DURATION:-16}")
start_floor
floor_res=$("$loadgen" -a "$faddr" -b 1 -c 16 -d "${DURATION:-16}" -w 1 -r "${RATE:-3300}" \
    -A "$ahead" -p "f-" | grep '^RESULT')
kill "$floor_pid" 2>/dev/null || true

start_storyd

# the preload's articles made first too: 25,000 a second, more than storyd takes
pre=$("$loadgen" -a "$saddr" -b 100 -c 16 -d "${PRELOAD:-35}" -A $((${PRELOAD:-35} * 25000)) -p pre- |
    grep '^RESULT')
echo "preload: $(field "$pre" art_s) articles/s for ${PRELOAD:-35} s ($(field "$pre" made_live) made as sent), $(snapshots) snapshots"
if [ -n "${BESIDE:-}" ]; then
	# a group of its own, ended whole: a child it leaves behind would hold
	# this script's output open, and a pipe reading it would wait
	STORYD_ADDR=$saddr setsid sh -c "exec $BESIDE" &
	extra_groups="$extra_groups $!"
	echo "beside: $BESIDE"
fi
# TLB shootdowns received by all cores so far, or 0 where the kernel does not say
tlb() { awk '$1 == "TLB:" { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i } END { print n + 0 }' \
    /proc/interrupts 2>/dev/null || echo 0; }
# the loop's ns on a CPU and ns ready but waiting for one, and now in ns;
# "- -" where the kernel keeps no schedstat
loop_sched() {
	if [ -r "/proc/$storyd_pid/task/$storyd_pid/schedstat" ]; then
		echo "$(cut -d' ' -f1,2 "/proc/$storyd_pid/task/$storyd_pid/schedstat") $(date +%s%N)"
	else
		echo "- - -"
	fi
}
# busy %, wait ms between two loop_sched readings
loop_delta() {
	echo "$1 $2" | awk '$1 == "-" { print "- -"; exit }
	    { printf "%.0f %.1f\n", 100 * ($4 - $1) / ($6 - $3), ($5 - $2) / 1e6 }'
}
printf '%-7s %9s %9s %9s %10s %6s %8s %7s %8s %7s\n' window "p50 ms" "p99 ms" "p99.9 ms" \
    "storyd p99" snaps tlb "busy %" "wait ms" "writes"
printf '%-7s %9s %9s %9s %10s %6s %8s %7s %8s %7s\n' floor "$(field "$floor_res" p50_ms)" \
    "$(field "$floor_res" p99_ms)" "$(field "$floor_res" p999_ms)" - - - - - -
w=1
while [ $w -le "${WINDOWS:-3}" ]; do
	before=$(snapshots)
	running=$(snapshots_running)
	t0=$(tlb)
	sw=$(slow_writes)
	h0=$(post_buckets)
	l0=$(loop_sched)
	res=$("$loadgen" -a "$saddr" -b 1 -c 16 -d "${DURATION:-16}" -w 1 -r "${RATE:-3300}" \
	    -A "$ahead" -p "w$w-" | grep '^RESULT')
	l=$(loop_delta "$l0" "$(loop_sched)")
	printf '%-7s %9s %9s %9s %10s %6s %8s %7s %8s %7s\n' "$w" "$(field "$res" p50_ms)" \
	    "$(field "$res" p99_ms)" "$(field "$res" p999_ms)" "<=$(bucket_p99 "$h0" "$(post_buckets)")" \
	    "$(($(snapshots) - before + running))" "$(($(tlb) - t0))" ${l} "$(($(slow_writes) - sw))"
	w=$((w + 1))
done
