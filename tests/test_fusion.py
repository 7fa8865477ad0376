"""Fusion and chunk-to-article aggregation arithmetic."""

from __future__ import annotations

import pytest

from search.ranking.aggregate import to_articles
from search.ranking.fusion import convex, normalise, ranked, rrf


def test_rrf_sums_reciprocal_ranks():
    fused = rrf([[("a", 9.0), ("b", 5.0)], [("b", 0.9), ("c", 0.8)]], k=60)
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c"] == pytest.approx(1 / 62)
    assert [item for item, _ in ranked(fused)] == ["b", "a", "c"]


def test_rrf_weights_shift_the_balance():
    lists = [[("lex", 1.0), ("both", 0.5)], [("sem", 1.0), ("both", 0.5)]]
    assert ranked(rrf(lists, k=1, weights=[0.2, 1.8]))[0][0] == "sem"
    assert ranked(rrf(lists, k=1, weights=[1.8, 0.2]))[0][0] == "lex"


def test_minmax_and_zscore_normalisation():
    assert normalise([("a", 10.0), ("b", 5.0), ("c", 0.0)]) == {"a": 1.0, "b": 0.5, "c": 0.0}
    z = normalise([("a", 3.0), ("b", 1.0)], "zscore")
    assert z["a"] == pytest.approx(1.0) and z["b"] == pytest.approx(-1.0)


def test_convex_combination_and_missing_items_get_the_floor():
    fused = convex([[("a", 20.0), ("b", 10.0)], [("b", 0.9), ("c", 0.5)]], weights=[0.5, 0.5])
    assert fused["a"] == pytest.approx(0.5)
    assert fused["b"] == pytest.approx(0.5 * 0.0 + 0.5 * 1.0)
    assert fused["c"] == pytest.approx(0.0)


def test_aggregate_best_chunk_and_decayed_sum():
    hits = [(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.1), (99, 5.0)]
    owner = {1: "x", 2: "x", 3: "y", 4: "x"}  # chunk 99 is not in the store: ignored
    best = to_articles(hits, owner)
    assert [(a.article_id, a.score, a.best_chunk) for a in best] == [("x", 0.9, 1), ("y", 0.7, 3)]
    decayed = {a.article_id: a.score for a in to_articles(hits, owner, decay=0.5)}
    assert decayed["x"] == pytest.approx(0.9 + 0.5 * 0.8 + 0.25 * 0.1)
