"""
Bad requests: each gets its status and a JSON error, stores nothing, and the
daemon keeps serving.
"""

import json

import pytest

from e2e_helpers import (article, assert_error, assert_healthy, assert_status, assert_no_changes_since,
                         assert_not_stored, feed_cursor, post_article)
from harness import article_path

JSON = {"Content-Type": "application/json"}
ID = "bad-request-article"      # suffixed per test; must never be stored


def body_of(**fields):
    a = {"id": ID, "title": "A headline", "body": "Some text."}
    a.update(fields)
    return json.dumps({k: v for k, v in a.items() if v is not ...}).encode()


# (test id, body bytes, headers, status, error codes)
BAD_POSTS = [
    ("truncated_json", b'{"id": "' + ID.encode() + b'", "title": ', JSON, 400, "malformed_json"),
    ("trailing_garbage", body_of() + b" xyz", JSON, 400, "malformed_json"),
    ("empty_body", b"", JSON, 400, "malformed_json"),
    ("not_json_at_all", b"id=1&title=x", JSON, 400, "malformed_json"),
    ("top_level_array", b'[{"id": "' + ID.encode() + b'", "title": "x"}]', JSON, 400, "wrong_type"),
    ("top_level_string", b'"hello"', JSON, 400, "wrong_type"),
    ("top_level_number", b"42", JSON, 400, "wrong_type"),
    ("top_level_null", b"null", JSON, 400, "wrong_type"),
    ("articles_not_array", json.dumps({"articles": {"id": ID}}).encode(), JSON, 400, "wrong_type"),
    ("id_is_number", json.dumps({"id": 5, "title": "x"}).encode(), JSON, 400, "wrong_type"),
    ("title_is_number", body_of(title=5), JSON, 400, "wrong_type"),
    ("body_is_array", body_of(body=["a"]), JSON, 400, "wrong_type"),
    ("source_is_object", body_of(source={"a": 1}), JSON, 400, "wrong_type"),
    ("url_is_bool", body_of(url=True), JSON, 400, "wrong_type"),
    ("published_at_is_number", body_of(published_at=1687161600), JSON, 400, "wrong_type"),
    ("missing_id", body_of(id=...), JSON, 422, "missing_id"),
    ("empty_id", body_of(id=""), JSON, 422, "missing_id"),
    ("id_too_long", body_of(id="x" * 257), JSON, 422, "id_too_long"),
    ("no_title_or_body", body_of(title=..., body=...), JSON, 422, "empty_article"),
    ("empty_title_and_body", body_of(title="", body=""), JSON, 422, "empty_article"),
    ("timestamp_word", body_of(published_at="yesterday"), JSON, 422, "bad_timestamp"),
    ("timestamp_impossible_date", body_of(published_at="2023-13-40T00:00:00Z"), JSON, 422,
     "bad_timestamp"),
    ("timestamp_without_offset", body_of(published_at="2023-06-19T08:00:00"), JSON, 422,
     "bad_timestamp"),
    ("timestamp_date_only", body_of(published_at="2023-06-19"), JSON, 422, "bad_timestamp"),
    ("timestamp_hour_25", body_of(published_at="2023-06-19T25:00:00Z"), JSON, 422, "bad_timestamp"),
    ("raw_invalid_utf8", body_of(title="T\udcff"), JSON, 422, "invalid_utf8"),
    ("overlong_utf8", body_of(title="A").replace(b'"A"', b'"\xc0\xafA"'), JSON, 422, "invalid_utf8"),
    ("utf8_surrogate_bytes", body_of(title="A").replace(b'"A"', b'"\xed\xa0\x80A"'), JSON, 422,
     "invalid_utf8"),
    ("lone_surrogate_escape", body_of(title="A").replace(b'"A"', b'"\\ud800A"'), JSON, (400, 422),
     ("malformed_json", "invalid_utf8")),
    ("text_plain", body_of(), {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
    ("form_encoded", body_of(), {"Content-Type": "application/x-www-form-urlencoded"}, 415,
     "unsupported_media_type"),
    ("no_content_type", body_of(), {}, 415, "unsupported_media_type"),
    ("json_lookalike", body_of(), {"Content-Type": "application/jsonx"}, 415,
     "unsupported_media_type"),
]


def _encode(body):
    # body_of() with a lone \udcff surrogate stands for the raw byte 0xff.
    return body.replace(b"\\udcff", b"\xff")


@pytest.mark.parametrize("name,body,headers,status,codes", BAD_POSTS, ids=[c[0] for c in BAD_POSTS])
def test_bad_post_is_refused_and_stores_nothing(client, uid, name, body, headers, status, codes):
    aid = uid()
    body = _encode(body).replace(ID.encode(), aid.encode())
    cursor = feed_cursor(client)
    reply = client.request("POST", "/v1/articles", body, headers)
    assert_error(reply, status, codes)
    if name != "id_too_long":
        assert_not_stored(client, aid)
    assert_no_changes_since(client, cursor)
    assert_healthy(client)


@pytest.mark.parametrize("method,path", [("POST", "/v1/articles"), ("PUT", None),
                                         ("POST", "/v1/similar")])
def test_empty_body_is_named_in_the_message(client, uid, method, path):
    reply = client.request(method, path or article_path(uid()), b"", JSON)
    err = assert_error(reply, 400, "malformed_json")
    assert "empty" in err["message"] and "line -1" not in err["message"], err


@pytest.mark.parametrize("name,body,headers,status,codes",
                         [c for c in BAD_POSTS if c[0] not in ("articles_not_array",)],
                         ids=[c[0] for c in BAD_POSTS if c[0] not in ("articles_not_array",)])
def test_bad_similar_query_is_refused(client, uid, name, body, headers, status, codes):
    if name in ("missing_id", "empty_id", "id_too_long"):
        pytest.skip("the id is optional for /v1/similar and nothing is stored under it")
    body = _encode(body).replace(ID.encode(), uid().encode())
    assert_error(client.request("POST", "/v1/similar", body, headers), status, codes)


@pytest.mark.parametrize("name,body,headers,status,codes",
                         [c for c in BAD_POSTS if c[0] not in ("articles_not_array", "missing_id")],
                         ids=[c[0] for c in BAD_POSTS if c[0] not in ("articles_not_array", "missing_id")])
def test_bad_put_is_refused_and_stores_nothing(client, uid, name, body, headers, status, codes):
    aid = uid()
    body = _encode(body).replace(ID.encode(), aid.encode())
    if name in ("empty_id", "id_too_long", "id_is_number"):
        # the body's id differs from the path's: a mismatch, or the type error first
        status, codes = ((400, 422), ("wrong_type", "id_mismatch", "missing_id", "id_too_long"))
    cursor = feed_cursor(client)
    assert_error(client.request("PUT", article_path(aid), body, headers), status, codes)
    assert_not_stored(client, aid)
    assert_no_changes_since(client, cursor)


@pytest.mark.parametrize("content_type", [
    "application/json; charset=utf-8",
    "application/json;charset=UTF-8",
    "application/json",
])
def test_json_content_type_with_charset_is_accepted(client, uid, content_type):
    a = article(uid())
    reply = client.request("POST", "/v1/articles", json.dumps(a).encode(),
                           {"Content-Type": content_type})
    assert reply.status == 201, reply


def test_content_type_is_case_insensitive(client, uid):
    # RFC 9110 8.3.1: type and subtype are case-insensitive.
    a = article(uid())
    reply = client.request("POST", "/v1/articles", json.dumps(a).encode(),
                           {"Content-Type": "Application/JSON"})
    assert reply.status == 201, reply


@pytest.mark.parametrize("method,path,allowed", [
    ("PATCH", "/v1/articles", {"POST"}),
    ("GET", "/v1/articles", {"POST"}),
    ("DELETE", "/v1/articles", {"POST"}),
    ("PATCH", "/v1/articles/some-id", {"GET", "PUT", "DELETE"}),
    ("POST", "/v1/articles/some-id", {"GET", "PUT", "DELETE"}),
    ("DELETE", "/v1/clusters", {"GET"}),
    ("POST", "/v1/clusters", {"GET"}),
    ("PUT", "/v1/clusters/s-000001", {"GET"}),
    ("GET", "/v1/similar", {"POST"}),
    ("POST", "/healthz", {"GET"}),
    ("POST", "/readyz", {"GET"}),
])
def test_wrong_method_is_405_with_allow(client, method, path, allowed):
    reply = client.request(method, path, b"{}" if method in ("POST", "PUT", "PATCH") else None,
                           JSON if method in ("POST", "PUT", "PATCH") else {})
    assert_error(reply, 405, "method_not_allowed")
    allow = {m.strip().upper() for m in (reply.header("Allow") or "").split(",") if m.strip()}
    assert allowed <= allow, f"Allow {reply.header('Allow')!r}, want at least {sorted(allowed)}"


@pytest.mark.parametrize("path", ["/v1", "/v1/", "/v2/articles", "/v1/nothing",
                                  "/healthz/extra", "/v1/articlesx"])
def test_unknown_path_is_404(client, path):
    assert_error(client.get(path), 404, "not_found")


def test_bad_batch_body_is_refused_whole(client, uid):
    cursor = feed_cursor(client)
    good = article(uid("good"))
    raw = json.dumps({"articles": [good]}).encode()[:-3]
    assert_error(client.request("POST", "/v1/articles", raw, JSON), 400, "malformed_json")
    assert_not_stored(client, good["id"])
    assert_no_changes_since(client, cursor)


def test_deeply_nested_json_is_refused(client):
    for body in (b"[" * 100000, b'{"a":' * 50000, b"[" * 100000 + b"]" * 100000,
                 b'{"articles": [' + b"[" * 40 + b"]" * 40 + b"]}"):
        reply = client.request("POST", "/v1/articles", body, JSON)
        assert_error(reply, 400, "too_deep")
    assert_healthy(client)


def test_nesting_within_the_limit_is_parsed(client, uid):
    # 32 levels by default: an article inside a batch is three
    body = {"articles": [article(uid(), title="nested fine")]}
    body["articles"][0]["extra"] = json.loads("[" * 20 + "]" * 20)
    reply = client.request("POST", "/v1/articles", json.dumps(body).encode(), JSON)
    assert_status(reply, 200)


def test_nul_in_text_never_gets_a_server_error(client, uid):
    raw = json.dumps(article(uid(), title="before\u0000after")).encode()
    reply = client.request("POST", "/v1/articles", raw, JSON)
    assert reply.status in (201, 400, 422), reply
    if reply.status != 201:
        assert_error(reply, reply.status, ("malformed_json", "invalid_utf8", "wrong_type",
                                           "bad_text", "empty_article"))
    assert_healthy(client)


def test_errors_leave_the_daemon_serving(client, uid):
    # A quick mix of every error class, then a normal write and read.
    for _, body, headers, _, _ in BAD_POSTS:
        client.request("POST", "/v1/articles", _encode(body), headers)
    a = article(uid())
    post_article(client, a)
    assert_healthy(client)
