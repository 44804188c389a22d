"""
Unit tests for tools/evalmetrics.py on hand-worked examples.

The numbers in the comments are worked by hand from the contingency tables;
the B-cubed tests also check the four formal constraints of Amigo, Gonzalo,
Artiles and Verdejo (2009) on their kind of example.
"""

import math
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import evalmetrics as m  # noqa: E402

approx = pytest.approx


# truth  A A A B B
# pred   1 1 2 2 2
# per item B3 precision 1, 1, 1/3, 2/3, 2/3 -> 11/15; recall 2/3, 2/3, 1/3, 1, 1 -> 11/15
FIVE_TRUTH = list("AAABB")
FIVE_PRED = [1, 1, 2, 2, 2]

# 16 items, contingency table (rows truth X Y Z, columns pred 1 2 3):
#        1  2  3 | sum
#   X    5  1  0 |  6
#   Y    1  4  1 |  6
#   Z    0  1  3 |  4
#  sum   6  6  4 | 16
TABLE = {("X", 1): 5, ("X", 2): 1, ("Y", 1): 1, ("Y", 2): 4, ("Y", 3): 1,
         ("Z", 2): 1, ("Z", 3): 3}
TABLE_TRUTH = [t for (t, _), c in TABLE.items() for _ in range(c)]
TABLE_PRED = [p for (_, p), c in TABLE.items() for _ in range(c)]


def test_bcubed_symmetric_example():
    assert m.bcubed(FIVE_TRUTH, FIVE_PRED) == approx((11 / 15, 11 / 15, 11 / 15))


def test_bcubed_split_class_has_full_precision_half_recall():
    # one class of four split in two: precision 1, recall 2/4, F1 = 2/3
    assert m.bcubed("AAAA", [1, 1, 2, 2]) == approx((1.0, 0.5, 2 / 3))


def test_bcubed_extremes():
    truth = list("AABBB")
    one = m.bcubed(truth, [0] * 5)             # precision (2*2/5 + 3*3/5) / 5 = 13/25
    assert one == approx((13 / 25, 1.0, 2 * 13 / 25 / (1 + 13 / 25)))
    singles = m.bcubed(truth, range(5))        # recall (2*1/2 + 3*1/3) / 5 = 2/5
    assert singles == approx((1.0, 2 / 5, 2 * 0.4 / 1.4))


def test_bcubed_ignores_label_names():
    assert m.bcubed(FIVE_TRUTH, FIVE_PRED) == m.bcubed([7, 7, 7, 9, 9], ["x", "x", "y", "y", "y"])


def test_bcubed_cluster_homogeneity():
    # Amigo et al. constraint 1: splitting a cluster that mixes two classes helps.
    truth = list("AABB") + ["C"]
    mixed, split = [1, 1, 1, 1, 2], [1, 1, 3, 3, 2]
    assert m.bcubed(truth, split).f1 > m.bcubed(truth, mixed).f1


def test_bcubed_cluster_completeness():
    # Constraint 2: merging two clusters of the same class helps.
    truth = list("AAAABB")
    apart, merged = [1, 1, 2, 2, 3, 3], [1, 1, 1, 1, 3, 3]
    assert m.bcubed(truth, merged).f1 > m.bcubed(truth, apart).f1


def test_bcubed_rag_bag():
    # Constraint 3: an odd item in a cluster of odds costs less than in a clean one.
    truth = list("AAAA") + list("BCDE") + ["F"]
    into_clean = [1, 1, 1, 1, 2, 2, 2, 2, 1]
    into_ragbag = [1, 1, 1, 1, 2, 2, 2, 2, 2]
    assert m.bcubed(truth, into_ragbag).f1 > m.bcubed(truth, into_clean).f1


