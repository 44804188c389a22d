"""
evalmetrics: clustering and duplicate-detection scores for storyd-eval.

Pure functions, standard library only. A partition is given as a sequence of
labels, one per item: two items are in the same cluster when their labels are
equal. `truth` and `pred` are aligned sequences of the same length.

A ratio with an empty denominator (precision when nothing was predicted,
recall when nothing was expected) is None, not a made-up 0 or 1; f1() turns
that into a score only where the answer is clear.
"""

import math
from collections import Counter, namedtuple

PRF = namedtuple("PRF", "precision recall f1")

DUPLICATE_STATUSES = frozenset({"near_duplicate", "exact_duplicate"})


def ratio(num, den):
    """num / den, or None when den is 0."""
    return num / den if den else None


def f1(precision, recall):
    """Harmonic mean of precision and recall.

    0.0 when either is 0 (nothing right), None when either is undefined and
    the other is not 0.
    """
    if precision == 0 or recall == 0:
        return 0.0
    if precision is None or recall is None:
        return None
    return 2 * precision * recall / (precision + recall)


def pairs(n):
    """Number of unordered pairs among n items."""
    return n * (n - 1) // 2


def contingency(truth, pred):
    """(joint, truth_sizes, pred_sizes) Counters of two aligned partitions.

    joint[(t, p)] is the number of items labelled t in truth and p in pred.
    Raises ValueError when the sequences differ in length or are empty.
    """
    truth, pred = list(truth), list(pred)
    if len(truth) != len(pred):
        raise ValueError(f"partitions differ in length: {len(truth)} != {len(pred)}")
    if not truth:
        raise ValueError("empty partitions")
    return Counter(zip(truth, pred)), Counter(truth), Counter(pred)


def bcubed(truth, pred):
    """B-cubed precision, recall and F1 (Bagga and Baldwin; Amigo et al. 2009).

    Per item, precision is the share of its predicted cluster that shares its
    true label, recall the share of its true class that shares its predicted
    cluster; both are averaged over items.
    """
    joint, truth_sizes, pred_sizes = contingency(truth, pred)
    n = sum(joint.values())
    precision = sum(c * c / pred_sizes[p] for (_, p), c in joint.items()) / n
    recall = sum(c * c / truth_sizes[t] for (t, _), c in joint.items()) / n
    return PRF(precision, recall, f1(precision, recall))


def pair_counts(truth, pred):
    """(both, predicted, expected): pairs together in both, in pred, in truth."""
    joint, truth_sizes, pred_sizes = contingency(truth, pred)
    both = sum(pairs(c) for c in joint.values())
    predicted = sum(pairs(c) for c in pred_sizes.values())
    expected = sum(pairs(c) for c in truth_sizes.values())
    return both, predicted, expected


def pairwise(truth, pred):
    """Pairwise precision, recall and F1 over all unordered item pairs.

    A predicted pair is two items in one predicted cluster; it is right when
    they also share a true label.
    """
    both, predicted, expected = pair_counts(truth, pred)
    precision, recall = ratio(both, predicted), ratio(both, expected)
    return PRF(precision, recall, f1(precision, recall))


def adjusted_rand_index(truth, pred):
    """Adjusted Rand index (Hubert and Arabie 1985), in [-1, 1].

    When the index cannot move from its expectation (both partitions are the
    same trivial one: all singletons, or one cluster), it is 1.0.
    """
    truth = list(truth)
    both, predicted, expected = pair_counts(truth, pred)
    chance = predicted * expected / pairs(len(truth)) if len(truth) > 1 else 0.0
    best = (predicted + expected) / 2
    if best == chance:
        return 1.0
    return (both - chance) / (best - chance)


def entropy(sizes, n):
    """Shannon entropy (nats) of a partition given its cluster sizes."""
    return -sum(c / n * math.log(c / n) for c in sizes)


def normalized_mutual_info(truth, pred):
    """NMI with the arithmetic-mean normalisation, in [0, 1].

    MI / ((H(truth) + H(pred)) / 2). When both entropies are 0 (one cluster
    each) the partitions are identical and NMI is 1.0.
    """
    joint, truth_sizes, pred_sizes = contingency(truth, pred)
    n = sum(joint.values())
    h_truth = entropy(truth_sizes.values(), n)
    h_pred = entropy(pred_sizes.values(), n)
    if h_truth == 0 and h_pred == 0:
        return 1.0
    mi = sum(c / n * math.log(c * n / (truth_sizes[t] * pred_sizes[p]))
             for (t, p), c in joint.items())
    return max(0.0, mi / ((h_truth + h_pred) / 2))


