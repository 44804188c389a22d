"""Articles: POST, batch POST, PUT, GET and DELETE as an ingestion pipeline uses them."""

import pytest

from e2e_helpers import (CLUSTER_ID, SIMHASH, STATUSES, article, assert_error,
                         assert_matches, assert_no_changes_since, assert_not_stored,
                         assert_status, changes_since, feed, feed_cursor, get_article, get_cluster,
                         now_utc, parse_utc, post_article, post_batch, put_article, same_text)
from harness import article_path


# -- POST one article ------------------------------------------------------

def test_new_article_is_created_as_a_new_story(client, uid):
    a = article(uid(), source="wire", url="https://example.com/a",
                published_at="2024-03-01T12:00:00Z")
    reply = client.post("/v1/articles", a)
    body = assert_status(reply, 201)
    assert body["id"] == a["id"]
    assert CLUSTER_ID.match(body["cluster"]), body
    assert body["duplicate_of"] is None
    assert body["status"] == "new_story"
    assert_matches(body, max_matches=5)


def test_stored_article_reads_back_with_its_fields(client, uid):
    a = article(uid(), source="wire", url="https://example.com/b",
                published_at="2024-03-01T12:00:00Z")
    posted = post_article(client, a)
    got = get_article(client, a["id"])
    assert got["id"] == a["id"]
    assert got["title"] == a["title"]
    assert got["source"] == "wire"
    assert got["url"] == "https://example.com/b"
    assert got["published_at"] == "2024-03-01T12:00:00Z"
    assert got["cluster"] == posted["cluster"]
    assert got["duplicate_of"] is None
    assert got["status"] in STATUSES
    assert isinstance(got["simhash"], str) and SIMHASH.match(got["simhash"]), got["simhash"]
    ingested = parse_utc(got["ingested_at"])
    assert abs((now_utc() - ingested).total_seconds()) < 300, got["ingested_at"]


def test_unicode_text_reads_back_unchanged(client, uid):
    title = "Zürich — Ünïcödé “quotes” 東京 ✓ 🚀"
    a = article(uid(), title=title, body="Ça va? Das Gebäude brennt. Пожар в здании.")
    post_article(client, a)
    assert get_article(client, a["id"])["title"] == title


def test_published_at_with_offset_is_stored_in_utc(client, uid):
    a = article(uid(), published_at="2023-06-19T10:00:00+02:00")
    post_article(client, a)
    assert get_article(client, a["id"])["published_at"] == "2023-06-19T08:00:00Z"


def test_published_at_with_fraction_is_stored_to_the_second(client, uid):
    a = article(uid(), published_at="2023-06-19T08:00:00.750Z")
    post_article(client, a)
    assert get_article(client, a["id"])["published_at"] == "2023-06-19T08:00:00Z"


def test_missing_published_at_means_ingest_time(client, uid):
    a = article(uid())
    post_article(client, a)
    got = get_article(client, a["id"])
    published = parse_utc(got["published_at"])
    assert abs((now_utc() - published).total_seconds()) < 300, got


def test_unknown_fields_are_ignored_and_not_stored(client, uid):
    a = article(uid(), tags=["x"], story="secret", extra={"n": 1})
    post_article(client, a)
    got = get_article(client, a["id"])
    for field in ("tags", "story", "extra"):
        assert field not in got, got


def test_title_only_and_body_only_articles_are_accepted(client, uid):
    post_article(client, article(uid("t"), title="Only a headline about zorbulated quimbles"))
    post_article(client, article(uid("b"), body="Only a body about vexillated drumbles."))


def test_id_of_256_bytes_is_accepted(client, uid):
    base = uid()
    a = article(base + "x" * (256 - len(base)))
    assert len(a["id"].encode()) == 256
    post_article(client, a)
    assert get_article(client, a["id"])["id"] == a["id"]


def get_article_status(client, article_id):
    return client.get(article_path(article_id)).status


def test_id_length_is_counted_in_bytes(client, uid):
    # 128 two-byte characters are 256 bytes: fine; one more is 258: too long.
    ok = article("é" * 128, title=uid("ok") + " title")
    too_long = article("é" * 129, title=uid("long") + " title")
    if get_article_status(client, ok["id"]) == 404:
        post_article(client, ok)
    assert_error(client.post("/v1/articles", too_long), 422, "id_too_long")


# -- idempotent retries and conflicts --------------------------------------

def test_identical_retry_returns_200_and_changes_nothing(client, uid):
    a = article(uid(), source="wire", url="https://example.com/r",
                published_at="2024-01-02T03:04:05Z")
    first = post_article(client, a)
    cursor = feed_cursor(client)
    again = post_article(client, a, expect=200)
    assert again["cluster"] == first["cluster"]
    assert again["duplicate_of"] == first["duplicate_of"]
    assert_no_changes_since(client, cursor)
    assert get_cluster(client, first["cluster"])["size"] == 1


