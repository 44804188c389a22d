"""The ingest path: escaped strings, replies written directly, errors named as API.md says."""

import json
import select
import socket
import time
from concurrent.futures import ThreadPoolExecutor

from e2e_helpers import (article, assert_error, assert_status, assert_verdict, get_article,
                         post_article, post_batch, same_text, text_for)


def post_raw(client, body):
    return client.request("POST", "/v1/articles", body.encode("utf-8") if isinstance(body, str)
                          else body, {"Content-Type": "application/json"})


def test_escaped_strings_read_back_decoded(client, uid):
    # every escape JSON has, a surrogate pair and raw UTF-8, in one title
    a_id = uid()
    title = 'say \\"hi\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9\\u00E9 \\ud83d\\ude80 Zürich news today'
    reply = post_raw(client, '{"id":"%s","title":"%s","body":"some words of text"}' % (a_id, title))
    assert_status(reply, 201)
    assert get_article(client, a_id)["title"] == json.loads('"%s"' % title)


def test_reply_escapes_the_id_as_jansson_does(client, uid):
    a_id = uid() + '-"q"\\\t\u0001é'
    reply = post_raw(client, json.dumps({"id": a_id, "title": "quake hits the coast"}))
    body = assert_status(reply, 201)
    assert body["id"] == a_id
    assert '\\u0001' in reply.body.decode("utf-8")