def cluster_scores(truth, pred):
    """All story-cluster scores as a flat dict, for reports."""
    b3 = bcubed(truth, pred)
    pw = pairwise(truth, pred)
    return {
        "stories": len(set(truth)),
        "clusters": len(set(pred)),
        "b3_precision": b3.precision, "b3_recall": b3.recall, "b3_f1": b3.f1,
        "pair_precision": pw.precision, "pair_recall": pw.recall, "pair_f1": pw.f1,
        "ari": adjusted_rand_index(truth, pred),
        "nmi": normalized_mutual_info(truth, pred),
    }


def resolve_roots(duplicate_of):
    """Map each id to the root of its duplicate_of chain (itself if none).

    duplicate_of maps id -> id or None. A chain ends at None or at an id not
    in the map (which is then the root); a cycle's root is its smallest id.
    """
    roots = {}
    for start in duplicate_of:
        path = [start]
        while True:
            target = duplicate_of.get(path[-1])
            if target is None:
                root = path[-1]
                break
            if target in path:
                root = min(path[path.index(target):])
                break
            path.append(target)
        roots[start] = root
    return roots


def false_pairs(truth, pred, within=None):
    """Pairs together in pred but apart in truth.

    With `within` (a third aligned labelling, e.g. a topic), only pairs that
    share a `within` label are counted.
    """
    within = [None] * len(truth) if within is None else list(within)
    keys = list(zip(pred, within))
    together = Counter(keys)
    same_truth = Counter(zip(keys, truth))
    return (sum(pairs(c) for c in together.values())
            - sum(pairs(c) for c in same_truth.values()))


def near_duplicate_by_strength(records):
    """Score duplicate decisions per edit strength, in replay order.

    records: iterable of dicts with keys id, dupgroup, strength, status,
    duplicate_of, in the order the articles were ingested. An article is
    expected to be reported as a duplicate when an earlier article of its
    dupgroup was ingested; a report is correct when its duplicate_of is an
    earlier member of its own dupgroup.

    Returns {strength: {"articles", "expected", "reported", "correct",
    "precision", "recall"}}, where precision = correct / reported and
    recall = correct / expected.
    """
    seen = {}
    out = {}
    for r in records:
        members = seen.setdefault(r["dupgroup"], set())
        s = out.setdefault(r["strength"], Counter())
        s["articles"] += 1
        expected = bool(members)
        reported = r["status"] in DUPLICATE_STATUSES
        s["expected"] += expected
        s["reported"] += reported
        s["correct"] += reported and r["duplicate_of"] in members
        members.add(r["id"])
    return {k: {**v, "precision": ratio(v["correct"], v["reported"]),
                "recall": ratio(v["correct"], v["expected"])}
            for k, v in out.items()}


def cross_story_duplicates(records):
    """Duplicate verdicts that join two different stories.

    records: iterable of dicts with keys id, story, topic, status and
    duplicate_of (the ingest reply's), in ingest order. A near or exact
    duplicate verdict is cross-story when the article it names has another
    story label: a text shared by two events, or a false duplicate. Returns
    {"near", "exact", "cross_story", "cross_story_same_topic", "examples"}
    with up to five (id, duplicate_of) examples of cross-story verdicts.
    """
    story, topic = {}, {}
    out = Counter()
    examples = []
    for r in records:
        story[r["id"]], topic[r["id"]] = r["story"], r["topic"]
        if r["status"] not in DUPLICATE_STATUSES:
            continue
        out["near" if r["status"] == "near_duplicate" else "exact"] += 1
        other = r["duplicate_of"]
        if other in story and story[other] != r["story"]:
            out["cross_story"] += 1
            out["cross_story_same_topic"] += topic[other] is not None and topic[other] == r["topic"]
            if len(examples) < 5:
                examples.append((r["id"], other))
    return {k: out[k] for k in ("near", "exact", "cross_story", "cross_story_same_topic")} | \
        {"examples": examples}
