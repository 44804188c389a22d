#!/bin/sh
# bench/http.sh: storyd's HTTP ingest next to the HTTP floor (bench/floor), in
# one run on one machine: 1, 10 and 100 articles per request, closed loop,
# then single articles open loop at half storyd's closed-loop maximum.
#
#   bench/http.sh [BUILD_DIR]        (default: build-bench)
#   env: DURATION (s per measurement, 10), WARMUP (s, 2), CONNS (16),
#        ROUNDS (2: every measurement repeated, floor and storyd alternating),
#        AHEAD (articles a second of DURATION that loadgen makes before each
#        closed loop, 70000, above the floor's rate: made as they are sent,
#        they took loadgen 10-20 us of CPU each on the cores the servers
#        use; past them loadgen makes the rest as it sends, and says so)
#        FLOOR_ARGS (bench/floor's options: -l decodes as storyd does)
#
# The snaps column counts the snapshots storyd rebuilt during each of its
# measurements (from its log): those it started then and one still under way
# from before. Each rebuilds the state on the second core (store.h), which is
# what decides p99.
#
# storyd runs on a temporary data directory with fsync = $FSYNC (default
# everysec), retention far larger than the articles' span, max_articles
# 1,000,000 and the snapshot settings of SNAPSHOT_LOG_BYTES and
# SNAPSHOT_LOG_SHARE (bench/lib.sh: the defaults). Only loopback; every wait
# is bounded.
set -eu

build=${1:-build-bench}
. "$(dirname "$0")/lib.sh"
duration=${DURATION:-10}
warmup=${WARMUP:-2}
conns=${CONNS:-16}
rounds=${ROUNDS:-2}
ahead=$((${AHEAD:-70000} * duration))

start_storyd
start_floor

echo "storyd $saddr (pid $storyd_pid), floor $faddr (pid $floor_pid); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "each: $duration s ($warmup s warm-up), $conns connections"

# measure NAME ADDR ARGS...: prints NAME, loadgen's RESULT fields and snaps=N
measure() {
	name=$1 addr=$2
	shift 2
	before=$(snapshots)
	running=$(snapshots_running)
	res=$("$loadgen" -a "$addr" -d "$duration" -w "$warmup" -p "$name-$(date +%s%N)-" "$@" |
	    grep '^RESULT' | sed 's/^RESULT //')
	echo "$name $res snaps=$(($(snapshots) - before + running))"
}

results=$tmp/results
: > "$results"
r=1
while [ "$r" -le "$rounds" ]; do
	for b in 1 10 100; do
		measure "floor-b$b-r$r" "$faddr" -c "$conns" -b "$b" -A "$ahead" >> "$results"
		measure "storyd-b$b-r$r" "$saddr" -c "$conns" -b "$b" -A "$ahead" >> "$results"
	done
	# open loop, single articles, at half of this round's closed-loop maximum
	max=$(field "$(grep "^storyd-b1-r$r " "$results")" req_s)
	half=$(awk -v m="$max" 'BEGIN { printf "%.0f", m / 2 }')
	due=$(open_loop_articles "$half" "$duration")
	measure "floor-half-r$r" "$faddr" -c "$conns" -b 1 -r "$half" -A "$due" >> "$results"
	measure "storyd-half-r$r" "$saddr" -c "$conns" -b 1 -r "$half" -A "$due" >> "$results"
	echo "$half" > "$tmp/half-r$r"
	r=$((r + 1))
done

printf '\n%-7s %-5s %11s %11s %9s %9s %9s %5s | %11s %9s | %s\n' "round" "batch" "storyd req/s" "art/s" \
    "p50 ms" "p99 ms" "p99.9 ms" "snaps" "floor req/s" "p99 ms" "storyd/floor"
r=1
while [ "$r" -le "$rounds" ]; do
	for b in 1 10 100 half; do
		s=$(grep "^storyd-b$b-r$r \|^storyd-$b-r$r " "$results")
		f=$(grep "^floor-b$b-r$r \|^floor-$b-r$r " "$results")
		label=$b
		[ "$b" = half ] && label="1@$(cat "$tmp/half-r$r")/s"
		awk -v r="$r" -v b="$label" -v sr="$(field "$s" req_s)" -v sa="$(field "$s" art_s)" \
		    -v s50="$(field "$s" p50_ms)" -v s99="$(field "$s" p99_ms)" -v s999="$(field "$s" p999_ms)" \
		    -v sn="$(field "$s" snaps)" -v fr="$(field "$f" req_s)" -v f99="$(field "$f" p99_ms)" \
		    'BEGIN { printf "%-7s %-5s %11.0f %11.0f %9.3f %9.3f %9.3f %5d | %11.0f %9.3f | %.3f\n",
		        r, b, sr, sa, s50, s99, s999, sn, fr, f99, sr / fr }'
	done
	r=$((r + 1))
done

echo
grep -h "errors=[1-9]\|overload=[1-9]\|lost=[1-9]" "$results" | sed 's/^/problems: /' || true
awk '
	/^storyd-b1-r/ { split($0, a, " "); for (i in a) if (a[i] ~ /^req_s=/) { sub("req_s=", "", a[i]); s[++ns] = a[i] + 0 } }
	/^floor-b1-r/ { split($0, a, " "); for (i in a) if (a[i] ~ /^req_s=/) { sub("req_s=", "", a[i]); f[++nf] = a[i] + 0 } }
	/^storyd-b100-r/ { split($0, a, " "); for (i in a) if (a[i] ~ /^art_s=/) { sub("art_s=", "", a[i]); h[++nh] = a[i] + 0 } }
	/^storyd-half-r/ { split($0, a, " "); for (i in a) if (a[i] ~ /^p99_ms=/) { sub("p99_ms=", "", a[i]); p[++np] = a[i] + 0 } }
	END {
		for (i = 1; i <= ns; i++) {
			printf "round %d: single-article ingest / floor = %.3f (target >= 0.6: %s); ", i, s[i] / f[i], (s[i] / f[i] >= 0.6 ? "met" : "NOT met")
			printf "100/request %.0f articles/s (target >= 20000: %s); ", h[i], (h[i] >= 20000 ? "met" : "NOT met")
			printf "p99 at half max %.3f ms (target <= 2: %s)\n", p[i], (p[i] <= 2 ? "met" : "NOT met")
		}
	}' "$results"
