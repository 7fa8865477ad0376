"""Pseudo-relevance feedback on the query vector (Rocchio, in embedding space).

A claim or a few keywords are often worded unlike the passages that support them. After a first
hybrid ranking, the best semantic passage of each of the top articles stands for what the user
wants: the query vector moves towards their mean and FAISS is searched a second time. Measured
on the tuning splits (docs/quality.md): two articles at weight 1.0 (search/calibrations/) lift hybrid nDCG@10 on
SciFact and NFCorpus; applied to natural questions it hurts (one specific answer, and a wrong
first guess pulls the second search off course), so the ranker skips it for them.
"""

from __future__ import annotations

import numpy as np


def feedback_chunks(ranked_articles: list[str], best_semantic_chunk: dict[str, int], count: int) -> list[int]:
    """The best semantic passage of each of the first `count` ranked articles that has one."""
    return [best_semantic_chunk[a] for a in ranked_articles[:count] if a in best_semantic_chunk]


def expand(query_vector: np.ndarray, feedback_vectors: np.ndarray, weight: float) -> np.ndarray:
    """The query vector moved towards the feedback vectors' mean, back to unit length."""
    if not len(feedback_vectors):
        return query_vector
    moved = query_vector + weight * feedback_vectors.mean(axis=0)
    norm = float(np.linalg.norm(moved))
    return (moved / norm if norm else query_vector).astype("float32")