def test_retry_without_published_at_is_still_identical(client, uid):
    a = article(uid())
    first = post_article(client, a)
    again = post_article(client, a, expect=200)
    assert again["cluster"] == first["cluster"]


def test_retry_with_extra_unknown_fields_is_still_identical(client, uid):
    a = article(uid())
    post_article(client, a)
    post_article(client, dict(a, ignored="yes"), expect=200)


@pytest.mark.parametrize("change", [
    {"title": "A different headline entirely"},
    {"body": "A different body."},
    {"source": "another-outlet"},
    {"url": "https://example.com/other"},
    {"published_at": "2020-01-01T00:00:00Z"},
])
def test_same_id_with_other_content_is_a_conflict(client, uid, change):
    a = article(uid(), source="wire", url="https://example.com/c",
                published_at="2024-01-02T03:04:05Z")
    post_article(client, a)
    cursor = feed_cursor(client)
    assert_error(client.post("/v1/articles", dict(a, **change)), 409, "conflict")
    got = get_article(client, a["id"])
    assert (got["title"], got["source"], got["url"], got["published_at"]) == \
        (a["title"], a["source"], a["url"], a["published_at"])
    assert_no_changes_since(client, cursor)


# -- duplicates ------------------------------------------------------------

def test_same_title_and_body_under_a_new_id_is_an_exact_duplicate(client, uid):
    a = article(uid("orig"), source="wire-a")
    first = post_article(client, a)
    copy = post_article(client, same_text(a, uid("copy"), source="wire-b"))
    assert copy["status"] == "exact_duplicate"
    assert copy["duplicate_of"] == a["id"]
    assert copy["cluster"] == first["cluster"]
    top = copy["matches"][0]
    assert (top["id"], top["kind"]) == (a["id"], "exact_duplicate"), copy["matches"]
    assert top["similarity"] == pytest.approx(1.0), top
    assert get_article(client, copy["id"])["duplicate_of"] == a["id"]


def test_retry_of_a_duplicate_repeats_its_verdict(client, uid):
    a = article(uid("orig"))
    post_article(client, a)
    copy = same_text(a, uid("copy"))
    first = post_article(client, copy)
    again = post_article(client, copy, expect=200)
    assert (again["cluster"], again["duplicate_of"]) == (first["cluster"], a["id"])


def test_every_copy_points_to_the_first_seen_article(client, uid):
    a = article(uid("0"))
    post_article(client, a)
    for i in range(1, 4):
        body = post_article(client, same_text(a, uid(str(i))))
        assert body["duplicate_of"] == a["id"], body


def test_matches_are_capped_at_five_by_default(client, uid):
    a = article(uid("0"))
    post_article(client, a)
    for i in range(1, 8):
        post_article(client, same_text(a, uid(str(i))))
    body = post_article(client, same_text(a, uid("last")))
    assert len(body["matches"]) == 5, body["matches"]


def test_hundreds_of_copies_all_point_to_the_first(client, uid):
    """
    Past the 128 ids an LSH bucket keeps: every near copy and exact copy
    still names the first article, and matches only copies.
    """
    a = article(uid("0"))
    post_article(client, a)
    near = [dict(a, id=uid(f"near-{i}"), body=f"{a['body']} Reference {i}.") for i in range(200)]
    for start in range(0, len(near), 100):
        for n, r in zip(near[start:start + 100], post_batch(client, near[start:start + 100])):
            assert (r["status"], r["duplicate_of"]) == ("near_duplicate", a["id"]), (n["id"], r)
    exact = post_article(client, same_text(near[-1], uid("exact")))
    assert (exact["status"], exact["duplicate_of"]) == ("exact_duplicate", a["id"]), exact
    assert exact["matches"][0]["id"] == near[-1]["id"], exact["matches"]
    again = post_article(client, dict(a, id=uid("near-last"), body=f"{a['body']} Reference last."))
    assert (again["status"], again["duplicate_of"]) == ("near_duplicate", a["id"]), again
    copies = {a["id"], exact["id"]} | {n["id"] for n in near}
    assert again["matches"] and {m["id"] for m in again["matches"]} <= copies, again["matches"]


# -- batches ---------------------------------------------------------------

def test_batch_results_come_back_in_request_order(client, uid):
    arts = [article(uid(str(i))) for i in range(5)]
    results = post_batch(client, arts)
    for a, r in zip(arts, results):
        assert "error" not in r, r
        assert r["id"] == a["id"]
        assert CLUSTER_ID.match(r["cluster"]), r
    for a in arts:
        get_article(client, a["id"])


def test_empty_batch_gets_empty_results(client):
    assert post_batch(client, []) == []


