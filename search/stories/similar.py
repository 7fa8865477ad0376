"""Articles like a given one: "more like this" by its article-level vector and its words.

The article's vector is the mean of its passage vectors, normalised; its lexical query is its
title and the start of its text as plain words. Both retrievers' hits are fused by the ranker as
for any query; the article itself and its duplicate cluster are left out.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from search.retrieval import lexical
from search.retrieval.backend import Candidates
from search.stories.clusters import Clusters
from search.ranking.ranker import Ranker, Result
from search.stories.view import FETCH_ALL, View, arrange

QUERY_WORDS = 120  # of the article's title and text, as its lexical query
_WORD = re.compile(r"\w+")


class UnknownArticle(ValueError):
    """The id is not an article of the index."""


def article_vector(ranker: Ranker, article_id: str) -> np.ndarray:
    ids = ranker.index.store.chunk_ids_of(article_id)
    matrix = ranker.retriever.passage_vectors(ids)
    mean = matrix.mean(axis=0)
    return (mean / (np.linalg.norm(mean) or 1.0)).astype("float32")


def lexical_query(title: str, text: str) -> str:
    """The article's first words as a plain-word query (no query syntax survives)."""
    return " ".join(w.lower() for w in _WORD.findall(f"{title} {text}")[:QUERY_WORDS])


def candidates_like(ranker: Ranker, article_id: str) -> Candidates:
    found = ranker.index.store.article_text(article_id)
    if found is None:
        raise UnknownArticle(f"no article with id {article_id!r} in the index; ids are shown in search "
                             "results (e.g. byline search QUERY -o ids)")
    title, text = found
    o = ranker.options
    lex, vec = [], []
    if o.mode != "semantic":
        lex = ranker.retriever.lexical_hits(lexical_query(title, text), o.depth)
    if o.mode != "lexical":
        vec = ranker.retriever.semantic_hits(article_vector(ranker, article_id)[None, :], o.depth)[0]
    # No query vector: query feedback is for short queries, not for a whole article.
    return Candidates(lex, vec, lexical.analyse(title), None, False)


def similar(ranker: Ranker, article_id: str, view: View, clusters: Clusters | None) -> list[Result]:
    """The k articles most like `article_id`, without it and its copies."""
    candidates = candidates_like(ranker, article_id)
    own = {article_id}
    if clusters is not None and clusters.available:
        own = set(clusters.members([article_id])[article_id])
    ranked = ranker.rank(candidates, replace(ranker.options, k=FETCH_ALL))
    ranked = [r for r in ranked if r.article.id not in own]
    return arrange(ranked, view, clusters, ranker.options, ranker.options.k)
