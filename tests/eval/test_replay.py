"""
Tests for tools/storyd-eval against a fake storyd: replay order, batching,
URL-encoded ids, retries, refused articles, and the scores it prints.
"""

import http.server
import importlib.machinery
import importlib.util
import json
import os
import random
import sys
import threading
from urllib.parse import unquote

import pytest

TOOLS = os.path.join(os.path.dirname(__file__), "..", "..", "tools")
sys.path.insert(0, TOOLS)
_loader = importlib.machinery.SourceFileLoader("storyd_eval", os.path.join(TOOLS, "storyd-eval"))
_spec = importlib.util.spec_from_loader("storyd_eval", _loader)
storyd_eval = importlib.util.module_from_spec(_spec)
_loader.exec_module(storyd_eval)


class FakeStoryd(http.server.BaseHTTPRequestHandler):
    """Story cluster = the title's first word; duplicate = same body as an earlier article.

    An article titled "reject" gets an error; the first POST is answered 429.
    """

    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 429:
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        s = self.state
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if not s["throttled"]:
            s["throttled"] = True
            return self.reply(429, {"error": {"code": "overloaded", "message": "later"}})
        s["batches"].append([a["id"] for a in body["articles"]])
        s["posted"].extend(body["articles"])
        self.reply(200, {"results": [self.ingest(a) for a in body["articles"]]})

    def ingest(self, a):
        s = self.state
        if a["title"] == "reject":
            return {"id": a["id"], "error": {"code": "empty_article", "message": "no words"}}
        first = s["bodies"].setdefault(a["body"], a["id"])
        dup = None if first == a["id"] else first
        stored = {"id": a["id"], "cluster": "s-" + a["title"].split()[0], "duplicate_of": dup}
        s["stored"][a["id"]] = stored
        status = "near_duplicate" if dup else "new_story"
        return {**stored, "status": status, "matches": []}

    def do_GET(self):
        self.state["paths"].append(self.path)
        stored = self.state["stored"].get(unquote(self.path[len("/v1/articles/"):]))
        if stored is None:
            return self.reply(404, {"error": {"code": "not_found", "message": "no"}})
        self.reply(200, stored)


@pytest.fixture
def fake():
    FakeStoryd.state = {"throttled": False, "batches": [], "posted": [], "paths": [],
                        "bodies": {}, "stored": {}}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeStoryd)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", FakeStoryd.state
    server.shutdown()
    server.server_close()


def write(tmp_path, records):
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + "\n")
    return str(path)


def art(id, title, body, story, published_at=None, **extra):
    return {"id": id, "title": title, "body": body, "source": "s",
            "published_at": published_at, "story": story, **extra}


def test_replay_order_sorts_dates_and_keeps_undated_in_place():
    records = [art("c", "t", "b", "x", "2014-03-10T16:52:51.207Z"),
               art("u1", "t", "b", "x"),
               art("a", "t", "b", "x", "2014-03-10T16:52:50Z"),
               art("b", "t", "b", "x", "2014-03-10T17:52:50+01:00"),
               art("u2", "t", "b", "x", "not a date")]
    order = [a["id"] for a in storyd_eval.replay_order(records)]
    # b is 16:52:50Z too, after a by file order; u1 goes with c, u2 with b
    assert order == ["a", "b", "u2", "c", "u1"]
    undated = [art(str(i), "t", "b", "x") for i in range(5)]
    assert storyd_eval.replay_order(undated) == undated


def test_end_to_end_against_fake(fake, tmp_path, capsys):
    url, state = fake
    records = [art("x/1 a", "quake one", "b1", "q", "2020-01-01T00:00:03Z"),
               art("x2", "quake two", "b2", "q", "2020-01-01T00:00:01Z"),
               art("x3", "cup one", "b1", "c", "2020-01-01T00:00:02Z"),
               art("x4", "reject", "b4", "c", "2020-01-01T00:00:04Z"),
               art("x5", "cup two", "b5", "c", "2020-01-01T00:00:05Z")]
    rc = storyd_eval.main(["--url", url, "--batch", "2", "--json", write(tmp_path, records)])
    assert rc == 0
    assert state["batches"] == [["x2", "x3"], ["x/1 a", "x4"], ["x5"]]
    assert all("published_at" in a and "story" not in a for a in state["posted"])
    assert "/v1/articles/x%2F1%20a" in state["paths"]
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["system"] == "storyd" and row["articles"] == 5 and row["errors"] == 1
    assert row["refused"] == [{"id": "x4", "code": "empty_article", "message": "no words"}]
    # stored: x2 q/quake, x3 c/cup, x/1 q/quake, x5 c/cup -> a perfect clustering
    assert (row["stories"], row["clusters"], row["b3_f1"], row["ari"]) == (2, 2, 1.0, 1.0)
    assert "duplicates" not in row


