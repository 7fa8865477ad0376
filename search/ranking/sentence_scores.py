"""Sentence-level semantic evidence: an article's best sentence and its lead, against the query.

A 200-token passage vector averages the sentence that answers a question with everything around
it, and a news article's first sentence (its lead, read with the headline before it) says what
the whole story is about. The article store keeps a vector per sentence (index/sentences.py, read
in their passage's context), so the best articles of a first ranking are re-scored with both,
cheaply: one store read and a small matrix product per query.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SentenceEvidence:
    """An article's sentences against the query: its best sentence and its lead (first)."""

    best: float
    lead: float


def evidence(backend, query_vector: np.ndarray, article_ids: list[str]) -> dict[str, SentenceEvidence]:
    """The evidence of each article that has stored sentence vectors (others are left out)."""
    if not article_ids:
        return {}
    found = backend.sentence_vectors(article_ids)
    q = np.asarray(query_vector, dtype=np.float32)
    out = {}
    for article_id, (_, matrix) in found.items():
        if len(matrix):
            cosines = matrix @ q
            out[article_id] = SentenceEvidence(float(cosines.max()), float(cosines[0]))
    return out


def combine(passage_ranking: list[tuple[str, float]], found: dict[str, SentenceEvidence],
            best_weight: float, lead_weight: float) -> list[tuple[str, float]]:
    """The semantic article ranking with the evidence mixed in: (1 - b - l) * passage + b * best
    sentence + l * lead for the articles that have it. An article with no passage among the fetched
    ones counts the lowest fetched passage score; one without sentence evidence keeps its passage
    score, so a ranking stays whole when some articles lack it."""
    passage = dict(passage_ranking)
    floor = min(passage.values()) if passage else 0.0
    scored = {}
    for article_id in passage.keys() | found.keys():
        p = passage.get(article_id, floor)
        e = found.get(article_id)
        scored[article_id] = p if e is None else (1.0 - best_weight - lead_weight) * p + best_weight * e.best + lead_weight * e.lead
    return sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))
