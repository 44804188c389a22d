"""
e2e_helpers: what the tests say to storyd, in the words of the API.

Articles built here use made-up words (text_for), so an article a test does
not mean to match anything starts a story of its own, whatever else the
shared daemon holds.
"""

import datetime
import json
import os
import random
import re

import pytest

from harness import article_path, cluster_path

CLUSTER_ID = re.compile(r"^s-\d{6,}$")
UTC_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SIMHASH = re.compile(r"^[0-9a-f]{16}$")
STATUSES = {"new_story", "joined_story", "near_duplicate", "exact_duplicate"}
MATCH_KINDS = {"exact_duplicate", "near_duplicate", "related"}

_SYLLABLES = ["ka", "zo", "mi", "tu", "re", "vo", "lan", "qui", "dr", "bex", "fo", "gu",
              "pel", "sha", "wy", "nok", "tri", "jum", "cal", "ox", "bri", "yel", "mar", "ush"]


def text_for(seed, words=40):
    """Deterministic nonsense text that shares (almost) no word with any other seed's."""
    rng = random.Random(str(seed))
    vocab = ["".join(rng.choice(_SYLLABLES) for _ in range(4)) for _ in range(max(8, words // 2))]
    out = []
    for i in range(words):
        out.append(rng.choice(vocab))
        if i % 12 == 11:
            out[-1] += "."
    return " ".join(out).capitalize() + "."


def article(article_id, title=None, body=None, **fields):
    """An article object with made-up text unless title or body is given."""
    a = {"id": article_id}
    if title is None and body is None:
        title = text_for(f"{article_id}/title", 8)
        body = text_for(f"{article_id}/body", 60)
    if title is not None:
        a["title"] = title
    if body is not None:
        a["body"] = body
    a.update(fields)
    return a


def same_text(a, new_id, **fields):
    """A copy of article a (title and body) under another id."""
    b = {k: v for k, v in a.items() if k in ("title", "body")}
    b["id"] = new_id
    b.update(fields)
    return b


# Tests that start daemons of their own cannot run against STORYD_TEST_ADDR.
needs_own_daemon = pytest.mark.skipif(
    bool(os.environ.get("STORYD_TEST_ADDR")),
    reason="needs a daemon of its own; STORYD_TEST_ADDR is set")


def sanitized(binary):
    """Built with AddressSanitizer (whose shadow memory needs a huge address space)."""
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


# -- replies ---------------------------------------------------------------

def assert_json(reply):
    """The reply carries Content-Type: application/json and a JSON body; the body."""
    assert reply.media_type == "application/json", \
        f"Content-Type {reply.header('Content-Type')!r}, want application/json: {reply!r}"
    try:
        return reply.json
    except ValueError as e:
        raise AssertionError(f"body is not JSON ({e}): {reply!r}")


def assert_status(reply, status):
    assert reply.status == status, f"status {reply.status}, want {status}: {reply!r}"
    if status not in (204, 304):
        return assert_json(reply)
    return None


def assert_error(reply, status, codes):
    """status, and {"error": {"code": one of codes, "message": non-empty}}; the error object."""
    if isinstance(codes, str):
        codes = (codes,)
    statuses = status if isinstance(status, (tuple, list, set)) else (status,)
    assert reply.status in statuses, f"status {reply.status}, want {status} {codes}: {reply!r}"
    body = assert_json(reply)
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), \
        f"want {{\"error\": {{...}}}}, got {body!r}"
    err = body["error"]
    assert err.get("code") in codes, f"error code {err.get('code')!r}, want one of {codes}"
    assert isinstance(err.get("message"), str) and err["message"], f"no message: {err!r}"
    return err


def assert_verdict(body, article_id=None):
    """The shape of a POST/PUT reply for one article."""
    assert isinstance(body, dict), body
    if article_id is not None:
        assert body.get("id") == article_id, body
    assert isinstance(body.get("cluster"), str) and CLUSTER_ID.match(body["cluster"]), body
    assert body.get("duplicate_of") is None or isinstance(body["duplicate_of"], str), body
    assert body.get("status") in STATUSES, body
    assert_matches(body)
    return body


def assert_matches(body, max_matches=None):
    matches = body.get("matches")
    assert isinstance(matches, list), body
    for m in matches:
        assert isinstance(m.get("id"), str), m
        assert m.get("kind") in MATCH_KINDS, m
        assert isinstance(m.get("similarity"), (int, float)) and 0 <= m["similarity"] <= 1, m
    sims = [m["similarity"] for m in matches]
    assert sims == sorted(sims, reverse=True), f"matches not best first: {matches}"
    if max_matches is not None:
        assert len(matches) <= max_matches, f"{len(matches)} matches, at most {max_matches}"
    return matches


# -- articles --------------------------------------------------------------

def post_article(client, a, expect=201):
    """POST one article; its reply body, after checking the status and shape."""
    reply = client.post("/v1/articles", a)
    body = assert_status(reply, expect)
    return assert_verdict(body, a.get("id"))


def post_batch(client, articles, expect=200):
    """POST {"articles": [...]}; the results list, after checking it matches the request."""
    reply = client.post("/v1/articles", {"articles": articles})
    body = assert_status(reply, expect)
    assert isinstance(body, dict) and isinstance(body.get("results"), list), body
    assert len(body["results"]) == len(articles), \
        f"{len(body['results'])} results for {len(articles)} articles"
    return body["results"]


def put_article(client, article_id, a, expect):
    reply = client.put(article_path(article_id), a)
    body = assert_status(reply, expect)
    return assert_verdict(body, article_id)


def get_article(client, article_id, expect=200):
    reply = client.get(article_path(article_id))
    if expect == 404:
        assert_error(reply, 404, "not_found")
        return None
    return assert_status(reply, expect)


def assert_not_stored(client, article_id):
    reply = client.get(article_path(article_id))
    assert reply.status == 404, f"{article_id!r} was stored: {reply!r}"


def get_cluster(client, cluster_id):
    body = assert_status(client.get(cluster_path(cluster_id)), 200)
    assert isinstance(body.get("articles"), list), body
    return body


def member_ids(cluster):
    return sorted(a["id"] for a in cluster["articles"])


# -- the cluster feed ------------------------------------------------------

def feed(client, since=None, limit=None, min_size=None, expect=200, headers=None):
    params = []
    if since is not None:
        params.append(f"since={since}")
    if limit is not None:
        params.append(f"limit={limit}")
    if min_size is not None:
        params.append(f"min_size={min_size}")
    path = "/v1/clusters" + ("?" + "&".join(params) if params else "")
    reply = client.get(path, headers=headers)
    if expect is None:
        return reply
    body = assert_status(reply, expect)
    assert isinstance(body.get("clusters"), list), body
    assert isinstance(body.get("next"), str), f"next is not a string cursor: {body.get('next')!r}"
    return body


def feed_cursor(client):
    """The cursor after every change so far (pages through the whole feed)."""
    since = None
    for _ in range(1000):
        body = feed(client, since=since, limit=1000)
        if not body["clusters"]:
            return body["next"] if since is None else since
        assert body["next"] != since, f"cursor does not advance past {since}: {body}"
        since = body["next"]
    raise AssertionError("the cluster feed never ends")


def changes_since(client, cursor):
    """Every cluster changed after cursor (all pages)."""
    out = []
    since = cursor
    for _ in range(1000):
        body = feed(client, since=since, limit=1000)
        if not body["clusters"]:
            return out
        out += body["clusters"]
        assert body["next"] != since, f"cursor does not advance past {since}: {body}"
        since = body["next"]
    raise AssertionError("the cluster feed never ends")


def assert_no_changes_since(client, cursor):
    changed = changes_since(client, cursor)
    assert changed == [], f"clusters changed after {cursor}: {changed}"


def assert_healthy(client):
    body = assert_status(client.get("/healthz"), 200)
    assert body == {"status": "ok"}, body


# -- dates -----------------------------------------------------------------

def parse_utc(s):
    assert UTC_SECONDS.match(s), f"{s!r} is not YYYY-MM-DDTHH:MM:SSZ"
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def spread_over_blinken_days(i, n):
    """The i-th of n times spread evenly over 2023-06-18 and 19 (UTC), the days of the
    Blinken pieces: dates for undated data sets posted among them."""
    start = datetime.datetime(2023, 6, 18, tzinfo=datetime.timezone.utc)
    t = start + datetime.timedelta(seconds=i * 48 * 3600 // n)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- shared data -----------------------------------------------------------

def shared_data_dir():
    d = os.environ.get("STORYD_SHARED_DATA")
    if d:
        return d
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "..", "shared", "data"))


def load_jsonl(name):
    with open(os.path.join(shared_data_dir(), name), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def as_posted(record, with_date=True):
    """A data-set record as an article object: no story label, no null published_at."""
    a = {k: record[k] for k in ("id", "title", "body", "source") if record.get(k) is not None}
    if with_date and record.get("published_at"):
        a["published_at"] = record["published_at"]
    return a
