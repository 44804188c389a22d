"""
GET /metrics (Prometheus text format, checked by promtool when it is
installed: Debian's prometheus package) and GET /v1/stats (the same figures
as JSON); the access log.
"""

import os
import re
import shutil
import subprocess
import time

import pytest

from e2e_helpers import (article, assert_error, assert_status, needs_own_daemon, post_article,
                         post_batch)
from harness import run_cli

PROMTOOL = shutil.which("promtool")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')


def scrape(client):
    reply = client.get("/metrics")
    assert reply.status == 200, reply
    assert reply.media_type == "text/plain", reply.header("Content-Type")
    assert "version=0.0.4" in reply.header("Content-Type")
    return reply.body.decode("utf-8")


def samples(text):
    """{(name, labels string): value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def value(text, name, labels=""):
    return samples(text).get((name, labels))


def requests(text, method, endpoint, code):
    return value(text, "storyd_http_requests_total",
                 f'{{method="{method}",endpoint="{endpoint}",code="{code}"}}') or 0


def wait_until(cond, timeout=10.0, what="a condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian: apt-get install prometheus)")
def test_metrics_pass_promtool_check(fresh_daemon, uid):
    c = fresh_daemon.client()
    post_article(c, article(uid("a")))
    c.get("/v1/clusters")
    c.get("/nowhere")
    text = scrape(c)
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, f"promtool check metrics:\n{r.stdout}{r.stderr}\n---\n{text}"


def test_every_family_has_help_and_type(client):
    text = scrape(client)
    helped = set(re.findall(r"^# HELP (\S+) ", text, re.M))
    typed = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    assert helped == set(typed)
    for name, _ in samples(text):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in typed or base in typed, f"{name} has no # TYPE"
    for name in ("storyd_build_info", "storyd_http_requests_total",
                 "storyd_http_request_duration_seconds", "storyd_articles_ingested_total",
                 "storyd_articles", "storyd_clusters", "storyd_duplicate_groups",
                 "storyd_articles_fingerprinted_ahead_total",
                 "storyd_articles_fingerprinted_apart_total",
                 "storyd_articles_evicted_total", "storyd_log_bytes",
                 "storyd_log_fsync_duration_seconds", "storyd_log_write_duration_seconds",
                 "storyd_snapshot_duration_seconds",
                 "process_resident_memory_bytes", "storyd_feed_long_polls"):
        assert name in typed, f"no {name} in /metrics"


def test_build_info_names_the_version(client, storyd_bin):
    version = run_cli(storyd_bin, "-V").stdout.split()[-1]
    assert value(scrape(client), "storyd_build_info", f'{{version="{version}"}}') == 1


@needs_own_daemon
def test_requests_are_counted_by_route_pattern_and_status(fresh_daemon, uid):
    c = fresh_daemon.client()
    before = scrape(c)
    post_article(c, article(uid("a")))
    post_article(c, article(uid("b")))
    c.get("/v1/articles/" + uid("a"))
    c.get("/v1/articles/" + uid("b"))
    c.get("/v1/articles/no-such-article")
    c.get("/no/such/path")
    c.request("PATCH", "/v1/articles")
    after = scrape(c)
    assert requests(after, "POST", "/v1/articles", 201) - requests(before, "POST", "/v1/articles", 201) == 2
    assert requests(after, "GET", "/v1/articles/{id}", 200) == 2
    assert requests(after, "GET", "/v1/articles/{id}", 404) == 1
    assert requests(after, "any", "unmatched", 404) == 1
    assert requests(after, "any", "unmatched", 405) == 1
    assert uid("a") not in after, "a raw path made it into a label"
    # the latency histogram: cumulative buckets, +Inf equal to the count
    lab = 'method="GET",endpoint="/v1/articles/{id}"'
    s = samples(after)
    buckets = sorted(((float(k[1].split('le="')[1].rstrip('"}').replace("+Inf", "inf")), v)
                      for k, v in s.items()
                      if k[0] == "storyd_http_request_duration_seconds_bucket" and lab in k[1]))
    counts = [v for _, v in buckets]
    assert counts == sorted(counts) and buckets[-1][0] == float("inf")
    assert counts[-1] == s[("storyd_http_request_duration_seconds_count", "{" + lab + "}")] == 3


@needs_own_daemon
def test_articles_clusters_groups_and_ingest_statuses_are_counted(fresh_daemon, uid):
    c = fresh_daemon.client()
    a = article(uid("a"))
    post_article(c, a)
    post_article(c, dict(a, id=uid("copy")))                # exact duplicate
    post_article(c, article(uid("b")))
    text = scrape(c)
    assert value(text, "storyd_articles") == 3
    assert value(text, "storyd_clusters") == 2
    assert value(text, "storyd_duplicate_groups") == 2
    assert value(text, "storyd_articles_ingested_total", '{status="new_story"}') == 2
    assert value(text, "storyd_articles_ingested_total", '{status="exact_duplicate"}') == 1
    stats = assert_status(c.get("/v1/stats"), 200)
    assert stats["articles"]["held"] == 3
    assert stats["articles"]["ingested"] == {"new_story": 2, "joined_story": 0,
                                             "near_duplicate": 0, "exact_duplicate": 1}
    assert stats["clusters"]["held"] == 2 and stats["clusters"]["duplicate_groups"] == 2
    assert stats["clusters"]["feed_sequence"] == value(text, "storyd_feed_sequence")
    assert stats["ready"] is True


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="the second thread needs a second core")
def test_a_batch_is_fingerprinted_partly_by_the_second_thread(fresh_daemon, uid):
    c = fresh_daemon.client()
    before = value(scrape(c), "storyd_articles_fingerprinted_ahead_total")
    post_article(c, article(uid("single")))
    assert value(scrape(c), "storyd_articles_fingerprinted_ahead_total") == before
    # the thread takes part unless it found no core the whole batch long: try a few
    for attempt in range(10):
        results = post_batch(c, [article(uid(f"b{attempt}-{i}")) for i in range(60)])
        assert all(r["status"] == "new_story" for r in results)
        after = value(scrape(c), "storyd_articles_fingerprinted_ahead_total")
        assert after <= before + 60 * (attempt + 1)
        if after > before:
            break
    assert after > before


@needs_own_daemon
def test_evictions_are_counted(start_storyd):
    d = start_storyd(config="[store]\nretention_hours = 876000\nmax_articles = 2\n")
    c = d.client()
    for i in range(5):
        post_article(c, article(f"ev-{i}"))
    text = scrape(c)
    assert value(text, "storyd_articles") == 2
    assert value(text, "storyd_articles_evicted_total") == 3
    assert assert_status(c.get("/v1/stats"), 200)["articles"]["evicted"] == 3


@needs_own_daemon
@pytest.mark.parametrize("fsync, timed, stats_key", [
    ("always", "storyd_log_fsync_duration_seconds", "fsync"),      # the group commit
    ("everysec", "storyd_log_write_duration_seconds", "write"),    # the write a reply waits for
])
def test_each_post_is_timed_once_under_its_fsync_policy(start_storyd, fsync, timed, stats_key):
    d = start_storyd(config=f"[store]\nretention_hours = 876000\nfsync = {fsync}\n")
    c = d.client()
    for i in range(3):
        post_article(c, article(f"fs-{i}"))
    text = scrape(c)
    assert value(text, f"{timed}_count") == 3
    assert value(text, f"{timed}_bucket", '{le="+Inf"}') == 3
    assert value(text, "storyd_log_written_bytes_total") > 0
    assert value(text, "storyd_log_bytes") > 0
    assert value(text, "storyd_log_decisions_refused_total") == 0
    figures = assert_status(c.get("/v1/stats"), 200)["log"][stats_key]
    assert figures["count"] == 3 and figures["buckets"]["+Inf"] == 3
    if fsync == "always":
        # the write is inside the fsync's figure, not counted twice
        assert value(text, "storyd_log_write_duration_seconds_count") == 0


@needs_own_daemon
def test_snapshot_age_duration_and_size(start_storyd):
    d = start_storyd(config="[store]\nretention_hours = 876000\nsnapshot_log_bytes = 4096\n")
    c = d.client()
    assert value(scrape(c), "storyd_snapshot_age_seconds") is None, "a snapshot before any"
    for i in range(20):
        post_article(c, article(f"sn-{i}"))
    # the once-a-second tick starts the snapshot, a later one reaps it
    wait_until(lambda: value(scrape(c), "storyd_snapshots_total") >= 1, timeout=10,
               what="a background snapshot")
    text = scrape(c)
    assert 0 <= value(text, "storyd_snapshot_age_seconds") < 10
    assert value(text, "storyd_snapshot_duration_seconds") >= 0
    assert value(text, "storyd_snapshot_bytes") > 0
    # where its time went: the posts it covers applied again from the log, each phase timed
    assert value(text, "storyd_snapshot_log_records") >= 1
    phases = {p: value(text, "storyd_snapshot_phase_seconds", f'{{phase="{p}"}}')
              for p in ("read_back", "apply_log", "write")}
    assert all(v is not None and v >= 0 for v in phases.values()), phases
    # and what it cost the machine: its thread's CPU, apart from the idle-priority wall time
    cpu = value(text, "storyd_snapshot_cpu_seconds")
    assert cpu is not None and 0 < cpu <= value(text, "storyd_snapshot_cpu_seconds_total"), text
    snap = assert_status(c.get("/v1/stats"), 200)["snapshot"]
    assert snap["written"] >= 1 and snap["bytes"] > 0 and snap["age_seconds"] is not None
    assert snap["phases"]["log_records"] >= 1 and snap["phases"]["apply_log_seconds"] >= 0
    assert 0 < snap["cpu_seconds"] <= snap["cpu_seconds_total"], snap
    assert re.search(r"snapshot written \(\d+ bytes in [0-9.]+ s, [0-9.]+ s of CPU: ",
                     d.stderr_text()), d.stderr_text()[-2000:]
    d.restart()
    assert value(scrape(d.client()), "storyd_snapshot_age_seconds") is not None, \
        "the snapshot loaded at start has no age"


@needs_own_daemon
def test_recovery_is_timed_and_counted(start_storyd):
    # what a start found: the log records after the snapshot, each put
    # taken with the fingerprint and the decision its record kept
    d = start_storyd(config="[store]\nretention_hours = 876000\n")
    c = d.client()
    assert value(scrape(c), "storyd_recovery_log_records") == 0
    for i in range(5):
        post_article(c, article(f"rc-{i}"))
    d.kill()
    d.start()
    c = d.client()
    text = scrape(c)
    assert value(text, "storyd_recovery_log_records") == 5
    assert value(text, "storyd_recovery_fingerprints_taken") == 5
    assert value(text, "storyd_recovery_decisions_taken") == 5
    assert 0 < value(text, "storyd_recovery_duration_seconds") < 60
    rec = assert_status(c.get("/v1/stats"), 200)["recovery"]
    assert rec["log_records"] == 5 and rec["decisions_taken"] == 5
    # replies give three significant digits
    assert rec["duration_seconds"] == pytest.approx(value(text, "storyd_recovery_duration_seconds"),
                                                    rel=0.01)
    assert "recovered 5 articles in 5 clusters in " in d.stderr_text()
    # a clean stop leaves a snapshot and nothing to replay
    d.restart()
    text = scrape(d.client())
    assert value(text, "storyd_recovery_log_records") == 0
    assert value(text, "storyd_recovery_decisions_taken") == 0


def test_resident_memory_is_reported(client):
    assert value(scrape(client), "process_resident_memory_bytes") > 1 << 20
    assert assert_status(client.get("/v1/stats"), 200)["memory"]["resident_bytes"] > 1 << 20


def test_stats_lists_requests_like_metrics(client):
    client.get("/healthz")
    stats = assert_status(client.get("/v1/stats"), 200)
    text = scrape(client)
    for r in stats["requests"]:
        for code, n in r["codes"].items():
            # the scrape came later: its counts are at least the JSON's
            assert requests(text, r["method"], r["endpoint"], code) >= n
        assert r["latency"]["buckets"]["+Inf"] == r["latency"]["count"]
    assert any(r["endpoint"] == "/healthz" for r in stats["requests"])


def test_metrics_and_stats_are_refused_other_methods(client):
    assert_error(client.request("POST", "/metrics"), 405, "method_not_allowed")
    assert_error(client.request("DELETE", "/v1/stats"), 405, "method_not_allowed")


ACCESS = re.compile(r"^(?:<\d>)?http: 127\.0\.0\.1:\d+ (\S+) (\S+) (\d{3}) (\d+) ([\d.]+)ms$", re.M)


@needs_own_daemon
def test_access_log_is_off_by_default(fresh_daemon):
    c = fresh_daemon.client()
    c.get("/healthz")
    assert not ACCESS.search(fresh_daemon.stderr_text())


@needs_own_daemon
def test_access_log_lines_say_method_path_status_bytes_and_time(start_storyd):
    d = start_storyd(config="[server]\naccess_log = on\n[store]\nretention_hours = 876000\n")
    c = d.client()
    c.get("/healthz")
    post_article(c, article("acc-1"))
    c.get("/v1/clusters?since=0&x=%0a")
    lines = ACCESS.findall(d.stderr_text())
    assert ("GET", "/healthz", "200") == lines[0][:3]
    assert ("POST", "/v1/articles", "201") == lines[1][:3]
    assert lines[2][1] == "/v1/clusters?since=0&x=%0a" and lines[2][2] == "200"
    assert int(lines[0][3]) == len(c.get("/healthz").body)


@needs_own_daemon
def test_access_log_can_sample(start_storyd):
    d = start_storyd(config="[server]\naccess_log = 0.25\n")
    c = d.client()
    for _ in range(40):
        c.get("/healthz")
    assert len(ACCESS.findall(d.stderr_text())) == 10


@pytest.mark.parametrize("setting,ok", [("on", True), ("off", True), ("0.01", True), ("1", True),
                                        ("2", False), ("-0.5", False), ("sometimes", False)])
def test_access_log_setting_is_checked(storyd_bin, tmp_path, setting, ok):
    conf = tmp_path / "storyd.conf"
    conf.write_text(f"[server]\naccess_log = {setting}\n")
    r = run_cli(storyd_bin, "-n", "-c", str(conf))
    assert (r.returncode == 0) == ok, r.stderr
    if not ok:
        assert "access_log" in r.stderr


@needs_own_daemon
def test_idle_polls_answered_304_cost_little(fresh_daemon):
    """The figure behind 'idle polling is cheap': CPU per If-None-Match poll of the feed."""
    c = fresh_daemon.client()
    for i in range(50):
        post_article(c, article(f"idle-{i}"))
    etag = c.get("/v1/clusters?since=0").header("ETag")
    n = 300
    cpu0 = fresh_daemon.cpu_seconds()
    for _ in range(n):
        assert c.get("/v1/clusters?since=0", headers={"If-None-Match": etag}).status == 304
    per_poll = (fresh_daemon.cpu_seconds() - cpu0) / n
    # a few tens of microseconds plainly, more under the sanitizers: far below a millisecond
    assert per_poll < 0.002, f"{per_poll * 1e6:.0f} µs of daemon CPU per idle poll"
