"""
neardup: a deterministic near-duplicate test set made from real article text.

Wire copy is republished with edits: the headline rewritten, paragraphs cut
from the end, a dateline and boilerplate added, paragraphs moved, small word
edits and typos, quotes and case changed. make_set() picks articles with a
seeded RNG and makes one variant of each at every edit strength:

  strength  text kept  word edits  sentence moves   boilerplate         headline
  exact     all        none        none             none                unchanged
  light     ~90%       1%          none             1 trailer           prefix/suffix, case
  medium    ~75%       3%          1 swap           dateline+1 trailer  words dropped, case
  heavy     ~50%       6%          2 swaps          dateline+1 trailer  new, from the lede
  extreme   ~30%       10%         re-lede+3 swaps  dateline+2 trailers new, from the lede

Every variant except `exact` also has its quotes switched between curly and
straight; heavy and extreme put one sentence in capitals. Text is trimmed at
sentence boundaries, so the fraction actually kept (by characters of the
original body) is recorded per variant as `kept`.

Output records are the input fields plus `dupgroup` (the original's id; an
original's own id for itself), `strength` ("original" for originals), `kept`
and `topic` (the part of `story` before the first "_", the ECB+ topic).
Originals are picked so that no two share a fifth of their 5-word shingles
(ECB+ has a few republished texts of its own, which would otherwise count as
false duplicates). Originals come first in pick order, then all variants in a seeded shuffle, so
each original is the first-seen member of its duplicate group.
"""

import random
import re
from collections import namedtuple

Strength = namedtuple("Strength", "keep edit_rate swaps relede dateline trailers headline caps")

STRENGTHS = {
    "exact": Strength(1.0, 0.0, 0, False, False, 0, "same", False),
    "light": Strength(0.9, 0.01, 0, False, False, 1, "decorate", False),
    "medium": Strength(0.75, 0.03, 1, False, True, 1, "drop", False),
    "heavy": Strength(0.5, 0.06, 2, False, True, 1, "lede", True),
    "extreme": Strength(0.3, 0.10, 3, True, True, 2, "lede", True),
}

OUTLETS = ["Reuters", "Associated Press", "AFP", "Yahoo News", "MSN", "The Guardian",
           "Daily Mail", "HuffPost", "NBC News", "The Independent", "Sky News"]
DATELINES = ["(Reuters) - ", "(AP) — ", "(AFP) - ", "UPDATED: "]
TRAILERS = ["Read more »", "Photo: Reuters", "Click here to subscribe to our newsletter.",
            "Copyright 2013 The Associated Press. All rights reserved. This material "
            "may not be published, broadcast, rewritten or redistributed.",
            "Follow us on Twitter and Facebook for the latest news."]
PREFIXES = ["UPDATE 1-", "BREAKING: ", "WATCH: ", "REPORT: "]
SUFFIXES = [" | Reuters", " - BBC News", " - Yahoo News", " (VIDEO)"]
SYNONYMS = {"said": "stated", "says": "states", "told": "informed", "after": "following",
            "before": "prior to", "about": "around", "big": "large", "killed": "slain",
            "police": "officers", "people": "persons", "also": "additionally",
            "but": "however", "help": "assist", "show": "reveal", "start": "begin"}

MAX_ORIGINAL_JACCARD = 0.2      # originals share less than this of their shingles
WORD = re.compile(r"[^\W_]+")
SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]*\s+(?=[\"“‘(]?[A-Z0-9])")
CURLY_TO_STRAIGHT = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})


def sentences(text):
    """Split text into sentences at ., ! or ? followed by space and a capital or digit."""
    return [s.strip() for s in SENTENCE_END.split(text.strip()) if s.strip()]


def trim(sents, keep):
    """Leading sentences whose total length first reaches keep * the whole (at least one)."""
    total = sum(len(s) + 1 for s in sents)
    kept, length = [], 0
    for s in sents:
        if kept and length >= keep * total:
            break
        kept.append(s)
        length += len(s) + 1
    return kept


def reorder(rng, sents, swaps, relede):
    """Move a later sentence to the top (relede), then swap `swaps` random adjacent pairs."""
    sents = list(sents)
    if relede and len(sents) > 1:
        sents.insert(0, sents.pop(rng.randrange(1, len(sents))))
    for _ in range(swaps if len(sents) > 1 else 0):
        i = rng.randrange(len(sents) - 1)
        sents[i], sents[i + 1] = sents[i + 1], sents[i]
    return sents


def typo(rng, word):
    """word with one letter transposed, dropped, doubled or replaced."""
    if len(word) < 3:
        return word
    i = rng.randrange(len(word) - 1)
    op = rng.randrange(4)
    if op == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op == 1:
        return word[:i] + word[i + 1:]
    if op == 2:
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("etaoinshrdlu") + word[i + 1:]


def edit_word(rng, word):
    """A small edit of one word: a synonym when there is one, else a typo or a deletion."""
    if word.lower() in SYNONYMS:
        return SYNONYMS[word.lower()]
    return "" if rng.random() < 0.25 else typo(rng, word)


