"""
Persistence: acknowledged writes survive SIGTERM, and with fsync = always,
SIGKILL; a data directory the previous snapshot format left starts as it was.
(test_durability.py goes further: crashes under load, damaged logs.)
"""

import datetime
import json
import os
import shutil

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


def answers(client, paths):
    """Each path's status and JSON body, as a client sees them."""
    out = {}
    for p in paths:
        reply = client.get(p)
        out[p] = {"status": reply.status, "body": reply.json}
    return out


def test_a_data_directory_of_the_previous_snapshot_format_starts_as_it_was(start_storyd,
                                                                          source_root):
    # tests/data/store-v4: the data directory storyd 848043d (cluster snapshot
    # format 4, terms named by hash) left after a clean stop, holding a near
    # duplicate, two stories and a deleted article; expected.json is what that
    # storyd answered to these paths just before it stopped.
    fixture = os.path.join(source_root, "tests", "data", "store-v4")
    with open(os.path.join(fixture, "expected.json")) as f:
        expected = json.load(f)
    d = start_storyd(start=False)
    for name in os.listdir(fixture):
        if name != "expected.json":
            shutil.copy(os.path.join(fixture, name), d.data_dir)
    d.start()
    c = d.client()
    assert answers(c, expected) == expected

    # the loaded signatures and indexes find what they held: a copy of quake-1
    # with a word changed is its near duplicate, in its story
    quake = expected["/v1/articles/quake-1"]["body"]
    text = ("A magnitude 6.8 earthquake struck northern Chile on Tuesday, shaking buildings in "
            "the port city of Iquique and cutting power to thousands of houses, the national "
            "emergency office said. No deaths were reported in the first hours.")
    got = post_article(c, {"id": "quake-4", "title": quake["title"], "body": text,
                           "published_at": "2024-03-05T11:00:00Z"})
    assert (got["status"], got["duplicate_of"], got["cluster"]) == \
        ("near_duplicate", "quake-1", quake["cluster"])

    # the next snapshot is in the current format, and loads the same again
    d.restart()
    c = d.client()
    paths = list(expected) + ["/v1/articles/quake-4"]
    before = answers(c, paths)
    d.restart()
    assert answers(d.client(), paths) == before
    assert before["/v1/articles/quake-1"] == expected["/v1/articles/quake-1"]
