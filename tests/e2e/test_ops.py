"""Operations: health and readiness, the systemd notify path, clean shutdown."""

import json
import os
import signal
import time

import pytest

from e2e_helpers import (article, assert_status, needs_own_daemon, post_article, post_batch,
                         sanitized)
from harness import article_path


def test_healthz_says_ok(client):
    assert assert_status(client.get("/healthz"), 200) == {"status": "ok"}


def test_readyz_says_ready(client):
    assert assert_status(client.get("/readyz"), 200) == {"status": "ready"}


def test_every_reply_with_a_body_is_json(client):
    for path in ("/healthz", "/readyz", "/v1/clusters", "/v1/articles/absent", "/v1/nothing"):
        reply = client.get(path)
        assert reply.media_type == "application/json", (path, reply)
        json.loads(reply.body)


@needs_own_daemon
def test_ready_is_sent_with_the_listening_port(fresh_daemon):
    assert "READY=1" in fresh_daemon.notify_messages
    assert any(m.startswith("STATUS=listening on 127.0.0.1:") for m in fresh_daemon.notify_messages)
    assert fresh_daemon.port > 0


@needs_own_daemon
def test_helper_threads_have_names_an_operator_can_read(fresh_daemon, uid):
    """ps -L, top -H and perf tell the loop ("storyd") from its helpers."""
    c = fresh_daemon.client()
    post_batch(c, [article(uid(str(i))) for i in range(4)])    # a batch starts the fingerprinter
    task = f"/proc/{fresh_daemon.proc.pid}/task"

    def names():
        found = set()
        for t in os.listdir(task):
            try:
                with open(f"{task}/{t}/comm") as f:
                    found.add(f.read().strip())
            except FileNotFoundError:       # a thread that has just ended
                pass
        return found
    want = {"storyd", "storyd-ahead", "storyd-logsync"}    # everysec: the tick's fdatasync
    deadline = time.monotonic() + 5
    while not want <= names() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert want <= names(), names()


@needs_own_daemon
def test_sigterm_stops_cleanly_with_stopping_notice(fresh_daemon, uid):
    c = fresh_daemon.client()
    post_article(c, article(uid()))
    c.post("/v1/articles", {"id": 5})
    fresh_daemon.signal(signal.SIGTERM)
    stopping = fresh_daemon.wait_notify("STOPPING=1")
    assert fresh_daemon.wait() == 0
    assert stopping, f"no STOPPING=1 among {fresh_daemon.notify_messages}"


@needs_own_daemon
def test_shutdown_after_mixed_traffic_has_no_sanitizer_reports(fresh_daemon, uid):
    c = fresh_daemon.client()
    a = article(uid("a"))
    post_article(c, a)
    post_article(c, dict(a, id=uid("b")))
    c.post("/v1/articles", {"articles": [a, 5, {"id": uid("c")}, article(uid("d"))]})
    c.request("POST", "/v1/articles", b"\xff{", {"Content-Type": "application/json"})
    c.delete(article_path(uid("a")))
    c.post("/v1/similar", a)
    c.get("/v1/clusters?limit=3")
    code = fresh_daemon.stop()
    reports = fresh_daemon.take_sanitizer_reports()
    assert reports == [], "\n".join(reports)
    assert code == 0, fresh_daemon.stderr_text()[-3000:]


@needs_own_daemon
def test_articles_without_content_words_leave_no_sanitizer_reports(fresh_daemon, uid):
    # Single letters, stop words and bare numbers give an article no weighted terms.
    c = fresh_daemon.client()
    for i, title in enumerate(["x y z", "The and of", "12 34", "a", "!!! ???"]):
        reply = c.post("/v1/articles", {"id": uid(str(i)), "title": title})
        assert reply.status in (201, 422), reply
        c.post("/v1/similar", {"title": title})
    c.delete(article_path(uid("0")))
    fresh_daemon.stop()
    reports = fresh_daemon.take_sanitizer_reports()
    assert reports == [], "\n".join(reports)


@needs_own_daemon
def test_restart_on_the_same_data_dir_comes_up_again(fresh_daemon):
    fresh_daemon.restart()
    assert_status(fresh_daemon.client().get("/readyz"), 200)


@needs_own_daemon
def test_indexes_it_has_no_memory_to_size_at_start_are_logged_and_grow(start_storyd, storyd_bin,
                                                                       uid):
    # max_articles at its bound sizes the LSH's band tables for 16,777,216 ids at
    # start, about 3.5 GB; a 2 GB address space cannot hold them, while the id
    # table and the rest fit.
    if sanitized(storyd_bin):
        pytest.skip("AddressSanitizer reserves more address space than the limit")
    d = start_storyd(config="[store]\nretention_hours = 876000\nmax_articles = 16777216\n",
                     address_space=2 * 1000 ** 3)
    assert "no memory to size the candidate indexes for max_articles 16777216" in \
        d.stderr_text()
    c = d.client()
    first = article(uid("a"))
    assert post_article(c, first)["status"] == "new_story"
    copy = dict(first, id=uid("b"), title=first["title"] + " updated")
    reply = post_article(c, copy)
    assert reply["status"] in ("near_duplicate", "exact_duplicate")
    assert reply["duplicate_of"] == first["id"]
