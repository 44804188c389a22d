"""
Real news: the seven Blinken-in-Beijing pieces (seed-blinken.jsonl) posted in
file order among every third ECB+ article (ecbplus.jsonl: other events, many of
them of the same kind, the hard negatives) must end as one story of exactly
those seven; rewritten copies must be found as duplicates.

ECB+ has no dates. Posted without published_at they would get the ingest time,
years after the Blinken pieces, and the retention window (168 hours before the
newest article) would evict the Blinken ones at once. So the ECB+ articles are
dated evenly across the same two days as the Blinken pieces (2023-06-18 and
19): posted among them in time as well as in order, so only the text keeps
them apart; they serve as negatives here.
"""

import re

import pytest

from e2e_helpers import (as_posted, assert_error, assert_no_changes_since, assert_not_stored,
                         assert_status, feed_cursor, get_article, get_cluster, load_jsonl,
                         member_ids, post_article, post_batch, spread_over_blinken_days)

BATCH = 50


def interleave(negatives, positives):
    """positives spread evenly among negatives, both kept in their own order."""
    out = list(negatives)
    step = len(negatives) / (len(positives) + 1)
    for i, p in reversed(list(enumerate(positives))):
        out.insert(round((i + 1) * step), p)
    return out


@pytest.fixture(scope="module")
def corpus(module_storyd):
    """A daemon holding the interleaved corpus; the batch results and the story, as posted."""
    d = module_storyd()
    c = d.client()
    blinken = [as_posted(r) for r in load_jsonl("seed-blinken.jsonl")]
    ecb = [as_posted(r, with_date=False) for r in load_jsonl("ecbplus.jsonl")[::3]]
    for i, a in enumerate(ecb):
        a["published_at"] = spread_over_blinken_days(i, len(ecb))
    articles = interleave(ecb, blinken)
    results = {}
    for start in range(0, len(articles), BATCH):
        batch = articles[start:start + BATCH]
        for a, r in zip(batch, post_batch(c, batch)):
            results[a["id"]] = r
    first = results["blinken-1"]
    story = get_cluster(c, first["cluster"]) if "cluster" in first else None
    return {"client": c, "blinken": blinken, "ecb": ecb, "results": results, "story": story}


def drop_last_sentence(text):
    """text without its last sentence (ends of sentences: . ! ? and a space or newline)."""
    ends = [m.end() for m in re.finditer(r'[.!?]["”’)]?\s+', text.rstrip())]
    assert ends, "one sentence only"
    return text[:ends[-1]].rstrip()


def test_whole_corpus_is_accepted(corpus):
    errors = {i: r["error"] for i, r in corpus["results"].items() if "error" in r}
    assert errors == {}
    assert len(corpus["results"]) == len(corpus["blinken"]) + len(corpus["ecb"])


def test_blinken_pieces_form_one_story_of_exactly_those_seven(corpus):
    ids = [a["id"] for a in corpus["blinken"]]
    clusters = {i: corpus["results"][i].get("cluster") for i in ids}
    assert len(set(clusters.values())) == 1, f"split over several clusters: {clusters}"
    story = corpus["story"]
    assert story is not None, corpus["results"]["blinken-1"]
    assert member_ids(story) == sorted(ids), "the story holds other articles too, or misses some"
    assert story["size"] == 7


def test_blinken_story_is_summarised_from_its_articles(corpus):
    story = corpus["story"]
    assert story is not None, corpus["results"]["blinken-1"]
    assert story["title"] in {a["title"] for a in corpus["blinken"]}
    assert "blinken" in [t.lower() for t in story["terms"]], story["terms"]
    assert (story["first_published"], story["last_published"]) == \
        ("2023-06-18T02:00:00Z", "2023-06-19T08:00:00Z")
    assert story["sources"] == 7
    assert story["duplicate_groups"] == 7


