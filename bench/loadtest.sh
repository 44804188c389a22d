#!/bin/sh
# bench/loadtest.sh: storyd under many connections for a while, killed with
# SIGKILL and restarted in the middle (issue 6 §4).
#
#   bench/loadtest.sh [BUILD_DIR] [STORYD] [LOADGEN]     (default: build-bench)
#   env: DURATION (s, 60), CONNS (200), MAX_ARTICLES (20000),
#        RSS_LIMIT_MB (default: 64 + 8 KiB per max_articles), KEEP=1 keeps the temp dir
#
# storyd runs with fsync = always on a temporary data directory, max_articles
# small enough to be reached. bench/loadgen -m mix sends posts (single,
# batches of 10, and of 40, which storyd's decode thread parses),
# /v1/similar, cluster polls, GETs and DELETEs of articles it was told were
# stored, reconnecting whenever storyd is gone. Halfway
# through, storyd is killed with SIGKILL and started again on the same port.
# Then loadgen waits for /readyz and reads back every acknowledged article
# that eviction cannot have taken, and every acknowledged delete.
#
# It passes when: storyd never died except by our kill and stops cleanly at
# the end; no 5xx other than 503 (and no 500); nothing acknowledged was lost;
# the largest anonymous resident set (RssAnon: the memory storyd allocates)
# stayed within the bound. The file pages it maps are reported beside it, not
# bounded: a snapshot's rebuild maps the log segments it replays (up to about
# snapshot_log_bytes, more when the log grew during the previous one), clean
# pages of the page cache the kernel drops first. Every wait is bounded.
set -eu

build=${1:-build-bench}
storyd=${2:-$build/storyd}
loadgen=${3:-$build/bench/loadgen}
duration=${DURATION:-60}
conns=${CONNS:-200}
max_articles=${MAX_ARTICLES:-20000}
rss_limit_mb=${RSS_LIMIT_MB:-$((64 + max_articles * 8 / 1024))}
for f in "$storyd" "$loadgen"; do
	[ -x "$f" ] || { echo "loadtest.sh: $f not built" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/storyd-load-XXXXXX)
