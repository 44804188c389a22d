"""
Limits and hostile clients: oversized bodies and batches, half-sent requests,
idle connections, random bytes. The daemon answers or hangs up, never crashes,
and stores nothing it did not acknowledge.
"""

import http.client
import json
import random
import re
import socket
import threading
import time

import pytest

from e2e_helpers import (article, assert_error, assert_healthy, assert_matches,
                         assert_no_changes_since, assert_not_stored, assert_status,
                         feed_cursor, get_article, needs_own_daemon, post_article, post_batch,
                         same_text)
from harness import Client, article_path

LIMITED_CONFIG = """\
[server]
max_request_bytes = 65536
max_body_bytes = 60000
max_batch = 3

[cluster]
max_matches = 2
"""


@pytest.fixture(scope="module")
def limited(module_storyd):
    """A daemon with small limits: 64 KiB requests, 60,000-byte bodies, batches of 3, 2 matches."""
    return module_storyd(config=LIMITED_CONFIG)


@pytest.fixture(scope="module")
def lclient(limited):
    return limited.client()


def raw_exchange(client, data, chunk=65536, timeout=5.0):
    """
    Send raw bytes and read until the server closes; (status or None, reply
    bytes, closed). A server that replies early and hangs up while we are still
    sending is fine: we read what it said (a reset may eat it: then b"").
    closed is False when the server neither answered in full nor hung up.
    """
    s = client.connect()
    s.settimeout(timeout)
    got, closed = b"", False
    try:
        try:
            for i in range(0, len(data), chunk):
                s.sendall(data[i:i + chunk])
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while True:
                part = s.recv(65536)
                if not part:
                    closed = True
                    break
                got += part
        except ConnectionResetError:
            closed = True
        except socket.timeout:
            pass
    finally:
        s.close()
    status = None
    if got.startswith(b"HTTP/1."):
        status = int(got.split(b" ", 2)[1])
    return status, got, closed


def request_bytes(method, path, body, headers=()):
    head = [f"{method} {path} HTTP/1.1", "Host: storyd", "Connection: close"]
    head += list(headers)
    if body is not None:
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")


# -- size limits -----------------------------------------------------------

@needs_own_daemon
def test_body_over_max_request_bytes_is_413(lclient, uid):
    aid = uid()
    cursor = feed_cursor(lclient)
    body = json.dumps(article(aid, body="word " * 200000)).encode()     # 1 MB
    status, got, closed = raw_exchange(lclient, request_bytes(
        "POST", "/v1/articles", body, ["Content-Type: application/json"]))
    assert status == 413 or (got == b"" and closed), f"no 413 and no hang-up: {got[:500]!r}"
    assert_not_stored(lclient, aid)
    assert_no_changes_since(lclient, cursor)
    assert_healthy(lclient)


