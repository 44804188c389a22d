#!/bin/sh
# bench/sustained.sh: storyd's CPU per ingested article under a steady
# stream of batches, snapshot rebuilds included, once it holds many articles.
#
#   bench/sustained.sh [BUILD_DIR]   (default: build-bench)
#   env: HELD (articles posted first, batches of 100 as fast as storyd
#        takes them, 600000), RATE (articles/s after that, 4000), WINDOWS
#        (3), DURATION (s per window, 60), SNAPSHOT_LOG_SHARE (0.25, the
#        default), SNAPSHOT_LOG_BYTES (268435456, the default)
#
# Each window posts batches of 100 at RATE, open loop, below what storyd
# can take, so that rebuilds (SCHED_IDLE: they starve while the loop is
# saturated) finish; it prints storyd's CPU time (user + system, every
# thread, from /proc) per article posted, the snapshots started and the
# articles posted so far (max_articles 1,000,000: the oldest go beyond).
# A rebuild writes the whole state, so at a fixed snapshot_log_bytes its
# cost per article grows with the articles held; snapshot_log_share bounds
# it. storyd runs on a temporary data directory with fsync everysec
# (bench/lib.sh).
set -eu

build=${1:-build-bench}
. "$(dirname "$0")/lib.sh"

start_storyd

# storyd's CPU so far, in clock ticks: utime + stime of every thread
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$storyd_pid/stat"; }
hz=$(getconf CLK_TCK)
posted=${HELD:-600000}

pre=$("$loadgen" -a "$saddr" -b 100 -c 16 -n $((posted / 100)) -d 3600 -p pre- | grep '^RESULT')
echo "preload: $posted articles at $(field "$pre" art_s) articles/s, $(snapshots) snapshots"
printf '%-7s %10s %12s %6s %10s\n' window "art/s" "CPU us/art" snaps posted
w=1
while [ $w -le "${WINDOWS:-3}" ]; do
	before=$(snapshots)
	c0=$(cpu_ticks)
	res=$("$loadgen" -a "$saddr" -b 100 -c 16 -d "${DURATION:-60}" -w 0 \
	    -r "$(awk -v r="${RATE:-4000}" 'BEGIN { print r / 100 }')" -p "w$w-" | grep '^RESULT')
	c1=$(cpu_ticks)
	art_s=$(field "$res" art_s)
	posted=$(awk -v h="$posted" -v a="$art_s" -v d="${DURATION:-60}" 'BEGIN { printf "%.0f", h + a * d }')
	awk -v w="$w" -v a="$art_s" -v d="${DURATION:-60}" -v c="$((c1 - c0))" -v hz="$hz" \
	    -v s="$(($(snapshots) - before))" -v h="$posted" \
	    'BEGIN { printf "%-7s %10.0f %12.1f %6d %10d\n", w, a, c / hz * 1e6 / (a * d), s, h }'
	w=$((w + 1))
done