def test_batch_item_can_duplicate_an_earlier_item_of_the_same_batch(client, uid):
    a = article(uid("a"))
    results = post_batch(client, [a, same_text(a, uid("b"))])
    assert results[1]["status"] == "exact_duplicate", results
    assert results[1]["duplicate_of"] == a["id"]
    assert results[1]["cluster"] == results[0]["cluster"]


def test_one_bad_batch_item_fails_alone(client, uid):
    good1, good2 = article(uid("good1")), article(uid("good2"))
    bad = [
        (article(uid("empty"), title="", body=""), "empty_article"),
        (article(uid("type"), title=5), "wrong_type"),
        (article(uid("time"), published_at="yesterday"), "bad_timestamp"),
        (article("x" * 257), "id_too_long"),
        ({"title": "no id here", "body": "none"}, "missing_id"),
    ]
    results = post_batch(client, [good1] + [b for b, _ in bad] + [good2])
    assert "error" not in results[0] and "error" not in results[-1], results
    for (item, code), r in zip(bad, results[1:-1]):
        assert r.get("error", {}).get("code") == code, (item, r)
        assert isinstance(r["error"].get("message"), str) and r["error"]["message"], r
        assert r.get("id") == item.get("id"), r
        assert "cluster" not in r, r
    get_article(client, good1["id"])
    get_article(client, good2["id"])
    assert_not_stored(client, uid("empty"))
    assert_not_stored(client, uid("type"))
    assert_not_stored(client, uid("time"))


def test_batch_item_that_is_not_an_object_gets_wrong_type_with_null_id(client, uid):
    good = article(uid("good"))
    results = post_batch(client, [5, good, "text", None, [1]])
    for i in (0, 2, 3, 4):
        assert results[i].get("id", "absent") is None, results[i]
        assert results[i].get("error", {}).get("code") == "wrong_type", results[i]
    assert "error" not in results[1], results[1]


def test_batch_item_with_conflicting_content_gets_conflict(client, uid):
    a = article(uid("a"))
    post_article(client, a)
    results = post_batch(client, [dict(a, title="changed headline"), article(uid("b"))])
    assert results[0].get("error", {}).get("code") == "conflict", results[0]
    assert "error" not in results[1], results[1]
    assert get_article(client, a["id"])["title"] == a["title"]


def test_batch_item_retry_is_not_an_error(client, uid):
    a = article(uid())
    first = post_article(client, a)
    results = post_batch(client, [a])
    assert "error" not in results[0], results[0]
    assert results[0]["cluster"] == first["cluster"]


def test_same_id_twice_in_one_batch_with_other_content_conflicts(client, uid):
    a = article(uid())
    results = post_batch(client, [a, dict(a, title="another headline")])
    assert "error" not in results[0], results
    assert results[1].get("error", {}).get("code") == "conflict", results
    assert get_article(client, a["id"])["title"] == a["title"]


def test_batch_over_1000_articles_is_refused_whole(client, uid):
    arts = [{"id": uid(str(i)), "title": f"t {i}"} for i in range(1001)]
    cursor = feed_cursor(client)
    assert_error(client.post("/v1/articles", {"articles": arts}), 413, "too_many_articles")
    assert_not_stored(client, arts[0]["id"])
    assert_no_changes_since(client, cursor)


# -- PUT -------------------------------------------------------------------

def test_put_creates_then_replaces(client, uid):
    aid = uid()
    a = article(aid)
    put_article(client, aid, a, expect=201)
    cursor = feed_cursor(client)
    put_article(client, aid, a, expect=200)
    assert_no_changes_since(client, cursor)
    b = dict(a, title="A corrected headline about plimbering vaxes")
    put_article(client, aid, b, expect=200)
    assert get_article(client, aid)["title"] == b["title"]


def test_put_without_id_in_body_uses_the_path_id(client, uid):
    aid = uid()
    a = article(aid)
    del a["id"]
    put_article(client, aid, a, expect=201)
    assert get_article(client, aid)["id"] == aid


def test_put_with_another_id_in_body_is_refused(client, uid):
    aid = uid("path")
    cursor = feed_cursor(client)
    assert_error(client.put(article_path(aid), article(uid("body"))), 422, "id_mismatch")
    assert_not_stored(client, aid)
    assert_not_stored(client, uid("body"))
    assert_no_changes_since(client, cursor)


def test_put_with_new_text_moves_article_to_the_matching_group(client, uid):
    a = article(uid("a"))
    pa = post_article(client, a)
    b = article(uid("b"))
    pb = post_article(client, b)
    assert pb["cluster"] != pa["cluster"]
    moved = put_article(client, b["id"], same_text(a, b["id"]), expect=200)
    assert moved["duplicate_of"] == a["id"]
    assert moved["cluster"] == pa["cluster"]
    got = get_article(client, b["id"])
    assert (got["duplicate_of"], got["cluster"]) == (a["id"], pa["cluster"])
    assert got["title"] == a["title"]
    assert_error(client.get("/v1/clusters/" + pb["cluster"]), 404, "not_found")


