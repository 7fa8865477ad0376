"""Typos: suggestions from the index's own vocabulary (search/retrieval/spelling.py), and the
corrected query's results when the query as typed finds nothing."""

from __future__ import annotations

import json

import pytest

from search.retrieval.opened import OpenIndex
from search.retrieval.spelling import suggest

from conftest import run


@pytest.fixture(scope="module")
def index(sample_index):
    ix = OpenIndex(sample_index)
    yield ix
    ix.close()


def test_a_word_missing_from_the_index_gets_the_closest_word_of_the_index(index):
    assert suggest(index, "turtels nesting").text == "turtles nesting"
    assert suggest(index, "goverment talks").words == (("goverment", "government"),)
    assert suggest(index, "rail strike") is None  # every word is in the index
    assert suggest(index, "source:x xyzzyqwv") is None  # nothing close
    assert suggest(index, "lighthouse keepers") is None  # "keep" is another word, not a typo of it


def test_nothing_found_as_typed_shows_the_corrected_querys_results(runner, sample_index):
    result = run(runner, "search", "preconditons", "--index", sample_index, "--mode", "lexical", "-o", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["suggestion"] == "preconditions" and data["corrected"] is True
    assert data["query"] == "preconditons" and data["results"]
    assert all("precondition" in (r["passage"] + r["title"]).lower() for r in data["results"][:2])
    table = run(runner, "search", "preconditons", "--index", sample_index, "--mode", "lexical", "-o", "table")
    assert "showing results for: preconditions" in table.stdout


def test_a_typo_beside_words_that_match_is_suggested_without_replacing_the_results(runner, sample_index):
    result = run(runner, "search", "turtels nesting", "--index", sample_index, "--mode", "lexical", "-o", "json")
    data = json.loads(result.stdout)
    assert data["suggestion"] == "turtles nesting" and "corrected" not in data and data["results"]
    table = run(runner, "search", "turtels nesting", "--index", sample_index, "--mode", "lexical", "-o", "table")
    assert "did you mean: turtles nesting" in table.stdout


def test_a_misspelt_word_alone_gets_the_corrected_results_in_hybrid_mode(runner, sample_index):
    # As typed, only loose meaning matches pass the floor; none holds a word of the query.
    data = json.loads(run(runner, "search", "preconditons", "--index", sample_index, "-o", "json").stdout)
    assert data["corrected"] is True and data["suggestion"] == "preconditions" and data["results"]
    from search.retrieval.opened import OpenIndex

    ix = OpenIndex(sample_index)
    try:
        assert all("precondition" in " ".join(ix.store.article_text(r["id"])).lower() for r in data["results"])
    finally:
        ix.close()
