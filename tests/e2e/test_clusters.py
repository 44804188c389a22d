"""Story clusters: the change feed a dashboard polls, and one cluster's members."""

import pytest

from e2e_helpers import (CLUSTER_ID, UTC_SECONDS, article, assert_error, assert_status,
                         changes_since, feed, feed_cursor, get_cluster, post_article,
                         post_batch, same_text)
from harness import cluster_path


def assert_cluster_shape(c):
    assert CLUSTER_ID.match(c["id"]), c
    if c.get("removed"):
        return
    for field, kind in (("size", int), ("duplicate_groups", int), ("sources", int),
                        ("updated_seq", int), ("title", str), ("terms", list),
                        ("first_published", str), ("last_published", str)):
        assert isinstance(c.get(field), kind), f"{field}: {c!r}"
    assert all(isinstance(t, str) and t for t in c["terms"]), c["terms"]
    assert UTC_SECONDS.match(c["first_published"]) and UTC_SECONDS.match(c["last_published"]), c
    assert c["first_published"] <= c["last_published"], c
    assert 1 <= c["duplicate_groups"] <= c["size"], c


def test_feed_lists_new_clusters_with_their_fields(client, uid):
    cursor = feed_cursor(client)
    a = article(uid(), source="wire", published_at="2024-05-01T10:00:00Z")
    cid = post_article(client, a)["cluster"]
    body = feed(client, since=cursor)
    assert [c["id"] for c in body["clusters"]] == [cid], body
    c = body["clusters"][0]
    assert_cluster_shape(c)
    assert (c["size"], c["duplicate_groups"], c["sources"]) == (1, 1, 1), c
    assert c["title"] == a["title"]
    assert c["first_published"] == c["last_published"] == "2024-05-01T10:00:00Z"
    assert c.get("removed", False) is False


def test_every_listed_cluster_is_well_formed(client, uid):
    post_article(client, article(uid()))
    body = feed(client, limit=1000)
    assert body["clusters"], body
    for c in body["clusters"]:
        assert_cluster_shape(c)
    seqs = [c["updated_seq"] for c in body["clusters"]]
    assert seqs == sorted(seqs), "not oldest change first"


def test_polling_with_next_returns_only_later_changes(client, uid):
    cursor = feed_cursor(client)
    first = post_article(client, article(uid("a")))["cluster"]
    body = feed(client, since=cursor)
    assert [c["id"] for c in body["clusters"]] == [first]
    second = post_article(client, article(uid("b")))["cluster"]
    body = feed(client, since=body["next"])
    assert [c["id"] for c in body["clusters"]] == [second]
    idle = feed(client, since=body["next"])
    assert idle["clusters"] == []
    assert idle["next"] == body["next"], "an idle poll moved the cursor"


def test_changed_cluster_moves_to_the_end_of_the_feed(client, uid):
    cursor = feed_cursor(client)
    a = article(uid("a"), source="one")
    ca = post_article(client, a)["cluster"]
    cb = post_article(client, article(uid("b")))["cluster"]
    post_article(client, same_text(a, uid("a2"), source="two"))
    changed = changes_since(client, cursor)
    assert [c["id"] for c in changed] == [cb, ca], changed
    assert (changed[1]["size"], changed[1]["duplicate_groups"], changed[1]["sources"]) == (2, 1, 2)


def test_limit_pages_through_the_feed(client, uid):
    cursor = feed_cursor(client)
    ids = [post_article(client, article(uid(str(i))))["cluster"] for i in range(5)]
    page1 = feed(client, since=cursor, limit=2)
    page2 = feed(client, since=page1["next"], limit=2)
    page3 = feed(client, since=page2["next"], limit=2)
    page4 = feed(client, since=page3["next"], limit=2)
    got = [c["id"] for p in (page1, page2, page3) for c in p["clusters"]]
    assert got == ids
    assert [len(p["clusters"]) for p in (page1, page2, page3, page4)] == [2, 2, 1, 0]