def test_no_ecb_article_joins_the_blinken_story(corpus):
    story = corpus["results"]["blinken-1"]["cluster"]
    intruders = [i for i, r in corpus["results"].items()
                 if not i.startswith("blinken-") and r.get("cluster") == story]
    assert intruders == []


def test_blinken_article_reads_back_with_its_date_and_story(corpus):
    got = get_article(corpus["client"], "blinken-1")
    assert got["published_at"] == "2023-06-19T08:00:00Z"
    assert got["cluster"] == corpus["results"]["blinken-1"]["cluster"]
    assert got["source"] == "seed-page"


def test_trimmed_copy_with_new_headline_is_a_near_duplicate(corpus):
    c = corpus["client"]
    original = corpus["blinken"][0]
    assert original["id"] == "blinken-1"
    copy = {
        "id": "blinken-1-syndicated",
        "title": "US diplomat Blinken set for talks with Chinese leader Xi",
        "body": drop_last_sentence(original["body"]) + " Read more »",
        "source": "syndicator",
        "published_at": "2023-06-19T09:30:00Z",
    }
    body = post_article(c, copy)
    assert body["status"] == "near_duplicate", body
    assert body["duplicate_of"] == "blinken-1"
    assert body["cluster"] == corpus["results"]["blinken-1"]["cluster"]
    assert body["matches"] and body["matches"][0]["id"] == "blinken-1", body["matches"]
    assert body["matches"][0]["kind"] == "near_duplicate"


def test_same_text_under_a_new_id_is_an_exact_duplicate(corpus):
    c = corpus["client"]
    original = corpus["blinken"][1]
    copy = dict(original, id="blinken-2-copy", source="another-outlet")
    body = post_article(c, copy)
    assert body["status"] == "exact_duplicate", body
    assert body["duplicate_of"] == original["id"]
    assert body["cluster"] == corpus["results"][original["id"]]["cluster"]


def test_retry_of_a_corpus_article_changes_nothing(corpus):
    c = corpus["client"]
    a = corpus["blinken"][2]
    before = get_cluster(c, corpus["results"][a["id"]]["cluster"])
    cursor = feed_cursor(c)
    again = post_article(c, a, expect=200)
    assert again["cluster"] == corpus["results"][a["id"]]["cluster"]
    assert again["duplicate_of"] == corpus["results"][a["id"]]["duplicate_of"]
    assert_no_changes_since(c, cursor)
    assert get_cluster(c, before["id"])["size"] == before["size"]


def test_changed_corpus_article_under_the_same_id_is_a_conflict(corpus):
    c = corpus["client"]
    a = corpus["blinken"][2]
    cursor = feed_cursor(c)
    assert_error(c.post("/v1/articles", dict(a, body=a["body"] + " Updated.")), 409, "conflict")
    assert_no_changes_since(c, cursor)


FRESH_BLURB = {
    "id": "blinken-fresh",
    "title": "Blinken and Xi Jinping meet in Beijing to ease U.S.-China tensions",
    "body": "Secretary of State Antony Blinken met Chinese President Xi Jinping in Beijing "
            "on Monday at the end of a two-day visit, as Washington and Beijing seek to "
            "steady relations strained over Taiwan, trade and a spy balloon.",
    "source": "another-wire",
    "published_at": "2023-06-19T11:00:00Z",
}


def test_new_report_on_the_visit_would_join_and_then_joins_the_story(corpus):
    c = corpus["client"]
    story = corpus["results"]["blinken-1"]["cluster"]
    cursor = feed_cursor(c)
    predicted = assert_status(c.post("/v1/similar", FRESH_BLURB), 200)
    assert (predicted["cluster"], predicted["status"]) == (story, "joined_story"), predicted
    assert predicted["duplicate_of"] is None
    assert predicted["matches"] and predicted["matches"][0]["kind"] == "related", predicted
    assert_no_changes_since(c, cursor)
    assert_not_stored(c, FRESH_BLURB["id"])
    posted = post_article(c, FRESH_BLURB)
    assert (posted["cluster"], posted["status"]) == (story, "joined_story"), posted
