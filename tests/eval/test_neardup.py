"""
Unit tests for tools/neardup.py: the edit operations on hand-made text, and
the generated set's shape and determinism (on ECB+ when it is at hand).
"""

import json
import os
import random
import sys

import pytest

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
import neardup  # noqa: E402

ECBPLUS = os.path.join(HERE, "..", "..", "..", "shared", "data", "ecbplus.jsonl")

TEXT = ("Police said the fire started at noon. It spread to three houses! "
        "\"We ran,\" a neighbour said. Firefighters left at 5 p.m. on Sunday. "
        "An inquiry will start next week.")


def body_text(i, sentences=10):
    """Ten sentences of words drawn with seed i: articles share no 5-word shingles."""
    rng = random.Random(i)
    return " ".join("Then " + " ".join(f"w{rng.randrange(1000)}" for _ in range(9)) + "."
                    for _ in range(sentences))


def article(i, story="7_ecb"):
    body = body_text(i)
    return {"id": f"a{i}", "title": f"Headline number {i} about it", "body": body,
            "source": "wire", "published_at": None, "story": story}


def test_sentences():
    assert neardup.sentences(TEXT) == [
        "Police said the fire started at noon.", "It spread to three houses!",
        "\"We ran,\" a neighbour said.", "Firefighters left at 5 p.m. on Sunday.",
        "An inquiry will start next week."]


def test_trim_keeps_leading_sentences_up_to_the_fraction():
    sents = ["a" * 9, "b" * 9, "c" * 9, "d" * 9]     # 10 characters each with the space
    assert neardup.trim(sents, 1.0) == sents
    assert neardup.trim(sents, 0.5) == sents[:2]
    assert neardup.trim(sents, 0.45) == sents[:2]
    assert neardup.trim(sents, 0.0) == sents[:1]


def test_reorder_relede_moves_a_later_sentence_first():
    sents = list("abcde")
    out = neardup.reorder(random.Random(3), sents, swaps=0, relede=True)
    assert sorted(out) == sents and out[0] != "a" and out[1:] == [s for s in sents if s != out[0]]


def test_reorder_swaps_keep_the_sentences():
    out = neardup.reorder(random.Random(1), list("abcdef"), swaps=3, relede=False)
    assert sorted(out) == list("abcdef")
    assert neardup.reorder(random.Random(1), ["only"], swaps=3, relede=True) == ["only"]


def test_typo_changes_one_spot():
    rng = random.Random(5)
    typos = {neardup.typo(rng, "government") for _ in range(50)}
    assert len(typos) > 10
    assert all(abs(len(w) - len("government")) <= 1 for w in typos)
    assert neardup.typo(rng, "of") == "of"


def test_edit_words_rate_zero_and_one():
    rng = random.Random(2)
    assert neardup.edit_words(rng, TEXT, 0.0) == TEXT
    edited = neardup.edit_words(rng, "police said people", 1.0)
    assert edited == "officers stated persons"


def test_switch_quotes_both_ways():
    assert neardup.switch_quotes("“Yes,” she said. It’s done.") == "\"Yes,\" she said. It's done."
    assert neardup.switch_quotes("\"Yes,\" she said. It's done.") == "“Yes,” she said. It’s done."


def test_headline_modes():
    rng = random.Random(4)
    assert neardup.headline(rng, "Quake hits Chile", "x", "same") == "Quake hits Chile"
    dropped = neardup.headline(rng, "Big quake hits northern Chile", "x", "drop")
    assert len(dropped.split()) == 3
    lede = "the strong earthquake shook the capital early on Sunday morning, officials said."
    new = neardup.headline(rng, "Quake", lede, "lede")
    assert new.startswith("The Strong Earthquake Shook The Capital")


def test_exact_variant_repeats_the_text():
    v = neardup.variant(random.Random(0), article(1), "exact")
    a = article(1)
    assert (v["title"], v["body"], v["kept"]) == (a["title"], a["body"], 1.0)
    assert v["id"] == "a1~exact" and v["dupgroup"] == "a1" and v["topic"] == "7"


@pytest.mark.parametrize("name", ["light", "medium", "heavy", "extreme"])
def test_variant_keeps_about_its_fraction(name):
    a = article(2)
    v = neardup.variant(random.Random(0), a, name)
    keep = neardup.STRENGTHS[name].keep
    assert keep - 0.01 <= v["kept"] <= keep + 0.11    # whole sentences of about a tenth
    assert v["body"] != a["body"] and v["strength"] == name and v["dupgroup"] == "a2"


def test_stronger_edits_keep_less():
    a = article(3)
    kept = [neardup.variant(random.Random(0), a, s)["kept"] for s in neardup.STRENGTHS]
    assert kept == sorted(kept, reverse=True)


def test_make_set_shape_and_order():
    articles = [article(i) for i in range(10)] + [{**article(99), "body": "Too short."}]
    records = neardup.make_set(articles, 4, seed=1, strengths=("light", "heavy"))
    assert len(records) == 4 * 3
    originals, variants = records[:4], records[4:]
    assert all(r["strength"] == "original" and r["dupgroup"] == r["id"] for r in originals)
    assert {r["dupgroup"] for r in variants} == {r["id"] for r in originals}
    assert "a99" not in {r["id"] for r in originals}
    assert len({r["id"] for r in records}) == len(records)


def test_make_set_skips_republished_originals():
    twins = [article(1), {**article(2), "body": article(1)["body"] + " One more."}]
    with pytest.raises(ValueError):
        neardup.make_set(twins, 2, seed=1)
    assert len(neardup.make_set(twins, 1, seed=1, strengths=("light",))) == 2


def test_jaccard_of_shingles():
    a = neardup.shingles("one two three four five six")     # 2 shingles
    b = neardup.shingles("two three four five six seven")   # 2 shingles, 1 shared
    assert neardup.jaccard(a, b) == pytest.approx(1 / 3)
    assert neardup.shingles("short text") == {("short", "text")}


def test_make_set_is_deterministic():
    articles = [article(i) for i in range(10)]
    assert neardup.make_set(articles, 5, seed=7) == neardup.make_set(articles, 5, seed=7)
    assert neardup.make_set(articles, 5, seed=7) != neardup.make_set(articles, 5, seed=8)


def test_make_set_refuses_bad_requests():
    articles = [article(i) for i in range(3)]
    with pytest.raises(ValueError):
        neardup.make_set(articles, 4, seed=1)
    with pytest.raises(ValueError):
        neardup.make_set(articles, 2, seed=1, strengths=("mild",))


@pytest.mark.skipif(not os.path.exists(ECBPLUS), reason="ECB+ data not at ../shared/data")
def test_make_set_on_ecbplus():
    with open(ECBPLUS, encoding="utf-8") as f:
        articles = [json.loads(line) for line in f]
    records = neardup.make_set(articles, 50, seed=1)
    assert len(records) == 50 * (1 + len(neardup.STRENGTHS))
    by_strength = {}
    for r in records:
        by_strength.setdefault(r["strength"], []).append(r["kept"])
    for name, st in neardup.STRENGTHS.items():
        mean = sum(by_strength[name]) / len(by_strength[name])
        assert st.keep - 0.02 <= mean <= st.keep + 0.15, (name, mean)
