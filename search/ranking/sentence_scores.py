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
    # How much more the lead speaks for the article than its other sentences do: the lead's cosine
    # to the article's mean sentence vector minus the median of the others' (0 below 3 sentences).
    central: float = 0.0


def evidence(store, query_vector: np.ndarray, article_ids: list[str]) -> dict[str, SentenceEvidence]:
    """The evidence of each article that has stored sentence vectors (others are left out)."""
    if not article_ids:
        return {}
    found = store.sentence_vectors(article_ids)
    q = np.asarray(query_vector, dtype=np.float32)
    out = {}
    for article_id, (_, matrix) in found.items():
        if len(matrix):
            cosines = matrix @ q
            out[article_id] = SentenceEvidence(float(cosines.max()), float(cosines[0]), _centrality(matrix))
    return out


def _centrality(matrix: np.ndarray) -> float:
    if len(matrix) < 3:
        return 0.0
    centre = matrix.mean(axis=0)
    centre /= max(float(np.linalg.norm(centre)), 1e-9)
    cosines = matrix @ centre
    return float(cosines[0] - np.median(cosines[1:]))


def lead_share(e: SentenceEvidence, offset: float, width: float) -> float:
    """The share of the lead weight an article's lead earns: all of it when `width` is 0 (off),
    else a ramp from 0 at centrality `offset` to 1 at `offset + width`."""
    if width <= 0:
        return 1.0
    return min(1.0, max(0.0, (e.central - offset) / width))


def combine(passage_ranking: list[tuple[str, float]], found: dict[str, SentenceEvidence],
            best_weight: float, lead_weight: float, central_offset: float = 0.0,
            central_width: float = 0.0) -> list[tuple[str, float]]:
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
        if e is None:
            scored[article_id] = p
            continue
        lw = lead_weight * lead_share(e, central_offset, central_width)
        scored[article_id] = (1.0 - best_weight - lw) * p + best_weight * e.best + lw * e.lead
    return sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))
