"""Negated phrases: "without preconditions" asks for articles that say "no preconditions"."""

from __future__ import annotations

from search.ranking.negation import agreeing_first, negated_terms, negates


def test_query_negations_are_found_by_stem():
    assert negated_terms("who proposed talks without preconditions") == {"precondit"}
    assert negated_terms("talks with no strings attached") == {"string"}
    assert negated_terms("who proposed talks with preconditions") == set()


def test_text_negating_the_same_word_agrees_and_setting_it_does_not():
    terms = negated_terms("talks without preconditions")
    assert negates('The US was prepared "to sit down with no preconditions".', terms)
    assert negates("They offered to meet without any preconditions.", terms)
    assert negates("He offered unconditional talks.", terms)
    assert not negates("Aldovia sets preconditions before reopening talks.", terms)
    assert not negates("Officials proposed a meeting without any agenda.", terms)


def test_agreeing_articles_move_first_and_the_rest_keep_their_order():
    texts = {"a": "sets three preconditions", "b": "talks stalled", "c": "no preconditions at all"}
    assert agreeing_first(["a", "b", "c"], texts, {"precondit"}) == ["c", "a", "b"]
    assert agreeing_first(["a", "b"], texts, {"precondit"}) == ["a", "b"]
