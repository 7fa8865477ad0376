"""Question detection and the query-feedback arithmetic (pure functions, no index)."""

from __future__ import annotations

import numpy as np
import pytest

from search.ranking.feedback import expand, feedback_chunks
from search.ranking.questions import is_question


@pytest.mark.parametrize("text", [
    "who proposed talks without preconditions", "What did the minister say about rates",
    "  how many people voted?", "Is the railway strike over", "central bank rates?",
    "Does vitamin D prevent flu?",
])
def test_questions(text):
    assert is_question(text)


@pytest.mark.parametrize("text", [
    "north korea missile tests", "Vitamin D deficiency increases the risk of flu",
    '"no preconditions" talks', "whoever wins the election", "iso 9001 certification", "", "?!",
])
def test_not_questions(text):
    assert is_question(text) is (text.strip().endswith("?"))


def test_feedback_takes_the_best_semantic_passage_of_the_top_articles():
    best = {"a": 11, "b": 21, "d": 41}
    assert feedback_chunks(["a", "c", "b", "d"], best, 2) == [11]  # "c" had no semantic passage
    assert feedback_chunks(["a", "b", "d"], best, 2) == [11, 21]
    assert feedback_chunks([], best, 2) == []


def test_expand_moves_the_query_towards_the_feedback_and_keeps_unit_length():
    q = np.array([1.0, 0.0, 0.0], dtype="float32")
    fb = np.array([[0.0, 1.0, 0.0], [0.0, 0.6, 0.8]], dtype="float32")
    moved = expand(q, fb, 0.5)
    assert moved.dtype == np.float32 and np.isclose(np.linalg.norm(moved), 1.0)
    centre = fb.mean(axis=0)
    assert moved @ centre > q @ centre and moved[0] > moved[1]  # closer to the feedback, still led by q
    assert np.array_equal(expand(q, np.zeros((0, 3), "float32"), 0.5), q)
