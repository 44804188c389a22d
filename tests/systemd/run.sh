#!/bin/sh
# tests/systemd/run.sh: storyd.service under a real systemd. As root on
# Debian 12: builds and installs storyd into a fresh Debian 12 tree
# (debootstrap, which downloads from the Debian mirror, so this is not part
# of tests/run), boots that tree with systemd-nspawn, where check.sh runs
# the installed unit through start, a batch, reload, kill -9, a watchdog
# timeout and stop, and prints one line a check. Exits 0 only if all pass.
#
#   tests/systemd/run.sh [WORK_DIR]    (default: a new directory in /var/tmp)
#   env: MIRROR (http://deb.debian.org/debian), KEEP=1 (leave WORK_DIR)
#
# Needs: apt-get install debootstrap systemd-container, and the build
# dependencies of the README.
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$(mktemp -d /var/tmp/storyd-systemd-XXXXXX)}
mkdir -p "$work"
root=$work/root
for tool in debootstrap systemd-nspawn meson; do
	command -v "$tool" > /dev/null || { echo "run.sh: $tool missing" >&2; exit 2; }
done

if [ ! -x "$root/usr/bin/systemctl" ]; then
	# procps: the unit's ExecReload is /bin/kill (README "Under systemd")
	echo "debootstrap: a minimal Debian 12 with systemd, procps and storyd's libraries"
	debootstrap --variant=minbase --include=systemd,systemd-sysv,procps,curl,libevent-2.1-7,libinih1,libjansson4,libstemmer0d,libutf8proc2,libxxhash0 \
	    bookworm "$root" "${MIRROR:-http://deb.debian.org/debian}" > "$work/debootstrap.log" 2>&1 ||
	    { tail "$work/debootstrap.log"; exit 1; }
fi

echo "meson: storyd built with --prefix=/usr and installed into the tree, as the README says"
[ -d "$work/build" ] || meson setup "$work/build" "$src" --prefix=/usr -Dbuildtype=release > /dev/null
meson compile -C "$work/build" > /dev/null
DESTDIR=$root meson install -C "$work/build" > /dev/null

python3 -c 'import json, sys
arts = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
json.dump({"articles": arts}, open(sys.argv[2], "w"))' \
    "${STORYD_SHARED_DATA:-$src/../shared/data}/seed-blinken.jsonl" "$root/seed.json"
install -m 0755 "$src/tests/systemd/check.sh" "$root/usr/local/bin/storyd-check"
cat > "$root/etc/systemd/system/storyd-check.service" <<UNIT
[Unit]
Description=storyd.service, checked
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/bin/storyd-check /results/out.txt
UNIT
mkdir -p "$root/etc/systemd/system/multi-user.target.wants" "$work/results"
ln -sf /etc/systemd/system/storyd-check.service \
    "$root/etc/systemd/system/multi-user.target.wants/storyd-check.service"
rm -rf "$root/var/lib/private/storyd" "$root/var/lib/storyd" "$work/results/out.txt"

echo "systemd-nspawn: booting the tree; the checks power it off"
# --register=no --keep-unit: no host systemd or D-Bus needed
timeout 300 systemd-nspawn -q -b --register=no --keep-unit -D "$root" \
    --bind="$work/results:/results" > "$work/boot.log" 2>&1 || true
if [ ! -s "$work/results/out.txt" ]; then
	echo "run.sh: no results; the container's console is in $work/boot.log" >&2
	exit 1
fi
out=$(cat "$work/results/out.txt")
echo "$out"
[ "${KEEP:-0}" = 1 ] || [ $# -gt 0 ] || rm -rf "$work"
echo "$out" | grep -q '^[0-9]* passed, 0 failed$'
