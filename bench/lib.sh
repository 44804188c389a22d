# bench/lib.sh: what the benchmark scripts share, sourced after `set -eu`
# with $build set: a temporary directory, storyd started on it and stopped
# at exit (its log copied to $STORYD_LOG if set), the floor likewise, and
# readers of loadgen's RESULT line and of storyd's log. STORYD_WRAP, if
# set, is a command storyd runs under (e.g. "chrt -r 10" or "nice -n -10").

storyd=$build/storyd
loadgen=$build/bench/loadgen
floor=$build/bench/floor
for f in "$storyd" "$loadgen" "$floor"; do
	[ -x "$f" ] || { echo "$0: $f not built (meson compile -C $build)" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/storyd-bench-XXXXXX)
storyd_pid=
extra_pids=
extra_groups=	# process groups: what their leader started goes with it
cleanup() {
	for p in $extra_pids; do kill "$p" 2>/dev/null || true; done
	for g in $extra_groups; do kill -- "-$g" 2>/dev/null || true; done
	if [ -n "$storyd_pid" ]; then
		kill "$storyd_pid" 2>/dev/null || true
		i=0
		while kill -0 "$storyd_pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$storyd_pid" 2>/dev/null || true
	fi
	[ -n "${STORYD_LOG:-}" ] && cp "$tmp/storyd.log" "$STORYD_LOG"
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# wait_line FILE PATTERN: the first line of FILE matching PATTERN, within 30 s
wait_line() {
	i=0
	while [ $i -lt 300 ]; do
		line=$(grep -m1 "$2" "$1" 2>/dev/null || true)
		[ -n "$line" ] && { echo "$line"; return 0; }
		sleep 0.1
		i=$((i + 1))
	done
	echo "$0: no '$2' in $1 within 30 s" >&2
	cat "$1" >&2
	return 1
}

# start_storyd [STORE_LINES]: storyd on a free loopback port and a fresh data
# directory, fsync $FSYNC (everysec), retention far beyond the articles' span,
# max_articles $MAX_ARTICLES (1,000,000), snapshot_log_bytes
# $SNAPSHOT_LOG_BYTES and snapshot_log_share $SNAPSHOT_LOG_SHARE (the
# defaults, 268435456 and 0.25), and STORE_LINES added to [store]; sets
# storyd_pid and saddr once it answers.
start_storyd() {
	cat > "$tmp/storyd.conf" <<CONF
[server]
listen = 127.0.0.1:0
[store]
data_dir = $tmp/data
fsync = ${FSYNC:-everysec}
retention_hours = 876000
max_articles = ${MAX_ARTICLES:-1000000}
snapshot_log_bytes = ${SNAPSHOT_LOG_BYTES:-268435456}
snapshot_log_share = ${SNAPSHOT_LOG_SHARE:-0.25}
${1:-}
CONF
	${STORYD_WRAP:-} "$storyd" -c "$tmp/storyd.conf" 2> "$tmp/storyd.log" &
	storyd_pid=$!
	line=$(wait_line "$tmp/storyd.log" "listening on") || exit 1
	saddr=$(echo "$line" | sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p')
	"$loadgen" -m ready -a "$saddr" -d 30 >/dev/null
}

# start_floor: bench/floor on a free loopback port, stopped at exit; sets
# floor_pid and faddr once it listens. FLOOR_ARGS: its options (-l: decode
# as storyd does).
start_floor() {
	"$floor" ${FLOOR_ARGS:-} > "$tmp/floor.out" &
	floor_pid=$!
	extra_pids="$extra_pids $floor_pid"
	line=$(wait_line "$tmp/floor.out" "listening on") || exit 1
	faddr=$(echo "$line" | sed 's/listening on //')
}

# snapshots storyd has started so far, from its log
snapshots() { grep -c "writing a snapshot" "$tmp/storyd.log" || true; }

# snapshots under way now: those started, less those written or failed
snapshots_running() {
	ended=$(grep -c -e "snapshot written (" -e "background snapshot failed" "$tmp/storyd.log" ||
	    true)
	echo $(($(snapshots) - ended))
}

# open_loop_articles RATE SECONDS: what an open loop at RATE a second sends
# in SECONDS, and a tenth more: the articles loadgen -A makes before it
open_loop_articles() { awk -v r="$1" -v d="$2" 'BEGIN { printf "%.0f", r * d * 1.1 }'; }

# field RESULT NAME: one NAME=value of a loadgen RESULT line
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# scrape: storyd's /metrics, once
scrape() {
	python3 -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen("http://%s/metrics" % sys.argv[1], timeout=10).read().decode())' \
	    "$saddr"
}

# metric SAMPLE...: the values of samples of storyd's /metrics, as it
# prints them (name and labels), or nan, on one line from one scrape
metric() {
	scrape | awk 'BEGIN { for (i = 1; i < ARGC; i++) { s[i] = ARGV[i] " "; v[i] = "nan"; delete ARGV[i] }
	    n = ARGC - 1 }
	    { for (i = 1; i <= n; i++) if (index($0, s[i]) == 1) v[i] = $NF }
	    END { for (i = 1; i <= n; i++) printf "%s%s", v[i], (i < n ? " " : "\n") }' "$@"
}

# post_buckets: storyd's histogram of POST /v1/articles (request read to reply
# sent) so far, from one scrape: "LE:COUNT" pairs, cumulative, in order
post_buckets() {
	scrape | awk -v p='storyd_http_request_duration_seconds_bucket{method="POST",endpoint="/v1/articles",le="' \
	    'index($0, p) == 1 { s = substr($0, length(p) + 1); sub(/"} /, ":", s); printf "%s%s", sep, s; sep = " " }
	    END { print "" }'
}

# bucket_p99 BEFORE AFTER: the upper bound, in ms, of the bucket that holds the
# 99th percentile of what post_buckets counted between two scrapes ("-" if none)
bucket_p99() {
	echo "$1|$2" | awk -F'|' '{ n = split($1, a, " "); split($2, b, " ")
	    for (i = 1; i <= n; i++) { split(a[i], x, ":"); split(b[i], y, ":"); le[i] = x[1]; d[i] = y[2] - x[2] }
	    for (i = 1; i <= n; i++) if (d[n] > 0 && d[i] >= 0.99 * d[n]) {
		    print (le[i] == "+Inf" ? "inf" : le[i] * 1000); exit }
	    print "-" }'
}

# slow_writes: the log writes so far that kept the loop over 1 ms, from one
# scrape (two would count the writes between them as slow, or fewer than none)
slow_writes() {
	metric storyd_log_write_duration_seconds_count \
	    'storyd_log_write_duration_seconds_bucket{le="0.001"}' |
	    awk '{ printf "%d\n", $1 - $2 }'
}
