"""Unit tests for tools/baseline.py, the streaming TF-IDF cosine clusterer."""

import math
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import baseline  # noqa: E402


def test_tokens():
    assert baseline.tokens("The U.S. and China's Xi, in 2023!") == ["u", "s", "china", "s", "xi", "2023"]
    assert baseline.tokens("Zürich_Files") == ["zürich", "files"]


def test_vectorise_streaming_idf():
    vecs = baseline.vectorise(["quake chile", "quake peru", "", "the of"])
    # second text: N = 2, df(quake) = 2 -> idf 1; df(peru) = 1 -> idf ln(3/2) + 1
    w_quake, w_peru = 1.0, math.log(1.5) + 1
    norm = math.hypot(w_quake, w_peru)
    assert vecs[1] == pytest.approx({"quake": w_quake / norm, "peru": w_peru / norm})
    # first text: both terms have df 1 of N 1 -> equal weights
    assert vecs[0] == pytest.approx({"quake": 2 ** -0.5, "chile": 2 ** -0.5})
    assert vecs[2] == {} and vecs[3] == {}


def test_vectorise_sublinear_tf():
    (vec,) = baseline.vectorise(["storm storm storm rain"])
    assert vec["storm"] / vec["rain"] == pytest.approx(1 + math.log(3))


def test_cluster_joins_similar_and_splits_unrelated():
    texts = ["earthquake hits chile coast", "chile earthquake coast damage",
             "football cup final tonight", "earthquake chile coast aftershock",
             "cup final football penalties"]
    assert baseline.run(texts, 0.3) == [0, 0, 1, 0, 1]


def test_cluster_threshold_extremes():
    texts = ["earthquake chile", "earthquake peru", "cup final"]
    assert baseline.run(texts, 1.01) == [0, 1, 2]
    # at 0 an article still needs a shared term to join
    assert baseline.run(texts, 0.0) == [0, 0, 1]


def test_cluster_centroid_is_the_sum():
    # b joins a; c is closer to the centroid a+b than to a alone
    a = {"x": 1.0}
    b = {"y": 1.0}
    c = {"x": 0.5 ** 0.5, "y": 0.5 ** 0.5}
    assert baseline.cluster([a, b], 0.0) == [0, 1]          # no shared term
    ab = {"x": 0.8, "y": 0.6}
    assert baseline.cluster([a, ab, c], 0.75) == [0, 0, 0]
    # cos(c, a) = 0.707 < 0.75, but cos(c, a + ab) = (1.8 + 0.6) * 0.707 / |(1.8, 0.6)| = 0.894


def test_empty_vectors_stay_alone():
    assert baseline.cluster([{}, {}, {"x": 1.0}], 0.0) == [0, 1, 2]