def test_bcubed_cluster_size_vs_quantity():
    # Constraint 4: one small error in a big cluster is better than many small ones.
    truth = list("AAAAAAAAAA") + list("BBCCDDEEFF")
    big_split = [0] * 9 + [1] + [2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    small_splits = [0] * 10 + [2, 12, 3, 13, 4, 14, 5, 15, 6, 16]
    assert m.bcubed(truth, big_split).f1 > m.bcubed(truth, small_splits).f1


def test_pairwise_five():
    # predicted pairs 1 + 3 = 4, true pairs 3 + 1 = 4, shared (A,1) 1 + (B,2) 1 = 2
    assert m.pairwise(FIVE_TRUTH, FIVE_PRED) == approx((0.5, 0.5, 0.5))


def test_pairwise_table():
    # shared 10 + 6 + 3 = 19; predicted and true pairs 15 + 15 + 6 = 36
    assert m.pair_counts(TABLE_TRUTH, TABLE_PRED) == (19, 36, 36)
    assert m.pairwise(TABLE_TRUTH, TABLE_PRED) == approx((19 / 36, 19 / 36, 19 / 36))


def test_pairwise_undefined_when_nothing_predicted():
    p = m.pairwise("AAB", [1, 2, 3])
    assert p.precision is None and p.recall == 0.0 and p.f1 == 0.0


def test_pairwise_undefined_when_nothing_expected():
    p = m.pairwise("ABC", [1, 1, 2])
    assert p.precision == 0.0 and p.recall is None and p.f1 == 0.0
    assert m.pairwise("ABC", [1, 2, 3]) == (None, None, None)


def test_ari_table():
    # index 19, expected 36 * 36 / C(16,2) = 10.8, max 36: (19 - 10.8) / (36 - 10.8) = 41/126
    assert m.adjusted_rand_index(TABLE_TRUTH, TABLE_PRED) == approx(41 / 126)


def test_ari_small_examples():
    # index 1, sums 2 and 1, C(4,2) = 6: (1 - 1/3) / (3/2 - 1/3) = 4/7
    assert m.adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == approx(4 / 7)
    # index 2, sums 4 and 4, C(5,2) = 10: (2 - 1.6) / (4 - 1.6) = 1/6
    assert m.adjusted_rand_index(FIVE_TRUTH, FIVE_PRED) == approx(1 / 6)


def test_ari_identical_and_trivial():
    assert m.adjusted_rand_index("AABBC", [3, 3, 1, 1, 2]) == 1.0
    assert m.adjusted_rand_index("AAAA", [0, 0, 0, 0]) == 1.0
    assert m.adjusted_rand_index("ABCD", [0, 1, 2, 3]) == 1.0
    assert m.adjusted_rand_index("AAAA", [0, 1, 2, 3]) == 0.0
    assert m.adjusted_rand_index("A", [0]) == 1.0


def test_ari_can_be_negative():
    # index 0, sums 2 and 2, C(4,2) = 6: (0 - 2/3) / (2 - 2/3) = -1/2
    assert m.adjusted_rand_index("AABB", [1, 2, 1, 2]) == approx(-0.5)


def test_nmi_edge_cases():
    assert m.normalized_mutual_info("AABBC", [5, 5, 6, 6, 7]) == approx(1.0)
    assert m.normalized_mutual_info("AAAA", [1, 1, 1, 1]) == 1.0
    assert m.normalized_mutual_info("ABCD", [1, 1, 1, 1]) == 0.0
    assert m.normalized_mutual_info("AAAA", [1, 2, 3, 4]) == 0.0
    assert m.normalized_mutual_info("ABCD", [1, 2, 3, 4]) == approx(1.0)


def test_nmi_refinement():
    # H(truth) = ln 2, H(pred) = 1.5 ln 2, MI = ln 2: ln 2 / (2.5 ln 2 / 2) = 0.8
    assert m.normalized_mutual_info("AABB", [1, 1, 2, 3]) == approx(0.8)


def test_nmi_independent_partitions():
    # every cell of the 2x2 table is 1: MI = 0
    assert m.normalized_mutual_info("AABB", [1, 2, 1, 2]) == approx(0.0)


def test_nmi_table():
    n = 16
    h_truth = -sum(c / n * math.log(c / n) for c in (6, 6, 4))
    mi = (5 / n * math.log(5 * n / 36) + 1 / n * math.log(n / 36) + 1 / n * math.log(n / 36)
          + 4 / n * math.log(4 * n / 36) + 1 / n * math.log(n / 24) + 1 / n * math.log(n / 24)
          + 3 / n * math.log(3 * n / 16))
    assert m.normalized_mutual_info(TABLE_TRUTH, TABLE_PRED) == approx(mi / h_truth)


def test_partitions_must_align():
    with pytest.raises(ValueError):
        m.bcubed("AB", [1])
    with pytest.raises(ValueError):
        m.pairwise([], [])


def test_cluster_scores_counts():
    s = m.cluster_scores(FIVE_TRUTH, FIVE_PRED)
    assert (s["stories"], s["clusters"]) == (2, 2)
    assert s["b3_f1"] == approx(11 / 15) and s["ari"] == approx(1 / 6)


def test_f1_conventions():
    assert m.f1(0.5, 0.5) == 0.5
    assert m.f1(None, 0.0) == 0.0 and m.f1(1.0, 0) == 0.0
    assert m.f1(None, 0.5) is None and m.f1(None, None) is None


def test_resolve_roots():
    assert m.resolve_roots({"a": None, "b": "a", "c": "b", "d": None}) == \
        {"a": "a", "b": "a", "c": "a", "d": "d"}
    # a target outside the map is the root; a cycle resolves to its smallest id
    assert m.resolve_roots({"x": "gone", "p": "q", "q": "p", "r": "q"}) == \
        {"x": "gone", "p": "p", "q": "p", "r": "p"}


def test_false_pairs():
    truth = ["g1", "g1", "g2", "g3"]
    pred = ["r", "r", "r", "s"]
    assert m.false_pairs(truth, pred) == 2          # (0,2) and (1,2)
    topic = ["t1", "t2", "t1", "t1"]
    assert m.false_pairs(truth, pred, within=topic) == 1    # only (0,2) shares a topic


def record(id, group, strength, status="new_story", dup=None):
    return {"id": id, "dupgroup": group, "strength": strength, "status": status,
            "duplicate_of": dup}


def test_near_duplicate_by_strength():
    records = [
        record("o1", "o1", "original"),
        record("o2", "o2", "original", "near_duplicate", "o1"),     # false report
        record("o1~light", "o1", "light", "near_duplicate", "o1"),  # right
        record("o2~light", "o2", "light", "near_duplicate", "o1"),  # wrong target
        record("o1~heavy", "o1", "heavy", "joined_story"),           # missed
        record("o2~heavy", "o2", "heavy", "exact_duplicate", "o2~light"),  # right: in group
    ]
    s = m.near_duplicate_by_strength(records)
    assert s["original"] == {"articles": 2, "expected": 0, "reported": 1, "correct": 0,
                             "precision": 0.0, "recall": None}
    assert s["light"] == {"articles": 2, "expected": 2, "reported": 2, "correct": 1,
                          "precision": 0.5, "recall": 0.5}
    assert s["heavy"] == {"articles": 2, "expected": 2, "reported": 1, "correct": 1,
                          "precision": 1.0, "recall": 0.5}


def test_near_duplicate_first_seen_copy_is_not_expected():
    # a copy that arrives before its original is the group's first member
    records = [record("o1~light", "o1", "light"),
               record("o1", "o1", "original", "near_duplicate", "o1~light")]
    s = m.near_duplicate_by_strength(records)
    assert s["light"]["expected"] == 0
    assert s["original"]["correct"] == 1 and s["original"]["recall"] == 1.0


def test_cross_story_duplicates():
    def r(i, story, topic, status="new_story", dup=None):
        return {"id": i, "story": story, "topic": topic, "status": status, "duplicate_of": dup}
    records = [r("a", "1_ecb", "1"), r("b", "1_ecbplus", "1"), r("c", "2_ecb", "2"),
               r("d", "1_ecb", "1", "near_duplicate", "a"),       # same story: fine
               r("e", "1_ecbplus", "1", "near_duplicate", "a"),   # other event, same topic
               r("f", "2_ecb", "2", "exact_duplicate", "b"),      # other topic
               r("g", "3_ecb", None, "near_duplicate", "zz")]     # names an unknown article
    out = m.cross_story_duplicates(records)
    assert (out["near"], out["exact"]) == (3, 1)
    assert (out["cross_story"], out["cross_story_same_topic"]) == (2, 1)
    assert out["examples"] == [("e", "a"), ("f", "b")]
