"""Fuse ranked lists from several retrievers into one ranking.

Two families: reciprocal rank fusion (rank-based, robust to score scales) and a convex
combination of normalised scores (uses how confident each retriever is).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

Ranking = Sequence[tuple[str, float]]  # (id, score), best first

# The fusion a request uses unless it names one (docs/quality.md); its weights and k are tuned
# per model (search/calibrations/).
DEFAULT_FUSION = "rrf"


def rrf(rankings: Sequence[Ranking], k: float = 60.0, weights: Sequence[float] | None = None) -> dict[str, float]:
    """Reciprocal rank fusion: sum over lists of weight / (k + rank), ranks from 1."""
    weights = weights or [1.0] * len(rankings)
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, (item, _) in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return fused


def normalise(ranking: Ranking, method: str = "minmax") -> dict[str, float]:
    """Scores mapped to a common scale: min-max to [0, 1], or z-scores."""
    if not ranking:
        return {}
    scores = [s for _, s in ranking]
    if method == "zscore":
        mean = statistics.fmean(scores)
        spread = statistics.pstdev(scores) or 1.0
        return {item: (s - mean) / spread for item, s in ranking}
    low, high = min(scores), max(scores)
    span = high - low
    return {item: (s - low) / span if span else 1.0 for item, s in ranking}


def convex(rankings: Sequence[Ranking], weights: Sequence[float], method: str = "minmax") -> dict[str, float]:
    """Weighted sum of normalised scores; an item missing from a list gets that list's floor."""
    fused: dict[str, float] = {}
    normalised = [normalise(r, method) for r in rankings]
    floors = [min(n.values()) if n else 0.0 for n in normalised]
    items = {item for n in normalised for item in n}
    for item in items:
        fused[item] = sum(w * n.get(item, floor) for n, w, floor in zip(normalised, weights, floors))
    return fused


def ranked(fused: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
