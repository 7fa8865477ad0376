"""Sentence-level semantic evidence: an article's best sentence, against the query vector.

A 200-token passage vector averages the sentence that answers a question with everything around
it; a real article often holds its answer in one sentence among many ("prepared to sit down with
no preconditions"). The article store keeps a vector per sentence (index/sentences.py, read in
their passage's context), so the best articles of a first ranking are re-scored by their best
sentence, cheaply: one store read and a small matrix product per query.
"""

from __future__ import annotations

import numpy as np


def best_sentences(store, query_vector: np.ndarray, article_ids: list[str]) -> dict[str, float]:
    """{article_id: cosine of its best sentence to the query} for the articles with sentences."""
    if not article_ids:
        return {}
    found = store.sentence_vectors(article_ids)
    q = np.asarray(query_vector, dtype=np.float32)
    return {a: float((matrix @ q).max()) for a, (_, matrix) in found.items() if len(matrix)}


def combine(passage_ranking: list[tuple[str, float]], sentence: dict[str, float],
            weight: float) -> list[tuple[str, float]]:
    """The semantic article ranking with passage and best-sentence cosines mixed:
    (1 - weight) * passage + weight * sentence for the re-scored articles. An article that has no
    passage among the fetched ones counts the lowest fetched passage score; one without sentence
    evidence keeps its passage score, so a ranking stays whole when some articles lack it."""
    passage = dict(passage_ranking)
    floor = min(passage.values()) if passage else 0.0
    scored = {}
    for article_id in passage.keys() | sentence.keys():
        p = passage.get(article_id, floor)
        s = sentence.get(article_id)
        scored[article_id] = p if s is None else (1.0 - weight) * p + weight * s
    return sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))