@needs_own_daemon
def test_chunked_body_over_max_request_bytes_is_413(lclient, uid):
    aid = uid()
    body = json.dumps(article(aid, body="word " * 200000)).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 8192]), body[i:i + 8192])
                      for i in range(0, len(body), 8192)) + b"0\r\n\r\n"
    head = ("POST /v1/articles HTTP/1.1\r\nHost: storyd\r\nConnection: close\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    status, got, closed = raw_exchange(lclient, head + chunks)
    assert status == 413 or (got == b"" and closed), f"no 413 and no hang-up: {got[:500]!r}"
    assert_not_stored(lclient, aid)
    assert_healthy(lclient)


@needs_own_daemon
def test_body_just_under_max_request_bytes_is_accepted(lclient, uid):
    a = article(uid(), body="lorem ipsum dolor " * 3000)        # about 54 KB
    assert len(json.dumps(a)) < 65536
    post_article(lclient, a)


@needs_own_daemon
def test_body_over_max_body_bytes_is_422_and_not_stored(lclient, uid):
    aid = uid()
    cursor = feed_cursor(lclient)
    err = assert_error(lclient.post("/v1/articles", article(aid, body="lorem ipsum " * 5000 + "x")),
                       422, "field_too_long")
    assert "body" in err["message"], err
    assert_not_stored(lclient, aid)
    assert_no_changes_since(lclient, cursor)
    post_article(lclient, article(uid(), body="lorem ipsum " * 5000))     # 60,000 bytes: the limit


@needs_own_daemon
def test_batch_item_over_max_body_bytes_is_refused_alone(lclient, uid):
    arts = [article(uid("a")), article(uid("b"), body="dolor sit " * 6001), article(uid("c"))]
    results = post_batch(lclient, arts)
    assert results[1]["error"]["code"] == "field_too_long", results[1]
    assert_not_stored(lclient, arts[1]["id"])
    for i in (0, 2):
        assert "error" not in results[i], results[i]
        get_article(lclient, arts[i]["id"])


@needs_own_daemon
def test_batch_over_max_batch_is_413_and_stores_nothing(lclient, uid):
    arts = [article(uid(str(i))) for i in range(4)]
    cursor = feed_cursor(lclient)
    assert_error(lclient.post("/v1/articles", {"articles": arts}), 413, "too_many_articles")
    for a in arts:
        assert_not_stored(lclient, a["id"])
    assert_no_changes_since(lclient, cursor)


@needs_own_daemon
def test_batch_of_exactly_max_batch_is_accepted(lclient, uid):
    results = post_batch(lclient, [article(uid(str(i))) for i in range(3)])
    assert all("error" not in r for r in results), results


@needs_own_daemon
def test_max_matches_from_the_config_caps_matches(lclient, uid):
    a = article(uid("0"))
    post_article(lclient, a)
    for i in range(1, 5):
        post_article(lclient, same_text(a, uid(str(i))))
    body = post_article(lclient, same_text(a, uid("last")))
    assert_matches(body, max_matches=2)
    assert len(body["matches"]) == 2, body


# -- slow, idle and broken clients -----------------------------------------

def test_half_sent_requests_do_not_block_others(client, uid):
    aid = uid("slow")
    partial_body = json.dumps(article(aid)).encode()
    half_head = client.connect()
    half_head.sendall(b"POST /v1/articles HTTP/1.1\r\nHost: storyd\r\nContent-Ty")
    half_body = client.connect()
    half_body.sendall(request_bytes("POST", "/v1/articles", partial_body,
                                    ["Content-Type: application/json"])[:-len(partial_body) // 2])
    idle = [client.connect() for _ in range(20)]
    try:
        assert_healthy(client)
        post_article(client, article(uid("other")))
        get_article(client, uid("other"))
    finally:
        half_head.close()
        half_body.close()
        for s in idle:
            s.close()
    assert_healthy(client)
    assert_not_stored(client, aid)


def test_client_hanging_up_before_the_reply_does_not_hurt(client, uid):
    for i in range(20):
        s = client.connect()
        s.sendall(request_bytes("POST", "/v1/articles", json.dumps(article(uid(str(i)))).encode(),
                                ["Content-Type: application/json"]))
        s.close()
    assert_healthy(client)
    # whatever was acknowledged or not, every read answers sensibly
    for i in range(20):
        assert client.get(article_path(uid(str(i)))).status in (200, 404)


CLOSE = b"Connection: close\r\n"


@pytest.mark.parametrize("garbage", [
    b"\x00\xff\xfe garbage\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"POST /v1/articles HTTP/1.1\r\n" + CLOSE + b"Content-Length: -5\r\n\r\n",
    b"POST /v1/articles HTTP/1.1\r\n" + CLOSE + b"Content-Length: 99999999999999999999\r\n\r\n",
    b"POST /v1/articles HTTP/1.1\r\n" + CLOSE + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /v1/articles/%zz HTTP/1.1\r\nHost: x\r\n" + CLOSE + b"\r\n",
    b"GET /v1/articles/%00 HTTP/1.1\r\nHost: x\r\n" + CLOSE + b"\r\n",
    b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\n" + CLOSE + b"\r\n",
    b"GET /healthz HTTP/1.1\r\n" + CLOSE + b"X-Big: " + b"b" * 100000 + b"\r\n\r\n",
], ids=["binary", "no_version", "http_9_9", "negative_length", "huge_length", "bad_chunk",
        "bad_percent_escape", "percent_nul", "long_path", "long_header"])
def test_broken_http_gets_an_answer_or_a_hang_up_never_a_crash(client, garbage):
    status, got, closed = raw_exchange(client, garbage)
    assert (status is None and closed) or (status is not None and status < 500), \
        f"want a non-5xx answer or a hang-up: {got[:300]!r} closed={closed}"
    assert_healthy(client)


def test_random_bodies_never_crash_the_daemon(client):
    rng = random.Random(20240601)
    valid = json.dumps(article("fuzz-base")).encode()
    for i in range(300):
        if i % 2:
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        else:   # a valid article with a few bytes flipped, cut or duplicated
            b = bytearray(valid)
            for _ in range(rng.randrange(1, 6)):
                pos = rng.randrange(len(b))
                op = rng.randrange(3)
                if op == 0:
                    b[pos] = rng.randrange(256)
                elif op == 1:
                    del b[pos:]
                    b += b"x"
                else:
                    b[pos:pos] = b[pos:pos + rng.randrange(1, 8)]
            body = bytes(b)
        reply = client.request("POST", "/v1/similar" if i % 3 == 0 else "/v1/articles", body,
                               {"Content-Type": "application/json"})
        assert reply.status < 500, (body, reply)
        if reply.status >= 400:
            assert_error(reply, reply.status, (
                "malformed_json", "wrong_type", "missing_id", "empty_article", "id_too_long",
                "bad_timestamp", "invalid_utf8", "conflict"))
    assert_healthy(client)


def test_keep_alive_connection_survives_an_error_reply(client, uid):
    conn = http.client.HTTPConnection(client.host, client.port, timeout=10)
    try:
        conn.request("POST", "/v1/articles", b"{", {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        assert r.status == 400
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read()) == {"status": "ok"}
        a = article(uid())
        conn.request("POST", "/v1/articles", json.dumps(a).encode(),
                     {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        assert r.status == 201
    finally:
        conn.close()
    assert_status(client.get(article_path(uid())), 200)


def test_concurrent_clients_all_get_answers_and_are_all_stored(client, uid):
    per_thread, threads = 25, 8
    failures = []

    def work(t):
        try:
            for i in range(per_thread):
                a = article(uid(f"{t}-{i}"))
                reply = client.post("/v1/articles", a)
                if reply.status != 201:
                    failures.append(reply)
                if i % 5 == 0:
                    assert_healthy(client)
        except Exception as e:      # reported below; a thread cannot fail the test itself
            failures.append(e)
    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join(60)
    assert failures == []
    for t in range(threads):
        for i in range(per_thread):
            get_article(client, uid(f"{t}-{i}"))


@needs_own_daemon
def test_running_out_of_file_descriptors_neither_spins_nor_floods_the_log(start_storyd):
    d = start_storyd(nofile=64)
    c = d.client()
    idle = [c.connect() for _ in range(100)]       # more than the daemon may hold open
    try:
        cpu, start = d.cpu_seconds(), time.monotonic()
        try:    # a request that cannot be accepted now: give it one second
            Client(c.host, c.port, timeout=1).get("/healthz")
        except OSError:
            pass
        busy = (d.cpu_seconds() - cpu) / (time.monotonic() - start)
        log_bytes = len(d.stderr_text())
    finally:
        for s in idle:
            s.close()
    assert_healthy(c)
    assert busy < 0.5, f"the daemon used {busy:.0%} of a CPU while out of descriptors"
    assert log_bytes < 100000, f"{log_bytes} bytes of stderr: {d.stderr_text()[-300:]!r}"


def test_pipelined_requests_are_answered_in_order(client, uid):
    aid = uid()
    body = json.dumps(article(aid)).encode()
    data = (request_bytes("GET", "/healthz", None)[:-2].replace(b"Connection: close\r\n", b"")
            + b"\r\n"
            + request_bytes("POST", "/v1/articles", body, ["Content-Type: application/json"])
            .replace(b"Connection: close\r\n", b"")
            + request_bytes("GET", article_path(aid), None))
    status, got, closed = raw_exchange(client, data)
    statuses = [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", got)]
    assert statuses == [200, 201, 200], got[:1000]