def long_id(uid, tag):
    """An id of the 256 bytes allowed, most of them escaped in a reply (~1 KB)."""
    base = uid(tag) + "-"
    return base + '\u0001"' * ((256 - len(base)) // 2)


def test_replies_of_many_long_escaped_ids_come_whole(client, uid):
    # five matches of ~1 KB each and the id: a verdict of ~6 KB, a batch of ~13 KB
    first = article(long_id(uid, "0"))
    assert len(first["id"].encode()) <= 256
    post_article(client, first)
    for i in range(1, 6):
        post_article(client, same_text(first, long_id(uid, str(i))))
    copy = same_text(first, long_id(uid, "last"))
    reply = post_raw(client, json.dumps(copy))
    body = assert_status(reply, 201)
    assert body["id"] == copy["id"] and body["duplicate_of"] == first["id"]
    assert len(body["matches"]) == 5 and len(reply.body) > 5 * 1024
    assert all(len(m["id"]) == len(first["id"]) for m in body["matches"]), body["matches"]
    results = post_batch(client, [same_text(first, long_id(uid, f"b{i}")) for i in range(2)])
    assert [r["duplicate_of"] for r in results] == [first["id"]] * 2


def test_unknown_fields_of_any_type_are_ignored(client, uid):
    ok = {"id": uid(), "title": "storm in the north", "n": 5, "tags": ["a", {"b": 1.5}]}
    assert_status(client.post("/v1/articles", ok), 201)
    assert_error(client.post("/v1/articles", {"id": uid(), "title": 5}), 400, "wrong_type")


def test_malformed_bodies_get_the_same_errors(client, uid):
    assert_error(post_raw(client, '{"id":"x","title":"a","title":"b"}'), 400, "malformed_json")
    assert_error(post_raw(client, '{"id":"x","title":"a\\u0000"}'), 400, "malformed_json")
    assert_error(post_raw(client, '{"id":"x","title":"a\\ud800"}'), 400, "malformed_json")
    assert_error(post_raw(client, b'{"id":"x","title":"\xff"}'), 422, "invalid_utf8")
    assert_error(post_raw(client, '{"id":"x","title":"a"} x'), 400, "malformed_json")


def test_batch_errors_name_their_ids(client, uid):
    good, empty, long_id = uid(), uid(), "x" * 300
    reply = post_raw(client, json.dumps({"articles": [
        {"id": good, "title": "fire at the harbour"}, {"id": empty}, {"id": long_id, "title": "t"},
        {"title": "no id here"}]}))
    results = assert_status(reply, 200)["results"]
    assert results[0]["id"] == good and "error" not in results[0]
    assert results[1] == {"id": empty, "error": results[1]["error"]}
    assert results[1]["error"]["code"] == "empty_article"
    assert results[2]["id"] == long_id and results[2]["error"]["code"] == "id_too_long"
    assert results[3]["id"] is None and results[3]["error"]["code"] == "missing_id"


def test_put_with_an_id_that_is_not_utf8_is_refused(client):
    reply = client.request("PUT", "/v1/articles/a%FFb", b'{"title":"some news"}',
                           {"Content-Type": "application/json"})
    assert_error(reply, 422, "invalid_utf8")
    assert client.get("/v1/articles/a%FFb").status == 404


def test_single_posts_arriving_together_are_each_stored_once(fresh_daemon, uid):
    """
    Single posts that arrive in one loop turn are stored together at its
    end. 16 connections at once: 48 articles of their own, each created, and
    16 posts of one article, created once and found the same 15 times.
    """
    same = article(uid("same"))
    ids = [uid(f"p{i}") for i in range(64)]

    def post(i):
        return i, fresh_daemon.client().post("/v1/articles", same if i % 4 == 0 else article(ids[i]))

    with ThreadPoolExecutor(16) as pool:
        replies = dict(pool.map(post, range(64)))
    same_replies = [replies[i] for i in range(0, 64, 4)]
    assert sorted(r.status for r in same_replies) == [200] * 15 + [201]
    clusters = {assert_verdict(assert_status(r, r.status), same["id"])["cluster"]
                for r in same_replies}
    assert len(clusters) == 1
    for i in range(64):
        if i % 4:
            assert_verdict(assert_status(replies[i], 201), ids[i])
            assert get_article(fresh_daemon.client(), ids[i])["id"] == ids[i]
    assert get_article(fresh_daemon.client(), same["id"])["title"] == same["title"]


def _read_reply(sock):
    """One HTTP reply off a raw socket: its status and its JSON body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "storyd closed the connection"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "storyd closed the connection"
        body += chunk
    return int(head.split(b" ", 2)[1]), json.loads(body)


def metric(client, name):
    for line in client.get("/metrics").body.decode("utf-8").splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


def fingerprinted_ahead(client):
    return metric(client, "storyd_articles_fingerprinted_ahead_total")


def _request(data):
    """A POST of data to /v1/articles, as the bytes on the wire."""
    return (b"POST /v1/articles HTTP/1.1\r\nHost: storyd\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(data) + data)


def test_posts_of_one_turn_are_each_answered_as_if_alone(fresh_daemon, uid):
    """
    Posts read in one loop turn are decoded and fingerprinted by the second
    thread as they are read, and by the loop from the turn's end. Good
    posts, bad ones of every kind, small batches, a repeat and a conflict,
    all sent at once on their own connections, get the replies they get
    alone, until the thread has done some of them.
    """
    client = fresh_daemon.client()
    before = fingerprinted_ahead(client)
    for rnd in range(40):
        good = [article(uid(f"r{rnd}g{i}")) for i in range(12)]
        twin = article(uid(f"r{rnd}twin"))
        clash_id = uid(f"r{rnd}clash")
        posts = [(json.dumps(a).encode(), 201, None) for a in good] + [
            (b'{"id":"x","title":', 400, "malformed_json"),
            (b'{"id":"' + uid().encode() + b'","title":"\xff"}', 422, "invalid_utf8"),
            (json.dumps({"id": uid(), "title": 5}).encode(), 400, "wrong_type"),
            (json.dumps({"id": uid(), "title": "", "body": ""}).encode(), 422, "empty_article"),
            (json.dumps({"title": "no id here"}).encode(), 422, "missing_id"),
            (json.dumps({"articles": [article(uid(f"r{rnd}b0")), article(uid(f"r{rnd}b1"))]})
             .encode(), 200, "batch"),
            # a batch whose key is spelled with an escape waits for the turn's end like a
            # single post, and the second thread leaves it to the loop
            (json.dumps({"articles": [article(uid(f"r{rnd}e0")), article(uid(f"r{rnd}e1"))]})
             .replace('"articles"', '"\\u0061rticles"', 1).encode(), 200, "batch"),
            (json.dumps(twin).encode(), "twin", None),
            (json.dumps(twin).encode(), "twin", None),
            (json.dumps(article(clash_id)).encode(), "clash", None),
            (json.dumps(article(clash_id, title="another text", body="another body")).encode(),
             "clash", None),
        ]
        socks = [fresh_daemon.client().connect() for _ in posts]
        try:
            for sock, (data, _, _) in zip(socks, posts):
                sock.sendall(_request(data))
            replies = [_read_reply(sock) for sock in socks]
        finally:
            for sock in socks:
                sock.close()
        pairs = {"twin": [], "clash": []}
        for (data, want, code), (status, body) in zip(posts, replies):
            if want in pairs:
                pairs[want].append(status)
            elif code == "batch":
                assert status == 200
                assert [r["status"] for r in body["results"]] == ["new_story"] * 2
            elif code is None:
                assert status == want, body
                assert body["id"] == json.loads(data)["id"] and body["status"] == "new_story"
            else:
                assert status == want and body["error"]["code"] == code, body
        # stored in the order the loop read them: one of each pair first
        assert sorted(pairs["twin"]) == [200, 201]
        assert sorted(pairs["clash"]) == [201, 409]
        for a in good:
            assert get_article(client, a["id"])["title"] == a["title"]
        if fingerprinted_ahead(client) > before:
            break
    assert fingerprinted_ahead(client) > before, "the second thread took no post in 40 rounds"


def test_a_large_batch_is_answered_while_another_is_still_read(client, uid):
    # Two batches on two connections, sent together: 6 articles, parsed on
    # the loop, and 400 (about 1 MB of log) with 3 MB more in a field storyd
    # ignores, so that it is still being read, a few KiB a loop turn, when
    # the first has been stored. The first must be answered at the end of
    # that turn, not held for a turn that reads nothing: its client would
    # sit idle, and under a steady load no such turn comes. (The second is
    # decoded apart, decode.h: were the first too, it could still be
    # decoding when the second had been read.)
    def batch(k, n, padding):
        items = [article(uid(f"{k}-{i}"), body=text_for(f"{uid()}-{k}-{i}", 200))
                 for i in range(n)]
        data = json.dumps({"articles": items, "padding": padding}).encode("utf-8")
        assert (len(data) < 16 * 1024) == (n < 64)
        return _request(data)

    first, second = (socket.create_connection((client.host, client.port), timeout=60)
                     for _ in range(2))
    requests = [(first, batch(0, 6, "")), (second, batch(1, 400, "x" * (3 << 20)))]
    try:
        for sock, req in requests:
            sock.sendall(req)
        status, body = _read_reply(first)
        assert status == 200
        assert [r["status"] for r in body["results"]] == ["new_story"] * 6
        waiting, _, _ = select.select([second], [], [], 0)
        assert not waiting, "the first batch was held until the second was stored"
        status, body = _read_reply(second)
        assert status == 200
        assert [r["status"] for r in body["results"]] == ["new_story"] * 400
    finally:
        first.close()
        second.close()


def decoded_apart(client):
    return metric(client, "storyd_bodies_decoded_apart_total")


def large_batch(uid, tag):
    items = [article(uid(f"{tag}{i}"), title=text_for(f"{uid()}-{tag}{i}/t", 8),
                     body=text_for(f"{uid()}-{tag}{i}", 120)) for i in range(100)]
    data = json.dumps({"articles": items}).encode("utf-8")
    assert len(data) >= 64 * 1024
    return items, data


def test_a_large_batch_is_decoded_apart_and_answered_alike(fresh_daemon, uid):
    """
    A body of 64 KiB or more, a batch, is parsed by the decode thread while
    the loop serves others. Its reply, its errors and what it stores are a
    body's parsed on the loop, and the metric counts it.
    """
    client = fresh_daemon.client()
    before = decoded_apart(client)
    items, _ = large_batch(uid, "ok")
    items[7] = {"id": items[7]["id"]}
    results = assert_status(post_raw(client, json.dumps({"articles": items})), 200)["results"]
    assert [r["id"] for r in results] == [a["id"] for a in items]
    assert results[7]["error"]["code"] == "empty_article"
    for i, r in enumerate(results):
        if i != 7:
            assert_verdict(r, items[i]["id"])
            assert get_article(client, items[i]["id"])["title"] == items[i]["title"]

    # refused whole, nothing of it stored
    items, data = large_batch(uid, "bad")
    assert_error(post_raw(client, data[:-2]), 400, "malformed_json")
    assert_error(post_raw(client, data.replace(b'"title"', b'"\xff"', 1)), 422, "invalid_utf8")
    deep = b'{"pad":"%s","articles":%s%s}' % (b"x" * (64 * 1024), b"[" * 40, b"]" * 40)
    assert_error(post_raw(client, deep), 400, "too_deep")
    for a in items:
        get_article(client, a["id"], expect=404)
    assert decoded_apart(client) == before + 4
    # a small body is parsed on the loop
    assert_error(post_raw(client, '{"articles": 5}'), 400, "wrong_type")
    assert decoded_apart(client) == before + 4


def _verdicts(results):
    """Each reply's status, duplicate and matches, with clusters named by their first article."""
    first = {}
    out = []
    for r in results:
        first.setdefault(r["cluster"], r["id"])
        out.append((r["id"], r["status"], r.get("duplicate_of"), first[r["cluster"]],
                    sorted((m["id"], m["kind"], m["similarity"]) for m in r["matches"])))
    return out


def test_a_batch_the_decode_thread_fingerprinted_is_decided_as_if_posted_one_by_one(
        start_storyd, uid):
    """
    The decode thread fingerprints most of a batch it decodes, and the loop
    takes those fingerprints instead of making them: near duplicates, exact
    copies and new stories within the batch get the verdicts, duplicates,
    clusters and similarities the same articles get posted one at a time.
    """
    base = [article(uid(f"base{i}"), title=text_for(f"{uid()}-t{i}", 8),
                    body=text_for(f"{uid()}-b{i}", 120)) for i in range(60)]
    items = base[:40]
    for i in range(20):      # near duplicates: a retitled copy with three words changed
        words = base[i]["body"].split()
        for j in (10, 50, 90):
            words[j] = "changed"
        items.append(article(uid(f"near{i}"), title=base[i]["title"] + " update",
                             body=" ".join(words)))
    items += [article(uid(f"copy{i}"), title=base[20 + i]["title"], body=base[20 + i]["body"])
              for i in range(10)]
    items += base[40:]
    data = json.dumps({"articles": items}).encode("utf-8")
    assert len(data) >= 16 * 1024

    batched, alone = start_storyd(), start_storyd()
    client = batched.client()
    before = metric(client, "storyd_articles_fingerprinted_apart_total")
    got = assert_status(post_raw(client, data), 200)["results"]
    made = metric(client, "storyd_articles_fingerprinted_apart_total") - before
    assert made >= len(items) // 2, f"the decode thread fingerprinted {made} of {len(items)}"
    one = alone.client()
    want = [assert_status(post_raw(one, json.dumps(a)), 201) for a in items]
    assert _verdicts(got) == _verdicts(want)
    statuses = {r["status"] for r in got}
    assert {"new_story", "exact_duplicate"} <= statuses and len(statuses) >= 3, statuses


def test_a_batch_of_16_kib_is_decoded_apart_and_a_single_article_of_that_size_is_not(
        fresh_daemon, uid):
    """
    A batch of 16 KiB or more (ten articles are about 23 KB) is parsed by
    the decode thread too; a single article, however long under 64 KiB,
    waits for the end of the loop turn with the other single posts. Both
    are stored and answered as before.
    """
    client = fresh_daemon.client()
    before = decoded_apart(client)
    items = [article(uid(f"ten{i}"), body=text_for(f"{uid()}-ten{i}", 300)) for i in range(10)]
    data = json.dumps({"articles": items}).encode("utf-8")
    assert 16 * 1024 <= len(data) < 64 * 1024
    results = assert_status(post_raw(client, data), 200)["results"]
    assert [r["id"] for r in results] == [a["id"] for a in items]
    for a, r in zip(items, results):
        assert_verdict(r, a["id"])
    assert decoded_apart(client) == before + 1

    one = article(uid("long"), body=text_for(f"{uid()}-long", 3000))
    data = json.dumps(one).encode("utf-8")
    assert 16 * 1024 <= len(data) < 64 * 1024
    assert_verdict(assert_status(post_raw(client, data), 201), one["id"])
    assert get_article(client, one["id"])["id"] == one["id"]
    # a batch under 16 KiB is parsed on the loop
    small = [article(uid(f"two{i}")) for i in range(2)]
    assert_status(post_raw(client, json.dumps({"articles": small})), 200)
    assert decoded_apart(client) == before + 1


def test_a_large_batch_whose_client_left_is_stored_as_if_read_whole(fresh_daemon, uid):
    # The client sends a batch and closes at once, while its body may be
    # still decoding: storyd stores it as it would have, and stays well.
    client = fresh_daemon.client()
    items, data = large_batch(uid, "gone")
    sock = socket.create_connection((client.host, client.port), timeout=10)
    sock.sendall(_request(data))
    sock.close()
    deadline = time.monotonic() + 10
    while client.get(f"/v1/articles/{items[-1]['id']}").status != 200:
        assert time.monotonic() < deadline, "the batch was not stored"
        time.sleep(0.05)
    for a in items:
        assert get_article(client, a["id"])["title"] == a["title"]
    assert decoded_apart(client) == 1


def test_single_posts_whose_clients_left_are_stored_as_if_answered(fresh_daemon, uid):
    # Posts sent at once on their own connections, each closed as soon as
    # sent: they wait for the end of the loop turn undecoded, the second
    # thread decoding some, and are stored all the same; storyd stays well.
    client = fresh_daemon.client()
    posts = [article(uid(f"left{i}")) for i in range(24)]
    socks = [client.connect() for _ in posts]
    for sock, a in zip(socks, posts):
        sock.sendall(_request(json.dumps(a).encode()))
    for sock in socks:
        sock.close()
    deadline = time.monotonic() + 10
    for a in posts:
        while client.get(f"/v1/articles/{a['id']}").status != 200:
            assert time.monotonic() < deadline, f"{a['id']} was not stored"
            time.sleep(0.05)
        assert get_article(client, a["id"])["title"] == a["title"]
    assert_status(client.post("/v1/articles", article(uid("after"))), 201)
