"""How an index's articles are written, measured from their sentence vectors at commit.

News is written as an inverted pyramid: the first sentence (the lead) says what the story is
about, so it sits closer to the article's mean sentence vector than the article's other
sentences do. A science abstract opens with background, and its lead sits farther from the
mean than the others. The ranker gives the lead sentence weight only in collections whose
leads summarise (search/ranking/ranker.py); this module measures that, on a fixed sample.
"""

from __future__ import annotations

import numpy as np

SAMPLE = 400  # articles read at each commit (tens of milliseconds on BBC News)
MIN_ARTICLES = 20  # fewer articles with 3+ sentences: no profile (too few to say)


def lead_centrality(matrices) -> float | None:
    """The median over articles of: the lead's cosine to the article's mean sentence vector,
    minus the median cosine of its other sentences. Positive: leads summarise their articles.
    None when fewer than MIN_ARTICLES articles have three sentences or more."""
    gaps = []
    for matrix in matrices:
        if len(matrix) < 3:
            continue
        centre = matrix.mean(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-9)
        cosines = matrix @ centre
        gaps.append(float(cosines[0] - np.median(cosines[1:])))
    if len(gaps) < MIN_ARTICLES:
        return None
    return round(float(np.median(gaps)), 4)


def measure(store) -> float | None:
    """lead_centrality of a sample of the store's visible articles (None without sentences)."""
    return lead_centrality(store.sample_sentence_vectors(SAMPLE))
