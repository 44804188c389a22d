"""POST /v1/similar: what POST would decide, with nothing stored."""

from e2e_helpers import (CLUSTER_ID, STATUSES, article, assert_matches,
                         assert_no_changes_since, assert_not_stored, assert_status,
                         feed_cursor, post_article, same_text)
from harness import article_path


def similar(client, a):
    body = assert_status(client.post("/v1/similar", a), 200)
    assert body.get("status") in STATUSES, body
    assert body.get("cluster") is None or CLUSTER_ID.match(body["cluster"]), body
    assert_matches(body, max_matches=5)
    return body


def test_copy_of_a_stored_article_is_found_without_storing_it(client, uid):
    a = article(uid("stored"))
    stored = post_article(client, a)
    cursor = feed_cursor(client)
    query = same_text(a, uid("query"))
    body = similar(client, query)
    assert body["status"] == "exact_duplicate"
    assert body["duplicate_of"] == a["id"]
    assert body["cluster"] == stored["cluster"]
    assert body["matches"][0]["id"] == a["id"]
    assert_not_stored(client, query["id"])
    assert_no_changes_since(client, cursor)


def test_similar_needs_no_id(client, uid):
    a = article(uid("stored"))
    stored = post_article(client, a)
    query = same_text(a, "ignored")
    del query["id"]
    body = similar(client, query)
    assert body["cluster"] == stored["cluster"]
    assert body["duplicate_of"] == a["id"]


def test_unseen_text_would_start_a_new_story(client, uid):
    cursor = feed_cursor(client)
    body = similar(client, article(uid()))
    assert body["cluster"] is None
    assert body["duplicate_of"] is None
    assert body["status"] == "new_story"
    assert body["matches"] == []
    assert_no_changes_since(client, cursor)
    assert_not_stored(client, uid())


def test_similar_agrees_with_the_post_that_follows(client, uid):
    a = article(uid("a"))
    post_article(client, a)
    b = same_text(a, uid("b"))
    predicted = similar(client, b)
    posted = post_article(client, b)
    for field in ("cluster", "duplicate_of", "status"):
        assert predicted[field] == posted[field], (field, predicted, posted)
    assert [m["id"] for m in predicted["matches"]] == [m["id"] for m in posted["matches"]]


def test_similar_with_the_id_of_a_stored_article_changes_nothing(client, uid):
    a = article(uid())
    post_article(client, a)
    cursor = feed_cursor(client)
    similar(client, dict(a, title="Something else entirely, about trombling vexes"))
    assert_status(client.get(article_path(a["id"])), 200)
    assert_no_changes_since(client, cursor)
