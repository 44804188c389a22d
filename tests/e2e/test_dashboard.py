"""
The dashboard at GET /, driven in headless Chromium (Debian's chromium, over
the DevTools protocol: tests/e2e/browser.py) against a storyd fed with the
seven Blinken pieces among every fourth ECB+ article. It must show the seed
cluster with its seven articles, open it on a click with the articles grouped
by duplicate group, and follow the long-poll feed without a reload. A
screenshot is saved under $STORYD_TEST_OUTPUT (meson sets it to
<build>/test-output) or pytest's temporary directory, and its path printed.
"""

import datetime
import json
import os

import pytest

from browser import Chromium, find_chromium
from e2e_helpers import as_posted, assert_status, get_cluster, load_jsonl, post_article, post_batch

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH "
                                "(Debian: apt-get install chromium chromium-driver)")

BLINKEN_DAY = datetime.datetime(2023, 6, 18, tzinfo=datetime.timezone.utc)


def spread(i, n):
    """ECB+ has no dates: spread them over the Blinken pieces' two days (see test_real_data)."""
    t = BLINKEN_DAY + datetime.timedelta(seconds=int(i * 2 * 86400 / max(n, 1)))
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def fed(module_storyd):
    d = module_storyd()
    c = d.client()
    blinken = [as_posted(r) for r in load_jsonl("seed-blinken.jsonl")]
    ecb = [as_posted(r, with_date=False) for r in load_jsonl("ecbplus.jsonl")[::4]]
    for i, a in enumerate(ecb):
        a["published_at"] = spread(i, len(ecb))
    articles = ecb[:len(ecb) // 2] + blinken + ecb[len(ecb) // 2:]
    for start in range(0, len(articles), 100):
        post_batch(c, articles[start:start + 100])
    seed = get_cluster(c, assert_status(c.get("/v1/articles/blinken-1"), 200)["cluster"])
    assert sorted(a["id"] for a in seed["articles"]) == sorted(a["id"] for a in blinken), \
        "the daemon did not make the seed cluster of exactly the seven pieces"
    return {"daemon": d, "client": c, "seed": seed, "blinken": blinken}


def output_dir(tmp_path_factory):
    out = os.environ.get("STORYD_TEST_OUTPUT")
    if out:
        os.makedirs(out, exist_ok=True)
        return out
    return str(tmp_path_factory.mktemp("dashboard"))


def card_js(cid, what):
    return f"(() => {{ const c = document.querySelector('.cluster[data-cluster-id=\"{cid}\"]'); " \
           f"return c ? {what} : null; }})()"


def test_dashboard_page_is_self_contained_html(fed):
    reply = fed["client"].get("/")
    assert reply.status == 200, reply
    assert reply.media_type == "text/html"
    page = reply.body.decode("utf-8")
    assert "<script>" in page and "/v1/clusters" in page
    # no external assets: nothing is fetched from anywhere but this origin
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page and "src=" not in page
    etag = reply.header("ETag")
    assert etag
    assert fed["client"].get("/", headers={"If-None-Match": etag}).status == 304


def test_dashboard_shows_the_seed_cluster_and_follows_the_feed(fed, tmp_path_factory, capsys):
    c, seed = fed["client"], fed["seed"]
    cid = seed["id"]
    url = f"http://{fed['daemon'].host}:{fed['daemon'].port}/"
    out = output_dir(tmp_path_factory)
    with Chromium(CHROMIUM) as browser:
        page = browser.page()
        page.goto(url)
        size = page.wait_for(card_js(cid, "c.dataset.size"), what=f"a card for {cid}")
        assert size == "7", f"the seed cluster's card says {size} articles"
        card = page.evaluate(card_js(cid, "c.innerText"))
        assert seed["title"] in card, card
        assert "7 articles" in card and f"{seed['sources']} sources" in card, card
        assert any(t in card for t in seed["terms"]), f"no terms on the card: {card}"
        page.wait_for(card_js(cid, "c.querySelectorAll('.chart rect').length > 0"),
                      what="the arrivals chart on the seed card")

        page.evaluate(card_js(cid, "(c.click(), true)"))
        ids = page.wait_for(
            f"(() => {{ const d = document.getElementById('detail'); "
            f"return d.dataset.clusterId === '{cid}' ? "
            f"[...d.querySelectorAll('.article')].map(a => a.dataset.articleId) : null; }})()",
            what="the seed cluster's articles in the detail panel")
        assert sorted(ids) == sorted(a["id"] for a in seed["articles"])
        groups = page.evaluate("[...document.querySelectorAll('#detail .group')].map("
                               "g => [...g.querySelectorAll('.article')].map(a => a.dataset.articleId))")
        assert len(groups) == seed["duplicate_groups"], groups
        for g in groups:
            roots = {a["duplicate_of"] or a["id"] for a in seed["articles"] if a["id"] in g}
            assert len(roots) == 1, f"one group on the page mixes duplicate groups: {g}"

        shot = page.screenshot(os.path.join(out, "dashboard.png"))
        with capsys.disabled():
            print(f"\ndashboard screenshot: {shot}")

        # live: a copy of a seed piece joins its cluster, and the open page follows
        copy = dict(fed["blinken"][0], id="blinken-copy", source="copy desk")
        assert post_article(c, copy)["cluster"] == cid
        page.wait_for(card_js(cid, "c.dataset.size === '8'"), timeout=10,
                      what="the card to show the eighth article without a reload")
        first = page.evaluate("document.querySelector('.cluster').dataset.clusterId")
        assert first == cid, "the cluster changed last is not listed first"
        page.wait_for("document.querySelectorAll('#detail .article').length === 8", timeout=10,
                      what="the open cluster to show the eighth article")
        page.screenshot(os.path.join(out, "dashboard-live.png"))
        assert not [m for m in page.console if m.startswith("exception")], page.console


def test_dashboard_drops_a_cluster_whose_articles_are_deleted(fed):
    c = fed["client"]
    lone = post_article(c, {"id": "dash-lone", "title": "Zebra crossing painted in Quokka Bay",
                            "body": "Workers painted a zebra crossing in Quokka Bay."})["cluster"]
    url = f"http://{fed['daemon'].host}:{fed['daemon'].port}/"
    with Chromium(CHROMIUM) as browser:
        page = browser.page()
        page.goto(url)
        page.wait_for("document.body.dataset.synced === '1'", what="the first listing")
        page.evaluate("document.getElementById('minsize').value = '1', "
                      "document.getElementById('minsize').dispatchEvent(new Event('change')), true")
        page.wait_for(card_js(lone, "true"), what=f"a card for {lone}")
        assert c.delete("/v1/articles/dash-lone").status == 204
        page.wait_for(f"!document.querySelector('.cluster[data-cluster-id=\"{lone}\"]')",
                      timeout=10, what=f"{lone} to leave the page once removed")
