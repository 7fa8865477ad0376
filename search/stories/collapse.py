"""Collapse ranked results so that each duplicate cluster appears once.

A stage after the ranker: it takes ranked results, keeps each cluster's best-ranked member, and
lists the cluster's other articles (those passing the search's filters) in its `duplicates`.
"""

from __future__ import annotations

from dataclasses import replace

from index.store import StoredArticle
from search.stories.clusters import Clusters
from search.retrieval.filters import Filters
from search.ranking.ranker import Result


def passes(article: StoredArticle, filters: Filters) -> bool:
    """Whether an article's metadata passes the filters (as the retrievers apply them)."""
    if filters.sources and (article.source or "").lower() not in {s.lower() for s in filters.sources}:
        return False
    if filters.since and not (article.date and article.date >= filters.since):
        return False
    if filters.until and not (article.date and article.date <= filters.until):
        return False
    return filters.articles is None or article.id in filters.articles


def collapse(results: list[Result], clusters: Clusters, filters: Filters = Filters(),
             k: int | None = None) -> list[Result]:
    """The results with every cluster once, at its best-ranked member, ranks renumbered; at
    most `k` of them. Each kept result's `duplicates` are its cluster's other articles, the
    ranked ones first (in rank order), then the rest by date.

    Only the kept results' clusters are looked up (a result is dropped when it is in an earlier
    kept one's cluster), a few at a time in rank order: with `k`, about k of them instead of all
    the results (at 100,000 articles the lookups were a quarter of a search)."""
    members: dict[str, frozenset[str]] = {}
    kept: list[Result] = []
    taken: set[str] = set()
    for i, r in enumerate(results):
        if r.article.id in taken:
            continue
        if r.article.id not in members:
            # This one and the next untaken ones that could still be kept, in one lookup.
            room = k - len(kept) if k is not None else len(results)
            ahead = [x.article.id for x in results[i:] if x.article.id not in taken and x.article.id not in members]
            members.update(clusters.members(list(dict.fromkeys(ahead))[:room]))
        taken |= members[r.article.id]
        kept.append(r)
        if k is not None and len(kept) == k:
            break
    order = {r.article.id: i for i, r in enumerate(results)}
    others = {r.article.id: members[r.article.id] - {r.article.id} for r in kept}
    meta = clusters.store.articles({a for group in others.values() for a in group})
    out = []
    for rank, r in enumerate(kept, start=1):
        copies = [meta[a] for a in others[r.article.id] if a in meta and passes(meta[a], filters)]
        copies.sort(key=lambda a: (order.get(a.id, len(order)), a.date or "", a.id))
        out.append(replace(r, rank=rank, duplicates=copies))
    return out


def story_ids(result: Result) -> set[str]:
    """The ids of a result's article and its listed copies."""
    return {result.article.id, *(a.id for a in result.duplicates)}
