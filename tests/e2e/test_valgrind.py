"""
storyd under valgrind's memcheck: a morning of traffic, background snapshots, a
clean stop and a restart that recovers, with no invalid access, no use of an
uninitialised value and nothing definitely lost. AddressSanitizer (the
sanitized suite) cannot see a read of uninitialised memory; memcheck can.
"""

import shutil
import signal

import pytest

from e2e_helpers import (article, as_posted, assert_error, assert_status, feed, get_article,
                         get_cluster, load_jsonl, needs_own_daemon, post_article, post_batch,
                         put_article, same_text, sanitized)
from harness import article_path

VALGRIND = shutil.which("valgrind")
ERRORS = 99     # valgrind's exit status when it found an error
MEMCHECK = [VALGRIND, "-q", f"--error-exitcode={ERRORS}", "--leak-check=full",
            "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
            "--child-silent-after-fork=yes", "--fair-sched=yes"]
# --fair-sched: valgrind runs one thread at a time, and its default lock can
# leave a helper thread no turn while the loop works (README, "Layout").
# Small tables, and a snapshot every few articles, rebuilt on its own thread.
CONFIG = ("[store]\nretention_hours = 876000\nmax_articles = 2000\n"
          "snapshot_log_bytes = 4096\nsnapshot_log_share = 0\n")
SLOW = 120      # seconds: memcheck runs storyd tens of times slower

pytestmark = [
    needs_own_daemon,
    pytest.mark.skipif(VALGRIND is None, reason="valgrind is not installed"),
]


@pytest.fixture
def memchecked(start_storyd, storyd_bin):
    if sanitized(storyd_bin):
        pytest.skip("a sanitized build does not run under valgrind")
    d = start_storyd(config=CONFIG, start=False, wrapper=MEMCHECK)
    d.start(timeout=SLOW)
    return d


def stop_clean(d):
    """SIGTERM; the exit status must be storyd's 0, not valgrind's error status."""
    code = d.stop(timeout=SLOW)
    assert code == 0, f"exit status {code} ({ERRORS}: memcheck found errors):\n" + \
        d.stderr_text()[-6000:]
    assert "Invalid" not in d.stderr_text() and "uninitialised" not in d.stderr_text()


def test_traffic_snapshots_and_recovery_under_memcheck(memchecked, uid):
    d = memchecked
    c = d.client()
    blinken = [as_posted(r) for r in load_jsonl("seed-blinken.jsonl")]
    verdicts = [post_article(c, a) for a in blinken]
    assert len({v["cluster"] for v in verdicts}) < len(blinken), verdicts
    copy = post_article(c, same_text(blinken[0], uid("copy"), title="Retitled: " + blinken[0]["title"]))
    assert copy["duplicate_of"] == blinken[0]["id"], copy
    batch = [article(uid(str(i))) for i in range(40)] + [{"id": uid("bad")}]
    results = post_batch(c, batch)
    assert "error" in results[-1] and all("cluster" in r for r in results[:-1]), results[-1]
    put_article(c, batch[0]["id"], article(batch[0]["id"], title="A corrected headline",
                                           body="The corrected text of the story, rewritten."), 200)
    assert_status(c.delete(article_path(batch[1]["id"])), 204)
    assert_status(c.post("/v1/similar", {"title": blinken[2]["title"]}), 200)
    assert_error(c.request("POST", "/v1/articles", b'{"id": "x", "title": ',
                           {"Content-Type": "application/json"}), 400, "malformed_json")
    reply = feed(c, min_size=2, expect=None)
    page = assert_status(reply, 200)
    assert_status(feed(c, min_size=2, expect=None,
                       headers={"If-None-Match": reply.header("ETag")}), 304)
    get_cluster(c, page["clusters"][0]["id"])
    for path in ("/metrics", "/v1/stats", "/"):
        assert c.get(path).status == 200
    d.wait_log("snapshot written", SLOW)     # a background rebuild, on its own thread
    d.signal(signal.SIGHUP)     # a reload with nothing changed
    stop_clean(d)

    d.start(timeout=SLOW)       # recovery: the snapshot and the log after it
    c = d.client()
    assert get_article(c, blinken[0]["id"])["cluster"] == verdicts[0]["cluster"]
    assert get_article(c, batch[0]["id"])["title"] == "A corrected headline"
    get_article(c, batch[1]["id"], expect=404)
    post_article(c, article(uid("after")))
    stop_clean(d)
