#!/bin/sh
# tests/systemd/check.sh: run inside a container booted by systemd (run.sh
# puts it there): the installed storyd.service started, fed, reloaded,
# killed, starved of its watchdog and stopped, as an operator's systemctl
# would. One "ok" or "not ok" line a check, then "N passed, N failed".
# Writes to $1 (default /results/out.txt).
exec > "${1:-/results/out.txt}" 2>&1
passed=0 failed=0
check() {	# check WHAT COMMAND...: one line, counted
	what=$1
	shift
	if "$@"; then
		echo "ok - $what"
		passed=$((passed + 1))
	else
		echo "not ok - $what"
		failed=$((failed + 1))
	fi
}
prop() { systemctl show storyd -p "$1" --value; }
url=http://127.0.0.1:7878
ready() {	# /readyz answers 200 within 10 s
	i=0
	while [ $i -lt 100 ]; do
		curl -sf -o /dev/null "$url/readyz" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
held() { curl -sf "$url/v1/stats" | grep -q "\"articles\":{\"held\":$1,"; }
ready_and_held() { ready && held "$1"; }
journal() { journalctl -u storyd --no-pager -o cat; }
equals() { [ "$1" = "$2" ] || { echo "  got '$1', want '$2'"; return 1; }; }
restarts_past() { [ "$(prop NRestarts)" -gt "$1" ]; }
wait_for() {	# wait_for SECONDS COMMAND...: true once COMMAND is
	n=$(($1 * 10))
	shift
	while [ $n -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

systemctl start storyd
check "start: Type=notify returns once storyd says READY=1" equals "$(prop ActiveState)/$(prop SubState)" active/running
check "start: /readyz answers" ready
check "start: the status line names what was recovered" \
    equals "$(prop StatusText)" "listening on 127.0.0.1:7878; 0 articles in 0 clusters recovered"

code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary @/seed.json "$url/v1/articles")
check "post: the seed batch is stored" equals "$code" 200
check "post: 7 articles held" held 7

pid=$(prop MainPID)
systemctl reload storyd
check "reload: systemctl reload succeeds" equals "$?" 0
check "reload: the same process goes on" equals "$(prop MainPID)" "$pid"
check "reload: storyd says it read its configuration again" \
    wait_for 5 sh -c 'journalctl -u storyd --no-pager -o cat | grep -q "configuration reloaded"'

kill -9 "$pid"
check "kill -9: Restart=on-failure starts it again" wait_for 10 restarts_past 0
check "kill -9: ready again" ready
check "kill -9: a new process" sh -c "[ $(prop MainPID) != $pid ]"
check "kill -9: every acknowledged article recovered" held 7
check "kill -9: the status line says so" \
    sh -c "systemctl show storyd -p StatusText --value | grep -q '; 7 articles in 1 cluster recovered'"
check "kill -9: an article reads back" \
    equals "$(curl -s -o /dev/null -w '%{http_code}' "$url/v1/articles/blinken-3")" 200

# A watchdog of 2 s: storyd pings every second; a stopped storyd misses them.
mkdir -p /run/systemd/system/storyd.service.d
printf '[Service]\nWatchdogSec=2s\n' > /run/systemd/system/storyd.service.d/watchdog.conf
systemctl daemon-reload
systemctl restart storyd
ready
pid=$(prop MainPID)
sleep 5
check "watchdog: fed, the same process runs on after 5 s" equals "$(prop MainPID)" "$pid"
restarts=$(prop NRestarts)
kill -STOP "$pid"
check "watchdog: a storyd that stops answering is killed and started again" \
    wait_for 15 restarts_past "$restarts"
check "watchdog: systemd says why" \
    sh -c 'journalctl -u storyd --no-pager -o cat | grep -q "Watchdog timeout"'
check "watchdog: ready again, nothing lost" ready_and_held 7
rm /run/systemd/system/storyd.service.d/watchdog.conf
systemctl daemon-reload

systemctl stop storyd
check "stop: systemctl stop succeeds, storyd exits 0" \
    equals "$(prop Result)/$(prop ExecMainStatus)" success/0
check "stop: storyd says it stopped" sh -c 'journalctl -u storyd --no-pager -o cat | tail -5 | grep -q "storyd: stopped"'
check "stop: the final snapshot is written" sh -c 'journalctl -u storyd --no-pager -o cat | tail -5 | grep -q "final snapshot written"'
check "sandbox: no call refused by the system call filter" \
    sh -c '! journalctl -u storyd --no-pager -o cat | grep -q -i "not permitted"'
check "sandbox: the state directory belongs to the dynamic user alone" \
    equals "$(stat -c '%a' /var/lib/private/storyd)" 700
echo "$passed passed, $failed failed"
systemctl poweroff > /dev/null 2>&1
