"""The read side's one pipeline: retrieve, rank, present (collapse, date order), answer.

Every front end (the search command, saved searches) runs a query through `run`, so a result
is always ranked, collapsed and answered the same way.
"""

from __future__ import annotations

from search.answering.answers import Answerer
from search.ranking.floor import FLOORED_MODES, Floor, FloorParams
from search.stories.clusters import Clusters
from search.ranking.ranker import Ranker, Result
from search.stories.view import View, present


def run(ranker: Ranker, queries: list[str], view: View = View(), answers: bool = True,
        answer_limit: int | None = None, answerer: Answerer | None = None,
        floor: FloorParams | None = None, clusters: Clusters | None = None) -> list[list[Result]]:
    """Results of each query as `view` presents them; with `answers`, the first `answer_limit`
    results of each (all when None) carry their answer sentence (from `answerer`, to reuse
    one across calls, else a new one). With `floor` (hybrid and semantic modes), results without
    evidence for the query are dropped (search/ranking/floor.py). `clusters`: the index's
    duplicate clusters, to reuse the ones already found (a new `Clusters` when None)."""
    clusters = (clusters or Clusters(ranker.index.store)) if view.collapse else None
    k = ranker.options.k
    ranked = ranker.search_deep(queries, lambda c: present(ranker, c, k, view, clusters))
    if floor is not None and ranker.options.mode in FLOORED_MODES:
        f = Floor(ranker.index, floor)
        ranked = [(c, f.keep(c.terms, c.vector, results)) for c, results in ranked]
    if answers:
        answerer = answerer or Answerer(ranker.index)
        for query, (candidates, results) in zip(queries, ranked):
            answerer.attach(query, candidates.vector, results, answer_limit)
    return [results for _, results in ranked]
