"""Turn ranked chunks into ranked articles: an article scores by its best chunk, plus
optionally a decayed sum of its next-best chunks."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass


@dataclass
class ArticleScore:
    article_id: str
    score: float
    best_chunk: int | None  # None: matched as a whole article, by no fetched passage


def to_articles(chunk_hits: list[tuple[int, float]], chunk_article: dict[int, str],
                decay: float = 0.0) -> list[ArticleScore]:
    """Aggregate (chunk_id, score) hits to articles, best first.

    `decay` = 0 scores an article by its best chunk; d > 0 adds d * second + d^2 * third ...
    Hits whose chunk is unknown (not committed to the store) are ignored.
    """
    per_article: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for chunk_id, score in chunk_hits:
        article_id = chunk_article.get(chunk_id)
        if article_id is not None:
            per_article[article_id].append((score, chunk_id))
    out = []
    for article_id, scored in per_article.items():
        scored.sort(reverse=True)
        total = scored[0][0]
        if decay:
            total += sum(s * decay ** i for i, (s, _) in enumerate(scored[1:], start=1))
        out.append(ArticleScore(article_id, total, scored[0][1]))
    out.sort(key=lambda a: (-a.score, a.article_id))
    return out
