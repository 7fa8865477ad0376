"""What the reader sees of a ranking: copies collapsed, newest first, or newer articles boosted.

A stage after the ranker. `present` asks the ranker for enough articles (-k counts stories, so
it fetches more than k when copies are collapsed, and the whole relevant set when sorting by date
or boosting recency), then applies, in order: the relevance cut (date sort and recency), the recency
boost, the collapse of duplicate clusters, the date sort, and the limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date

from search.stories.clusters import Clusters
from search.stories.collapse import collapse
from search.ranking.ranker import Ranker, Result, SearchOptions
from search.retrieval.backend import Candidates

SORTS = ("relevance", "date")
# An article is in the relevant set when its score is at least this share of the top score, by
# mode (the score scales differ): the highest share that keeps 95% of the judged-relevant
# articles found at a share of 0.2, on the 150 BBC questions (scripts/research/relevance_cut.py,
# docs/stories.md).
RELEVANCE_CUT = {"hybrid": 0.4, "lexical": 0.4, "semantic": 0.7}
DEFAULT_HALF_LIFE = 30.0  # days
FETCH_ALL = 10000  # every article either retriever found (each returns at most `depth` passages)


@dataclass(frozen=True)
class View:
    """How to present a ranking."""

    collapse: bool = True
    sort: str = "relevance"
    recent: bool = False
    half_life: float = DEFAULT_HALF_LIFE
    cut: float | None = None  # None: RELEVANCE_CUT of the search's mode

    def __post_init__(self):
        if self.sort not in SORTS:
            raise ValueError(f"unknown --sort {self.sort!r}; choose one of {', '.join(SORTS)}")
        if not self.half_life > 0:
            raise ValueError("--half-life must be a positive number of days")


def relevant(results: list[Result], cut: float) -> list[Result]:
    """The results scoring at least `cut` times the top score."""
    if not results or results[0].score <= 0:
        return results
    floor = cut * results[0].score
    return [r for r in results if r.score >= floor]


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def boost_recent(results: list[Result], half_life: float) -> list[Result]:
    """Scores multiplied by 2^(-age / half_life), age in days before the newest result's date;
    undated articles count as old as the oldest. Re-sorted by the boosted score."""
    days = {r.article.id: _day(r.article.date) for r in results}
    known = [d for d in days.values() if d]
    if not known:
        return results
    newest, oldest = max(known), min(known)
    boosted = [replace(r, score=r.score * math.pow(2.0, -((newest - (days[r.article.id] or oldest)).days) / half_life))
               for r in results]
    return sorted(boosted, key=lambda r: -r.score)


def newest_first(results: list[Result]) -> list[Result]:
    """Sorted by date, newest first; same day (or undated, last) by rank."""
    return sorted(results, key=lambda r: (r.article.date is None, _neg_date(r.article.date), r.rank))


def _neg_date(text: str | None) -> tuple:
    return tuple(-ord(c) for c in text or "")


def arrange(ranked: list[Result], view: View, clusters: Clusters | None, options: SearchOptions,
            k: int | None) -> list[Result]:
    """Apply the view to a ranking made with `options` (see the module docstring)."""
    cut = view.cut if view.cut is not None else RELEVANCE_CUT[options.mode]
    # Recency reorders the relevant set only: boosting every candidate would let any new article win.
    out = relevant(ranked, cut) if view.sort == "date" or view.recent else ranked
    if view.recent:
        out = boost_recent(out, view.half_life)
    if view.collapse and clusters is not None and clusters.available:
        # Sorted by date, the whole relevant set is collapsed; by relevance, the first k stories.
        out = collapse(out, clusters, options.filters, None if view.sort == "date" else k)
    if view.sort == "date":
        out = newest_first(out)
    return [replace(r, rank=i) for i, r in enumerate(out[:k] if k else out, start=1)]


def present(ranker: Ranker, candidates: Candidates, k: int, view: View, clusters: Clusters | None,
            options: SearchOptions | None = None) -> list[Result]:
    """The first k stories of one query's candidates, as the view asks (`options` may override
    the ranking settings, as in `Ranker.rank`)."""
    options = options or ranker.options
    whole = view.sort == "date" or view.recent
    collapsing = view.collapse and clusters is not None and clusters.available
    fetch = FETCH_ALL if whole else max(3 * k, k + 20) if collapsing else k
    while True:
        ranked = ranker.rank(candidates, replace(options, k=fetch))
        out = arrange(ranked, view, clusters, options, k)
        if len(out) >= k or len(ranked) < fetch or fetch >= FETCH_ALL:
            return out
        fetch = min(fetch * 4, FETCH_ALL)


def search_many(ranker: Ranker, queries: list[str], view: View, clusters: Clusters | None = None) -> list[list[Result]]:
    """`present` for several queries (embedded in one batch), k from the ranker's options."""
    if clusters is None and view.collapse:
        clusters = Clusters(ranker.index.store)
    return [present(ranker, c, ranker.options.k, view, clusters) for c in ranker.retrieve(queries)]
