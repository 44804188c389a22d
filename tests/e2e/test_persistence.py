"""
Persistence: acknowledged writes survive SIGTERM, and with fsync = always,
SIGKILL. (test_durability.py goes further: crashes under load, damaged logs.)
"""

import datetime

from e2e_helpers import (article, assert_not_stored, assert_status, feed, get_article,
                         needs_own_daemon, now_utc, post_article, same_text)
from harness import article_path

pytestmark = needs_own_daemon


def snapshot(client, ids):
    return {i: get_article(client, i) for i in ids}, feed(client, limit=1000)


def test_articles_and_clusters_survive_sigterm(fresh_daemon, uid):
    c = fresh_daemon.client()
    # An hour ago: inside the retention window that b (ingest time) sets.
    an_hour_ago = (now_utc() - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    a = article(uid("a"), published_at=an_hour_ago)
    post_article(c, a)
    post_article(c, same_text(a, uid("b")))
    post_article(c, article(uid("gone")))
    assert_status(c.delete(article_path(uid("gone"))), 204)
    before = snapshot(c, [uid("a"), uid("b")])
    fresh_daemon.restart()
    c = fresh_daemon.client()
    assert snapshot(c, [uid("a"), uid("b")]) == before
    assert_not_stored(c, uid("gone"))


def test_acknowledged_write_survives_sigkill_with_fsync_always(start_storyd, uid):
    d = start_storyd(config="[store]\nfsync = always\n")
    a = article(uid())
    posted = post_article(d.client(), a)
    d.kill()
    d.start()
    got = get_article(d.client(), a["id"])
    assert (got["title"], got["cluster"]) == (a["title"], posted["cluster"])
