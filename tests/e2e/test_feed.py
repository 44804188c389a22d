"""
The cluster feed as a dashboard uses it: a cursor that never skips or
repeats a change, under concurrent writes and across restarts; removed
clusters reported once; long polls (wait=SECONDS, at most 60) that answer as
soon as a change is committed, or with an empty list when the time runs out;
"reset" when a cursor cannot be continued; ETag and 304 on the polled GETs.
"""

import random
import re
import socket
import threading
import time

import pytest

from e2e_helpers import (article, assert_error, assert_status, needs_own_daemon, post_article,
                         post_batch, text_for)
from harness import article_path

CURSOR = re.compile(r"^\d+(-\d+)?$")


def poll(client, since, wait=None, limit=None, headers=None):
    q = [f"since={since}"]
    if wait is not None:
        q.append(f"wait={wait}")
    if limit is not None:
        q.append(f"limit={limit}")
    return client.get("/v1/clusters?" + "&".join(q), headers=headers)


def metric(client, name):
    text = assert_status_text(client.get("/metrics"))
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert m, f"no {name} in /metrics"
    return float(m.group(1))


def assert_status_text(reply):
    assert reply.status == 200, reply
    return reply.body.decode()


def wait_until(cond, timeout=10.0, what="a condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Dashboard:
    """What a dashboard keeps: the live clusters by id, from the feed alone."""

    def __init__(self, client, limit=7):
        self.client = client
        self.limit = limit
        self.cursor = "0"
        self.clusters = {}
        self.seqs = []              # every updated_seq seen, in order received
        self.removed = []           # ids reported removed
        self.resets = 0

    def poll(self, wait=2):
        body = assert_status(poll(self.client, self.cursor, wait=wait, limit=self.limit), 200)
        assert CURSOR.match(body["next"]), body["next"]
        if body.get("reset"):
            self.resets += 1
            self.clusters.clear()
        for c in body["clusters"]:
            self.seqs.append(c["updated_seq"])
            if c.get("removed"):
                self.removed.append(c["id"])
                self.clusters.pop(c["id"], None)
            else:
                self.clusters[c["id"]] = c
        self.cursor = body["next"]
        return body

    def drain(self):
        """Poll until a page comes back empty: caught up with every committed change."""
        while self.poll(wait=0)["clusters"]:
            pass

    def check_order(self):
        assert self.seqs == sorted(self.seqs), "the feed went back in time"
        assert len(self.seqs) == len(set(self.seqs)), "a change was reported twice"
        assert len(self.removed) == len(set(self.removed)), \
            f"a removal was reported more than once: {self.removed}"


def server_state(client):
    """The live clusters, listed from the beginning, and each article's cluster."""
    state, since = {}, "0"
    while True:
        body = assert_status(poll(client, since, limit=1000), 200)
        for c in body["clusters"]:
            if c.get("removed"):
                state.pop(c["id"], None)
            else:
                state[c["id"]] = c
        if not body["clusters"]:
            return state
        since = body["next"]


# "terms" are chosen with the document frequencies of the whole corpus when a
# reply is made, so they drift as other clusters change without a change of
# their own (README "Dashboards and metrics"); everything else must be exact.
DRIFTING = {"terms"}


def assert_same_state(client, dash, articles):
    truth = server_state(client)
    diff = {k: {f: (dash.clusters[k].get(f), truth[k].get(f)) for f in truth[k]
                if f not in DRIFTING and dash.clusters[k].get(f) != truth[k].get(f)}
            for k in set(dash.clusters) & set(truth)}
    diff = {k: v for k, v in diff.items() if v}
    assert set(dash.clusters) == set(truth), \
        f"missing {set(truth) - set(dash.clusters)}, extra {set(dash.clusters) - set(truth)}"
    assert not diff, f"clusters the dashboard holds differ from the server's: {diff}"
    sizes = {}
    for aid in articles:
        reply = client.get(article_path(aid))
        assert reply.status == 200, reply
        cid = reply.json["cluster"]
        sizes[cid] = sizes.get(cid, 0) + 1
    assert {cid: c["size"] for cid, c in dash.clusters.items()} == sizes


class Writer(threading.Thread):
    """Streams articles in: new ones (some copies of earlier ones), PUT replacements and deletes."""

    def __init__(self, client, prefix, n, seed):
        super().__init__(daemon=True)
        self.client, self.prefix, self.n = client, prefix, n
        self.rng = random.Random(seed)
        self.held = {}              # id -> article as last stored
        self.error = None

    def run(self):
        try:
            self._run()
        except BaseException as e:  # reported by the test
            self.error = e

    def _run(self):
        for i in range(self.n):
            roll = self.rng.random()
            ids = sorted(self.held)
            if ids and roll < 0.15:
                victim = self.rng.choice(ids)
                assert self.client.delete(article_path(victim)).status == 204
                del self.held[victim]
            elif ids and roll < 0.30:
                target = self.rng.choice(ids)
                a = article(target, title=text_for(f"{self.prefix}-{i}/t", 8),
                            body=text_for(f"{self.prefix}-{i}/b", 50))
                assert self.client.put(article_path(target), a).status in (200, 201)
                self.held[target] = a
            elif ids and roll < 0.50:
                src = self.held[self.rng.choice(ids)]
                a = dict(src, id=f"{self.prefix}-{i}")
                post_article(self.client, a)
                self.held[a["id"]] = a
            elif roll < 0.60:
                batch = [article(f"{self.prefix}-{i}-{k}") for k in range(5)]
                post_batch(self.client, batch)
                self.held.update((a["id"], a) for a in batch)
            else:
                a = article(f"{self.prefix}-{i}")
                post_article(self.client, a)
                self.held[a["id"]] = a


@needs_own_daemon
def test_a_polling_dashboard_ends_with_exactly_the_servers_state(fresh_daemon):
    c = fresh_daemon.client()
    dash = Dashboard(c, limit=7)
    writer = Writer(fresh_daemon.client(), "feed", 400, seed=5)
    writer.start()
    while writer.is_alive():
        dash.poll(wait=1)
    writer.join()
    assert writer.error is None, writer.error
    dash.drain()
    dash.check_order()
    assert dash.removed, "the writer deleted and replaced articles, yet no cluster was removed"
    assert dash.resets == 0
    assert_same_state(c, dash, writer.held)


@needs_own_daemon
def test_the_cursor_survives_restarts_and_a_crash(start_storyd):
    d = start_storyd(config="[store]\nretention_hours = 876000\nfsync = always\n")
    c = d.client()
    dash = Dashboard(c, limit=5)
    writer = Writer(c, "r1", 60, seed=1)
    writer.run()
    dash.drain()
    before = dash.cursor
    d.restart()
    c = dash.client = d.client()
    body = assert_status(poll(c, before), 200)
    assert body["clusters"] == [] and body["next"] == before and "reset" not in body, body
    writer.client = c
    writer.prefix, writer.n = "r2", 60
    writer.run()
    d.kill()                                # SIGKILL: fsync = always keeps every reply's change
    d.start()
    c = dash.client = writer.client = d.client()
    dash.drain()
    dash.check_order()
    assert dash.resets == 0
    assert_same_state(c, dash, writer.held)


def test_a_long_poll_answers_as_soon_as_a_change_is_committed(client, uid):
    since = assert_status(poll(client, "0", limit=1000), 200)["next"]
    while True:                             # other tests' clusters: reach the end of the feed
        body = assert_status(poll(client, since, limit=1000), 200)
        if not body["clusters"]:
            break
        since = body["next"]
    got = {}

    def long_poll():
        t0 = time.monotonic()
        got["reply"] = poll(client, since, wait=30)
        got["seconds"] = time.monotonic() - t0

    t = threading.Thread(target=long_poll)
    t.start()
    wait_until(lambda: metric(client, "storyd_feed_long_polls") >= 1, what="the poll to wait")
    cid = post_article(client, article(uid("a")))["cluster"]
    t.join(10)
    assert not t.is_alive(), "the long poll did not answer after the change"
    body = assert_status(got["reply"], 200)
    assert [x["id"] for x in body["clusters"]] == [cid]
    assert got["seconds"] < 5
    assert int(body["next"]) > int(since)


def test_a_long_poll_with_nothing_new_answers_an_empty_list_when_time_runs_out(client):
    since = str(int(metric(client, "storyd_feed_sequence")))
    t0 = time.monotonic()
    body = assert_status(poll(client, since, wait=1), 200)
    elapsed = time.monotonic() - t0
    if body["clusters"]:
        pytest.skip("another client changed the daemon meanwhile")
    assert body == {"clusters": [], "next": since}
    assert 0.9 <= elapsed < 3, elapsed


def test_a_long_poll_behind_the_feed_answers_at_once(client, uid):
    post_article(client, article(uid("a")))
    t0 = time.monotonic()
    body = assert_status(poll(client, "0", wait=30, limit=1), 200)
    assert len(body["clusters"]) == 1 and time.monotonic() - t0 < 2


def test_a_long_poll_with_a_matching_etag_times_out_as_304(client):
    since = str(int(metric(client, "storyd_feed_sequence")))
    first = poll(client, since)
    reply = poll(client, since, wait=1, headers={"If-None-Match": first.header("ETag")})
    assert reply.status in (304, 200), reply
    if reply.status == 200:
        pytest.skip("another client changed the daemon meanwhile")
    assert reply.body == b""


@pytest.mark.parametrize("wait", ["x", "-1", "1.5", ""])
def test_a_bad_wait_is_400(client, wait):
    assert_error(client.get(f"/v1/clusters?wait={wait}"), 400, "bad_parameter")


def raw_long_poll(client, since, wait):
    s = client.connect()
    s.sendall(f"GET /v1/clusters?since={since}&wait={wait} HTTP/1.1\r\n"
              f"Host: x\r\n\r\n".encode())
    return s


def read_reply(s):
    data = b""
    s.settimeout(10)
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


@needs_own_daemon
def test_waits_over_60_seconds_are_cut_to_60_and_a_gone_client_frees_its_place(fresh_daemon):
    c = fresh_daemon.client()
    s = raw_long_poll(c, 0, 3600)
    wait_until(lambda: metric(c, "storyd_feed_long_polls") == 1, what="the poll to wait")
    s.close()
    wait_until(lambda: metric(c, "storyd_feed_long_polls") == 0, timeout=5,
               what="the daemon to notice the client left")
    text = c.get("/metrics").body.decode()
    assert 'endpoint="/v1/clusters?wait",code="200"} 1' in text


@needs_own_daemon
def test_too_many_long_polls_get_503_with_retry_after(start_storyd):
    d = start_storyd(config="[server]\nmax_long_polls = 2\n")
    c = d.client()
    socks = [raw_long_poll(c, 0, 30) for _ in range(2)]
    wait_until(lambda: metric(c, "storyd_feed_long_polls") == 2, what="two polls to wait")
    reply = poll(c, 0, wait=30)
    assert_error(reply, 503, "overloaded")
    assert reply.header("Retry-After") == "1"
    post_article(c, article("wake-them"))
    for s in socks:
        head = read_reply(s)
        assert head.startswith(b"HTTP/1.1 200"), head[:100]
        s.close()


@needs_own_daemon
def test_sigterm_answers_waiting_polls_at_once(fresh_daemon):
    c = fresh_daemon.client()
    s = raw_long_poll(c, 0, 60)
    wait_until(lambda: metric(c, "storyd_feed_long_polls") == 1, what="the poll to wait")
    t0 = time.monotonic()
    fresh_daemon.signal(15)
    head = read_reply(s)
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    assert time.monotonic() - t0 < 2
    assert fresh_daemon.wait() == 0
    s.close()


@needs_own_daemon
def test_a_cursor_from_the_future_gets_reset_and_the_whole_list(fresh_daemon):
    c = fresh_daemon.client()
    cid = post_article(c, article("only-one"))["cluster"]
    body = assert_status(poll(c, "99999", wait=30), 200)
    assert body.get("reset") is True
    assert [x["id"] for x in body["clusters"]] == [cid]
    assert body["next"] == "1"
    assert "reset" not in assert_status(poll(c, body["next"]), 200)


@needs_own_daemon
def test_a_cursor_behind_dropped_removals_gets_reset_but_a_fresh_listing_does_not(start_storyd):
    """
    The feed keeps 100,000 tombstones (cluster.h). KEEP articles dated late
    stay; with max_articles = KEEP + 1 every later article, dated early,
    evicts the one before it and leaves a tombstone. CHURN of them drop the
    oldest removals: a cursor from before them must start over, but a listing
    from the beginning, whose cursors lie below the horizon too, must not.
    """
    keep, churn = 1500, 100_003
    d = start_storyd(config=f"[store]\nretention_hours = 876000\nmax_articles = {keep + 1}\n"
                      "[server]\nmax_batch = 5000\n")
    c = d.client()
    for start in range(0, keep, 500):
        post_batch(c, [{"id": f"k{i}", "title": f"k{i} kk{i}", "published_at": "2030-01-01T00:00:00Z"}
                       for i in range(start, start + 500)])
    old_cursor = assert_status(poll(c, "0", limit=1000), 200)["next"]
    for start in range(0, churn, 2000):
        post_batch(c, [{"id": f"e{i}", "title": f"w{i} v{i}", "published_at": "2020-01-01T00:00:00Z"}
                       for i in range(start, min(churn, start + 2000))])
    horizon = metric(c, "storyd_feed_horizon")
    assert horizon > keep, "no tombstone was dropped"
    body = assert_status(poll(c, old_cursor, limit=1000), 200)
    assert body.get("reset") is True
    since, pages, seen = "0", 0, set()
    while True:
        body = assert_status(poll(c, since, limit=1000), 200)
        assert "reset" not in body, f"page {pages} of a fresh listing says reset"
        if not body["clusters"]:
            break
        seen.update(x["id"] for x in body["clusters"] if not x.get("removed"))
        since, pages = body["next"], pages + 1
    assert len(seen) == keep + 1 and pages >= 2