pid=
lg_pid=
cleanup() {
	[ -n "$lg_pid" ] && kill "$lg_pid" 2>/dev/null || true
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null || true
	fi
	[ "${KEEP:-0}" = 1 ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

conf() {
	cat > "$tmp/storyd.conf" <<CONF
[server]
listen = $1
[store]
data_dir = $tmp/data
fsync = always
retention_hours = 876000
max_articles = $max_articles
CONF
}

# start LOG: storyd in the background; sets pid and addr, within 30 s
start() {
	: > "$1"
	"$storyd" -c "$tmp/storyd.conf" 2> "$1" &
	pid=$!
	i=0
	while [ $i -lt 300 ]; do
		addr=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$1" | head -n1)
		[ -n "$addr" ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	echo "loadtest.sh: storyd did not start:" >&2
	cat "$1" >&2
	return 1
}

rss_max_kb=0
file_max_kb=0
# sample: remember the largest RssAnon of storyd (a snapshot's rebuild
# included), and the largest RssFile
sample() {
	kb=$(sed -n 's/^RssAnon:[^0-9]*\([0-9]*\).*/\1/p' "/proc/$pid/status" 2>/dev/null || echo 0)
	[ -n "$kb" ] && [ "$kb" -gt "$rss_max_kb" ] && rss_max_kb=$kb
	kb=$(sed -n 's/^RssFile:[^0-9]*\([0-9]*\).*/\1/p' "/proc/$pid/status" 2>/dev/null || echo 0)
	[ -n "$kb" ] && [ "$kb" -gt "$file_max_kb" ] && file_max_kb=$kb
	return 0
}

conf 127.0.0.1:0
start "$tmp/storyd-1.log"
conf "$addr"		# the restart must come back on the same port
"$loadgen" -m ready -a "$addr" -d 30 >/dev/null
echo "storyd on $addr; $conns connections for $duration s, kill -9 at $((duration / 2)) s;" \
    "fsync always, max_articles $max_articles, anonymous RSS bound $rss_limit_mb MB"

"$loadgen" -m mix -a "$addr" -c "$conns" -d "$duration" -M "$max_articles" -p "load-$$-" \
    > "$tmp/loadgen.out" 2>&1 &
lg_pid=$!

crashed=0
half=$((duration * 5))		# tenths of a second
i=0
while [ $i -lt "$half" ]; do
	sample
	kill -0 "$pid" 2>/dev/null || { crashed=1; break; }
	sleep 0.1
	i=$((i + 1))
done
kill -0 "$pid" 2>/dev/null || crashed=1
kill -9 "$pid" 2>/dev/null || true	# gone already if it crashed: reported below
wait "$pid" 2>/dev/null || true
t_kill=$(date +%s.%N)
start "$tmp/storyd-2.log" || true
restarts=1
# The killed daemon may still hold the data directory's lock for a moment:
# try again, at most 20 times.
while ! kill -0 "$pid" 2>/dev/null || ! { sleep 0.2; kill -0 "$pid" 2>/dev/null; }; do
	[ $restarts -ge 20 ] && { echo "loadtest.sh: storyd does not restart:" >&2; cat "$tmp/storyd-2.log" >&2; exit 1; }
	start "$tmp/storyd-2.log" || true
	restarts=$((restarts + 1))
done
"$loadgen" -m ready -a "$addr" -d 60 >/dev/null
t_ready=$(date +%s.%N)
echo "killed and restarted: ready again after $(awk -v a="$t_kill" -v b="$t_ready" 'BEGIN { printf "%.1f", b - a }') s ($restarts start(s))"

# until loadgen is done (its duration, a 10 s drain, verification): at most duration + 200 s
i=0
while kill -0 "$lg_pid" 2>/dev/null && [ $i -lt $(((duration + 200) * 10)) ]; do
	sample
	kill -0 "$pid" 2>/dev/null || crashed=1
	sleep 0.1
	i=$((i + 1))
done
lg_status=0
wait "$lg_pid" || lg_status=$?
lg_pid=
cat "$tmp/loadgen.out"

kill -0 "$pid" 2>/dev/null || crashed=1
sample
held=$(curl -s --max-time 10 "http://$addr/metrics" |
    grep -E '^storyd_(articles|articles_evicted_total|bodies_decoded_apart_total) ' |
    tr '\n' ' ' || true)
kill -TERM "$pid" 2>/dev/null || true
stop_status=0
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
wait "$pid" || stop_status=$?
pid=

markers=$(cat "$tmp"/storyd-*.log | grep -c "AddressSanitizer\|LeakSanitizer\|runtime error:" || true)
rss_mb=$((rss_max_kb / 1024))
echo
echo "summary:"
echo "  storyd died on its own: $([ $crashed = 0 ] && echo no || echo YES)"
[ $crashed = 0 ] || tail -n 3 "$tmp"/storyd-*.log | sed 's/^/  last words: /'
echo "  clean stop at the end: $([ $stop_status = 0 ] && echo yes || echo "NO (status $stop_status)")"
echo "  loadgen verdict (no other 5xx, nothing acknowledged lost): $([ $lg_status = 0 ] && echo pass || echo FAIL)"
echo "  held at the end (since the restart): ${held:-unknown}"
echo "  largest anonymous RSS $rss_mb MB (bound $rss_limit_mb MB): $([ $rss_mb -le "$rss_limit_mb" ] && echo within || echo OVER)"
echo "  largest file RSS $((file_max_kb / 1024)) MB (the log a snapshot's rebuild maps; not bounded)"
echo "  sanitizer reports: $markers"
grep -h "<[0-3]>\|<4>" "$tmp"/storyd-*.log | sort | uniq -c | sort -rn | head -5 | sed 's/^/  log: /'
if [ $crashed = 0 ] && [ $stop_status = 0 ] && [ $lg_status = 0 ] && [ $rss_mb -le "$rss_limit_mb" ] &&
    [ "$markers" = 0 ]; then
	echo "PASS"
	exit 0
fi
echo "FAIL"
exit 1