def edit_words(rng, text, rate):
    """Edit each whitespace-separated word of text with probability rate."""
    words = [edit_word(rng, w) if rng.random() < rate else w for w in text.split(" ")]
    return " ".join(w for w in words if w)


def switch_quotes(text):
    """Curly quotes made straight; or, in text with none, straight quotes made curly."""
    straight = text.translate(CURLY_TO_STRAIGHT)
    if straight != text:
        return straight
    out, opening = [], True
    for ch in text:
        if ch == '"':
            out.append("“" if opening else "”")
            opening = not opening
        else:
            out.append("’" if ch == "'" else ch)
    return "".join(out)


def recase(rng, title):
    """title in capitals, in title case or in lower case."""
    return rng.choice([str.upper, str.title, str.lower])(title)


def headline(rng, title, lede, mode):
    """A republished headline: same, decorated, with words dropped, or new from the lede."""
    if mode == "same":
        return title
    if mode == "decorate":
        return recase(rng, rng.choice(PREFIXES) + title if rng.random() < 0.5
                      else title + rng.choice(SUFFIXES))
    if mode == "drop":
        words = title.split()
        for _ in range(min(2, len(words) - 1)):
            words.pop(rng.randrange(len(words)))
        return recase(rng, " ".join(words))
    return " ".join(lede.split()[:rng.randint(6, 10)]).rstrip(".,;:").title()


def variant(rng, article, name):
    """One republished copy of article at strength `name` (a key of STRENGTHS)."""
    st = STRENGTHS[name]
    body = article["body"]
    sents = trim(sentences(body), st.keep)
    kept = min(1.0, len(" ".join(sents)) / len(body)) if body else 1.0
    sents = reorder(rng, sents, st.swaps, st.relede)
    if st.caps:
        i = rng.randrange(len(sents))
        sents[i] = sents[i].upper()
    text = edit_words(rng, " ".join(sents), st.edit_rate)
    if st.dateline:
        text = rng.choice(DATELINES) + text
    text = " ".join([text] + rng.sample(TRAILERS, st.trailers))
    if name != "exact":
        text = switch_quotes(text)
    return {
        "id": f"{article['id']}~{name}",
        "title": headline(rng, article["title"], " ".join(sents), st.headline),
        "body": text,
        "source": article["source"] if name == "exact" else rng.choice(OUTLETS),
        "published_at": None,
        "story": article["story"],
        "topic": topic_of(article["story"]),
        "dupgroup": article["id"],
        "strength": name,
        "kept": round(kept, 3),
    }


def topic_of(story):
    """The part of an ECB+ story label before the first "_"."""
    return story.split("_", 1)[0]


def original(article):
    """An original article as a record of the set: its own dupgroup, all text kept."""
    return {**article, "topic": topic_of(article["story"]), "dupgroup": article["id"],
            "strength": "original", "kept": 1.0}


def eligible(article, min_sentences=3, min_chars=400):
    """Whether an article has enough body text to trim meaningfully."""
    body = article.get("body") or ""
    return len(body) >= min_chars and len(sentences(body)) >= min_sentences


def shingles(text, k=5):
    """The set of k-word shingles of text's lowercase alphanumeric words."""
    words = WORD.findall(text.lower())
    return {tuple(words[i:i + k]) for i in range(max(1, len(words) - k + 1))}


def jaccard(a, b):
    """|a & b| / |a | b| of two sets (0 for two empty sets)."""
    return len(a & b) / len(a | b) if a or b else 0.0


def pick_distinct(rng, pool, n):
    """n articles of pool in a seeded random order, skipping any whose body
    shares MAX_ORIGINAL_JACCARD or more of its 5-word shingles with one
    already picked (the source corpus has a few republished texts of its own).
    Raises ValueError when fewer than n are distinct.
    """
    order = list(pool)
    rng.shuffle(order)
    picked, picked_shingles = [], []
    for a in order:
        sh = shingles(a["body"])
        if all(jaccard(sh, other) < MAX_ORIGINAL_JACCARD for other in picked_shingles):
            picked.append(a)
            picked_shingles.append(sh)
            if len(picked) == n:
                return picked
    raise ValueError(f"only {len(picked)} distinct articles are long enough, asked for {n}")


def make_set(articles, n, seed, strengths=tuple(STRENGTHS)):
    """Originals and their variants: n distinct eligible articles picked with `seed`.

    Returns the list of records in output order (see module docstring). The
    same articles, n, seed and strengths always give the same records.
    Raises ValueError when fewer than n articles qualify or a strength is
    unknown.
    """
    unknown = [s for s in strengths if s not in STRENGTHS]
    if unknown:
        raise ValueError(f"unknown strength(s): {', '.join(unknown)}")
    rng = random.Random(seed)
    picked = pick_distinct(rng, [a for a in articles if eligible(a)], n)
    variants = [variant(rng, a, s) for a in picked for s in strengths]
    rng.shuffle(variants)
    return [original(a) for a in picked] + variants