def test_min_size_filters_small_clusters(client, uid):
    cursor = feed_cursor(client)
    a = article(uid("pair"))
    pair = post_article(client, a)["cluster"]
    post_article(client, same_text(a, uid("pair2")))
    post_article(client, article(uid("single")))
    body = feed(client, since=cursor, min_size=2)
    assert [c["id"] for c in body["clusters"]] == [pair], body
    assert all(c["size"] >= 2 for c in body["clusters"])


def test_min_size_does_not_hide_later_changes_from_the_cursor(client, uid):
    cursor = feed_cursor(client)
    post_article(client, article(uid("single")))
    body = feed(client, since=cursor, min_size=2)
    assert body["clusters"] == []
    a = article(uid("pair"))
    pair = post_article(client, a)["cluster"]
    post_article(client, same_text(a, uid("pair2")))
    assert [c["id"] for c in feed(client, since=body["next"], min_size=2)["clusters"]] == [pair]


@pytest.mark.parametrize("query", ["since=abc", "since=-1", "limit=0", "limit=-1", "limit=x",
                                   "min_size=x", "min_size=-2", "since=1.5"])
def test_bad_feed_parameter_is_400(client, query):
    assert_error(client.get("/v1/clusters?" + query), 400, "bad_parameter")


def test_limit_over_1000_is_allowed(client):
    assert len(feed(client, limit=5000)["clusters"]) <= 1000


def test_unchanged_feed_answers_304_to_its_etag(client, uid):
    post_article(client, article(uid("a")))
    for path in ("/v1/clusters", f"/v1/clusters?since={feed_cursor(client)}"):
        first = client.get(path)
        assert_status(first, 200)
        etag = first.header("ETag")
        assert etag, f"no ETag on {path}"
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status == 304, again
        assert again.body == b""
    post_article(client, article(uid("b")))
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status == 200, changed
    assert changed.header("ETag") != etag


def test_stale_or_foreign_etag_gets_the_full_reply(client):
    reply = client.get("/v1/clusters", headers={"If-None-Match": '"not-an-etag-of-ours"'})
    assert_status(reply, 200)


def test_cluster_lists_its_articles(client, uid):
    a = article(uid("a"), source="one", published_at="2024-02-01T00:00:00Z")
    cid = post_article(client, a)["cluster"]
    b = same_text(a, uid("b"), source="two", published_at="2024-02-02T00:00:00Z")
    post_article(client, b)
    c = get_cluster(client, cid)
    assert c["id"] == cid
    assert_cluster_shape(c)
    assert c["size"] == 2 == len(c["articles"])
    assert (c["first_published"], c["last_published"]) == \
        ("2024-02-01T00:00:00Z", "2024-02-02T00:00:00Z")
    by_id = {x["id"]: x for x in c["articles"]}
    assert set(by_id) == {a["id"], b["id"]}
    for x in c["articles"]:
        for field in ("title", "source", "published_at", "duplicate_of", "similarity"):
            assert field in x, x
        assert 0 <= x["similarity"] <= 1, x
    assert by_id[a["id"]]["duplicate_of"] is None
    assert by_id[b["id"]]["duplicate_of"] == a["id"]
    assert by_id[b["id"]]["source"] == "two"
    assert by_id[b["id"]]["published_at"] == "2024-02-02T00:00:00Z"


@pytest.mark.parametrize("cid", ["s-999999999", "s-0", "nonsense", "s-000001x", " "])
def test_unknown_cluster_is_404(client, cid):
    assert_error(client.get(cluster_path(cid)), 404, "not_found")


def test_limit_over_1000_is_clamped_to_1000(fresh_daemon):
    c = fresh_daemon.client()
    arts = [article(f"clamp-{i}", title=f"clamp{i} zq{i}x vr{i}y") for i in range(1001)]
    results = post_batch(c, arts[:1000]) + post_batch(c, arts[1000:])
    assert all("error" not in r for r in results), [r for r in results if "error" in r][:3]
    assert len({r["cluster"] for r in results}) == 1001, "the titles share no word"
    body = feed(c, limit=5000)
    assert len(body["clusters"]) == 1000, len(body["clusters"])
    rest = feed(c, since=body["next"], limit=5000)
    assert len(rest["clusters"]) == 1
    assert not {x["id"] for x in body["clusters"]} & {x["id"] for x in rest["clusters"]}