def test_duplicates_against_fake(fake, tmp_path, capsys):
    url, _ = fake
    records = [art("o1", "quake a", "text one", "q", dupgroup="o1", strength="original", topic="1"),
               art("o2", "quake b", "text two", "q", dupgroup="o2", strength="original", topic="1"),
               art("o1~light", "quake c", "text one", "q", dupgroup="o1", strength="light", topic="1"),
               art("o2~light", "quake d", "text one", "q", dupgroup="o2", strength="light", topic="1"),
               art("o2~heavy", "quake e", "other", "q", dupgroup="o2", strength="heavy", topic="1")]
    assert storyd_eval.main(["--url", url, "--json", write(tmp_path, records)]) == 0
    row = json.loads(capsys.readouterr().out)
    d = row["duplicates"]
    # predicted groups {o1, o1~light, o2~light}; true pairs (o1, o1~light), (o2, o2~light),
    # (o2, o2~heavy), (o2~light, o2~heavy)
    assert (d["pair_precision"], d["pair_recall"]) == (pytest.approx(1 / 3), 0.25)
    assert d["false_pairs"] == 2 and d["false_pairs_same_topic"] == 2
    assert d["by_strength"]["light"]["correct"] == 1 and d["by_strength"]["light"]["reported"] == 2
    assert d["by_strength"]["heavy"]["recall"] == 0.0


def test_text_report_and_baseline(fake, tmp_path, capsys):
    url, _ = fake
    records = [art("a", "quake chile", "earthquake chile coast", "q"),
               art("b", "quake chile", "earthquake chile coast damage", "q", dupgroup="a"),
               art("c", "cup final", "football cup final", "c")]
    assert storyd_eval.main(["--url", url, "--baseline", write(tmp_path, records)]) == 0
    out = capsys.readouterr().out
    assert "storyd" in out and "baseline@0.30" in out and "duplicate pairs" in out


def test_baseline_only_needs_no_daemon(tmp_path, capsys):
    records = [art("a", "quake", "chile", "q"), art("b", "quake", "chile", "q")]
    assert storyd_eval.main(["--sweep", "--json", write(tmp_path, records)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["threshold"] for r in rows] == storyd_eval.SWEEP
    assert all(r["b3_f1"] == 1.0 for r in rows)


def test_bad_input_is_reported(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "story": "s"}\n{"id": "b"}\n')
    assert storyd_eval.main(["--baseline", str(path)]) == 1
    assert "bad.jsonl:2" in capsys.readouterr().err


def test_unreachable_daemon_is_reported(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(storyd_eval, "RETRIES", 1)
    path = write(tmp_path, [art("a", "t", "b", "s")])
    assert storyd_eval.main(["--url", "http://127.0.0.1:9", path]) == 1
    assert "storyd-eval:" in capsys.readouterr().err


def test_make_neardups_writes_the_set(tmp_path):
    rng = random.Random(0)
    bodies = [" ".join("Then " + " ".join(str(rng.random()) for _ in range(8)) + "."
                       for _ in range(12)) for _ in range(6)]
    src = write(tmp_path, [art(f"a{i}", "headline here", body, f"{i}_ecb")
                           for i, body in enumerate(bodies)])
    out = tmp_path / "nd.jsonl"
    args = ["--make-neardups", src, "--out", str(out), "--n", "3", "--strengths", "light,heavy"]
    assert storyd_eval.main(args) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 9 and {r["strength"] for r in records} == {"original", "light", "heavy"}
