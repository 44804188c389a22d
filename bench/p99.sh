#!/bin/sh
# bench/p99.sh: latency of single posts at a fixed rate while storyd holds a
# few hundred thousand articles and writes snapshots, window by window.
#
#   bench/p99.sh [BUILD_DIR]         (default: build-bench)
#   env: PRELOAD (s of batches of 100 first, 35), WINDOWS (3), DURATION (s
#        per window, 16), RATE (posts/s, 3300: about half of storyd's
#        maximum here), SNAPSHOT_LOG_BYTES (67108864, the default)
#
# Each window prints loadgen's p50, p99 and p99.9 and how many snapshots
# storyd started during it (from its log). storyd runs on a temporary data
# directory with fsync everysec, as bench/http.sh does. Only loopback.
set -eu

build=${1:-build-bench}
storyd=$build/storyd
loadgen=$build/bench/loadgen
for f in "$storyd" "$loadgen"; do
	[ -x "$f" ] || { echo "p99.sh: $f not built (meson compile -C $build)" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/storyd-p99-XXXXXX)
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

cat > "$tmp/storyd.conf" <<CONF
[server]
listen = 127.0.0.1:0
[store]
data_dir = $tmp/data
fsync = everysec
retention_hours = 876000
max_articles = 1000000
snapshot_log_bytes = ${SNAPSHOT_LOG_BYTES:-67108864}
CONF
"$storyd" -c "$tmp/storyd.conf" 2> "$tmp/storyd.log" &
pid=$!
i=0
until grep -q "listening on" "$tmp/storyd.log"; do
	i=$((i + 1))
	[ $i -gt 300 ] && { echo "p99.sh: storyd did not start" >&2; cat "$tmp/storyd.log" >&2; exit 1; }
	sleep 0.1
done
addr=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$tmp/storyd.log" | head -1)
"$loadgen" -m ready -a "$addr" -d 30 >/dev/null

snapshots() { grep -c "writing a snapshot" "$tmp/storyd.log" || true; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

pre=$("$loadgen" -a "$addr" -b 100 -c 16 -d "${PRELOAD:-35}" -p pre- | grep '^RESULT')
echo "preload: $(field "$pre" art_s) articles/s for ${PRELOAD:-35} s, $(snapshots) snapshots"
printf '%-7s %9s %9s %9s %6s\n' window "p50 ms" "p99 ms" "p99.9 ms" snaps
w=1
while [ $w -le "${WINDOWS:-3}" ]; do
	before=$(snapshots)
	res=$("$loadgen" -a "$addr" -b 1 -c 16 -d "${DURATION:-16}" -w 1 -r "${RATE:-3300}" \
	    -p "w$w-" | grep '^RESULT')
	printf '%-7s %9s %9s %9s %6s\n' "$w" "$(field "$res" p50_ms)" "$(field "$res" p99_ms)" \
	    "$(field "$res" p999_ms)" "$(($(snapshots) - before))"
	w=$((w + 1))
done
