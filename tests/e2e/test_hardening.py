"""Access control, connection limits, slow clients and oversized headers."""

import http.client
import os
import signal
import socket
import threading

from e2e_helpers import article, assert_error, assert_status, needs_own_daemon, post_article
from harness import StartError, article_path

TOKEN = "s3cret-token-for-tests-0123456789"


def token_config(tmp_path, token=TOKEN, extra=""):
    path = tmp_path / "token"
    path.write_text(token + "\n")
    return f"[server]\ntoken_file = {path}\n{extra}[store]\nretention_hours = 876000\n"


def with_token(token=TOKEN):
    return {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}


@needs_own_daemon
def test_writes_need_the_token_and_reads_do_not(start_storyd, tmp_path, uid):
    d = start_storyd(config=token_config(tmp_path))
    c = d.client()
    a = article(uid())
    body = __import__("json").dumps(a).encode()

    reply = c.request("POST", "/v1/articles", body, {"Content-Type": "application/json"})
    assert_error(reply, 401, "unauthorized")
    assert reply.header("WWW-Authenticate", "").startswith("Bearer")
    assert_error(c.request("POST", "/v1/articles", body, with_token("wrong-" + TOKEN)), 401,
                 "unauthorized")
    assert_error(c.request("DELETE", article_path(a["id"]), None, with_token(TOKEN[:-1])), 401,
                 "unauthorized")
    assert_status(c.get(article_path(a["id"])), 404)      # nothing was stored

    assert_status(c.request("POST", "/v1/articles", body, with_token()), 201)
    assert_status(c.get(article_path(a["id"])), 200)      # reads are open by default
    assert_status(c.get("/healthz"), 200)


@needs_own_daemon
def test_auth_reads_closes_reads_but_not_probes(start_storyd, tmp_path):
    d = start_storyd(config=token_config(tmp_path, extra="auth_reads = yes\n"))
    c = d.client()
    assert_error(c.get("/v1/clusters"), 401, "unauthorized")
    assert_status(c.get("/v1/clusters", headers={"Authorization": f"Bearer {TOKEN}"}), 200)
    assert_status(c.get("/healthz"), 200)
    assert_status(c.get("/readyz"), 200)


@needs_own_daemon
def test_a_token_file_that_is_too_short_stops_the_start(start_storyd, tmp_path):
    try:
        d = start_storyd(config=token_config(tmp_path, token="short"))
    except StartError as e:
        assert "at least 16 bytes" in str(e)
        return
    raise AssertionError(f"started with a 5-byte token: {d.stderr_text()}")


@needs_own_daemon
def test_sighup_takes_a_new_token(start_storyd, tmp_path, uid):
    d = start_storyd(config=token_config(tmp_path))
    new = "another-token-after-rotation-42"
    (tmp_path / "token").write_text(new + "\n")
    d.signal(signal.SIGHUP)
    d.wait_log("configuration reloaded")
    body = __import__("json").dumps(article(uid())).encode()
    c = d.client()
    assert_error(c.request("POST", "/v1/articles", body, with_token(TOKEN)), 401, "unauthorized")
    assert_status(c.request("POST", "/v1/articles", body, with_token(new)), 201)


def _keepalive(d):
    conn = http.client.HTTPConnection(d.host, d.port, timeout=10)
    conn.request("GET", "/healthz")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 200
    return conn


@needs_own_daemon
def test_connections_beyond_the_limit_get_503_with_retry_after(start_storyd):
    d = start_storyd(config="[server]\nmax_connections = 4\n")
    held = [_keepalive(d) for _ in range(4)]
    extra = http.client.HTTPConnection(d.host, d.port, timeout=10)
    extra.request("GET", "/healthz")
    resp = extra.getresponse()
    body = resp.read()
    assert resp.status == 503, body
    assert resp.getheader("Retry-After") == "1"
    assert b'"overloaded"' in body
    extra.close()
    held.pop().close()
    # a freed place serves again; probing until the daemon has seen the close
    for _ in range(200):
        c = http.client.HTTPConnection(d.host, d.port, timeout=10)
        c.request("GET", "/healthz")
        r = c.getresponse()
        r.read()
        c.close()
        if r.status == 200:
            break
    assert r.status == 200
    for c in held:
        c.close()


@needs_own_daemon
def test_a_slow_client_does_not_hold_up_the_others(start_storyd, uid):
    d = start_storyd()
    slow = socket.create_connection((d.host, d.port), timeout=10)
    body = __import__("json").dumps(article(uid("slow"))).encode()
    request = (b"POST /v1/articles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body)) + body
    stop = threading.Event()

    def dribble():
        for byte in request[:-1]:           # never the last byte while the others run
            if stop.wait(0.05):
                return
            slow.send(bytes([byte]))

    t = threading.Thread(target=dribble)
    t.start()
    try:
        c = d.client()
        for i in range(40):
            post_article(c, article(uid(f"fast-{i}")))
        assert t.is_alive(), "the slow request finished before the fast ones were served"
    finally:
        stop.set()
        t.join()
        slow.close()


@needs_own_daemon
def test_oversized_headers_are_refused_and_the_daemon_goes_on(start_storyd):
    d = start_storyd(config="[server]\nmax_header_bytes = 2048\n")
    s = socket.create_connection((d.host, d.port), timeout=10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8192 + b"\r\n\r\n")
    reply = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        reply += chunk
    s.close()
    assert reply == b"" or reply.split(b" ")[1] in (b"400", b"413", b"431"), reply[:200]
    assert_status(d.client().get("/healthz"), 200)
