#!/usr/bin/env bash
# Fuzz every target in tests/fuzz for SECONDS each (default 60), one at a time,
# with libFuzzer, ASan and UBSan: builds with clang in build-fuzz/, fuzzes a
# working copy of each seed corpus there (build-fuzz/corpus/<target>), and
# keeps crashing inputs in build-fuzz/artifacts/<target>/. Prints, per target,
# the executions, coverage (cov, ft) and result, then "N passed, N failed".
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
#   FUZZ_JOBS=1 FUZZ_FLAGS='-max_len=65536' tests/fuzz/run.sh 600 wal
#
# FUZZ_TESTLOG=FILE also writes one line per target in the format of meson's
# testlog.json, ending "1 passed in Ns" or "1 failed in Ns", for tests/run to count.
#
# Reproduce a crash: build-fuzz/fuzz-<target> build-fuzz/artifacts/<target>/crash-...
# Keep it as a regression: copy it to tests/fuzz/corpus/<target>/regress-<what>.
set -uo pipefail
cd "$(dirname "$0")/../.."

secs=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(request normalize wal snapshot cluster-load route)
build=${FUZZ_BUILD:-build-fuzz}

if [ ! -d "$build" ]; then
	CC=clang meson setup "$build" -Dfuzz=true -Dbuildtype=debugoptimized -Db_lundef=false \
		>/dev/null || { echo "run.sh: meson setup $build failed (is clang installed?)"; echo "0 passed, 1 failed"; exit 1; }
fi
meson compile -C "$build" $(printf 'fuzz-%s ' "${targets[@]}") >/dev/null ||
	{ echo "run.sh: build failed"; echo "0 passed, 1 failed"; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
passed=0 failed=0
[ -n "${FUZZ_TESTLOG:-}" ] && : >"$FUZZ_TESTLOG"
testlog() {	# testlog TARGET OK|FAIL SUMMARY
	[ -n "${FUZZ_TESTLOG:-}" ] || return 0
	local n=passed; [ "$2" = OK ] || n=failed
	printf '{"name": "fuzz-%s", "result": "%s", "stdout": "%s\\n1 %s in %ss\\n"}\n' \
		"$1" "$2" "$3" "$n" "$secs" >>"$FUZZ_TESTLOG"
}
for t in "${targets[@]}"; do
	work=$build/corpus/$t art=$build/artifacts/$t log=$build/fuzz-$t.log
	mkdir -p "$work" "$art"
	# -timeout: a single input taking seconds is a hang worth reporting
	"$build/fuzz-$t" "$work" "tests/fuzz/corpus/$t" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art/" ${FUZZ_FLAGS:-} \
		>"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
		printf '%-13s ok     %10s execs in %ss, %s\n' "$t" "${execs:-?}" "$secs" "$cov"
		testlog "$t" OK "$t: ${execs:-?} execs, $cov"
	else
		failed=$((failed + 1))
		printf '%-13s FAILED %10s execs, %s; see %s\n' "$t" "${execs:-?}" "$cov" "$log"
		testlog "$t" FAIL "$t: crashed after ${execs:-?} execs, $cov; see $log"
		grep -E 'ERROR:|runtime error|Assertion|Test unit written' "$log" | head -5 | sed 's/^/    /'
	fi
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