def test_put_that_moves_an_article_reports_both_clusters(client, uid):
    a = article(uid("a"))
    pa = post_article(client, a)
    pb = post_article(client, article(uid("b")))
    cursor = feed_cursor(client)
    put_article(client, pb["id"], same_text(a, pb["id"]), expect=200)
    changed = {c["id"]: c for c in changes_since(client, cursor)}
    assert set(changed) == {pa["cluster"], pb["cluster"]}, changed
    assert changed[pb["cluster"]].get("removed") is True
    assert changed[pa["cluster"]]["size"] == 2


def test_bad_put_leaves_the_stored_article_alone(client, uid):
    a = article(uid())
    post_article(client, a)
    r = client.request("PUT", article_path(a["id"]), b'{"title": ', {"Content-Type": "application/json"})
    assert_error(r, 400, "malformed_json")
    assert_error(client.put(article_path(a["id"]), dict(a, title="", body="")), 422, "empty_article")
    assert get_article(client, a["id"])["title"] == a["title"]


@pytest.mark.parametrize("weird_id", ["a b/c", "what?&=#", "100%", "é/ü", "../etc/passwd", "+plus+"])
def test_ids_in_paths_are_percent_decoded(client, uid, weird_id):
    aid = f"{uid()}-{weird_id}"
    a = article(aid)
    put_article(client, aid, a, expect=201)
    got = get_article(client, aid)
    assert got["id"] == aid
    b = article(aid + "-posted")
    post_article(client, b)
    assert get_article(client, b["id"])["id"] == b["id"]
    assert_status(client.delete(article_path(aid)), 204)
    assert_not_stored(client, aid)


# -- GET and DELETE --------------------------------------------------------

def test_unknown_article_is_404(client, uid):
    assert_error(client.get(article_path(uid("never"))), 404, "not_found")


def test_delete_removes_the_article(client, uid):
    a = article(uid())
    post_article(client, a)
    r = client.delete(article_path(a["id"]))
    assert r.status == 204, r
    assert r.body == b"", r
    assert_not_stored(client, a["id"])
    assert_error(client.delete(article_path(a["id"])), 404, "not_found")


def test_deleted_id_can_be_posted_again(client, uid):
    a = article(uid())
    post_article(client, a)
    assert_status(client.delete(article_path(a["id"])), 204)
    post_article(client, dict(a, title="A new story under the old id"), expect=201)


def test_deleting_the_only_article_removes_its_cluster_once(client, uid):
    a = article(uid())
    cluster = post_article(client, a)["cluster"]
    cursor = feed_cursor(client)
    assert_status(client.delete(article_path(a["id"])), 204)
    changed = changes_since(client, cursor)
    assert [(c["id"], c.get("removed")) for c in changed] == [(cluster, True)], changed
    assert_error(client.get("/v1/clusters/" + cluster), 404, "not_found")
    after = feed(client, since=cursor)["next"]
    assert feed(client, since=after)["clusters"] == [], "the removal is reported again"


def test_deleting_a_group_root_promotes_the_next_oldest(client, uid):
    a = article(uid("a"))
    post_article(client, a)
    b = post_article(client, same_text(a, uid("b")))
    c = post_article(client, same_text(a, uid("c")))
    assert b["duplicate_of"] == c["duplicate_of"] == a["id"]
    assert_status(client.delete(article_path(a["id"])), 204)
    gb, gc = get_article(client, b["id"]), get_article(client, c["id"])
    assert gb["duplicate_of"] is None, gb
    assert gc["duplicate_of"] == b["id"], gc
    assert gb["cluster"] == gc["cluster"]
    cluster = get_cluster(client, gb["cluster"])
    assert cluster["size"] == 2
    # a new copy now points to the new root
    d = post_article(client, same_text(a, uid("d")))
    assert d["duplicate_of"] == b["id"], d


def test_deleting_a_member_shrinks_its_cluster(client, uid):
    a = article(uid("a"))
    first = post_article(client, a)
    b = post_article(client, same_text(a, uid("b")))
    assert get_cluster(client, first["cluster"])["size"] == 2
    cursor = feed_cursor(client)
    assert_status(client.delete(article_path(b["id"])), 204)
    cluster = get_cluster(client, first["cluster"])
    assert cluster["size"] == 1
    assert [x["id"] for x in cluster["articles"]] == [a["id"]]
    changed = changes_since(client, cursor)
    assert [c["id"] for c in changed] == [first["cluster"]], changed
    assert not changed[0].get("removed"), changed
