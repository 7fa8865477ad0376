"""The relevance floor: ranked results with no evidence for the query are not listed.

A ranked list always has a tail; hybrid and semantic search fill k places whatever the query.
An article counts as evidence of a match when it holds enough of the query's words (their share
weighted by idf, so "the" counts for nothing and a rare name for much) or when one of its
sentences or passages means what the query says (a cosine above a calibrated level). Results with
neither are dropped; when none is left the query matches no article. The levels were calibrated
on the BBC question sets and on off-topic queries (docs/quality.md, "Relevance floor";
scripts/research/floor.py). Lexical mode is not floored: its results contain the query's words.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from search.retrieval import lexical
from search.retrieval.filters import Filters

FLOORED_MODES = ("hybrid", "semantic")


@dataclass(frozen=True)
class FloorParams:
    """The floor's levels for one model (all-MiniLM-L6-v2's, measured; see the module doc)."""

    words: float = 0.67  # idf-weighted share of the query's words an article must hold
    meaning: float = 0.24  # best sentence or passage cosine that counts as a meaning match


@dataclass(frozen=True)
class Evidence:
    """How much an article supports a query: its share of the query's words, its best cosine."""

    words: float
    meaning: float

    def passes(self, params: FloorParams) -> bool:
        return self.words >= params.words or self.meaning >= params.meaning


class Floor:
    """Measures evidence and drops the results without it, on one open index (reuse it for a
    batch of queries: it keeps a retriever of the passage vectors)."""

    def __init__(self, index, params: FloorParams = FloorParams()):
        self.index = index
        self.params = params

    def keep(self, terms: set[str], query_vector, results: list) -> list:
        """The results that pass, ranks renumbered from 1."""
        if not results:
            return results
        found = self.evidence(terms, query_vector, [r.article.id for r in results])
        kept = [r for r in results if found[r.article.id].passes(self.params)]
        return [replace(r, rank=i) if r.rank != i else r for i, r in enumerate(kept, start=1)]

    def evidence(self, terms: set[str], query_vector, article_ids: list[str]) -> dict[str, Evidence]:
        words = self._word_shares(terms, article_ids)
        meaning = self._meanings(query_vector, article_ids)
        return {a: Evidence(words.get(a, 0.0), meaning.get(a, 0.0)) for a in article_ids}

    def holding(self, terms: set[str], results: list, every: bool = True) -> list:
        """The results whose article holds every one of `terms` (stemmed words), or with
        `every=False` any of them."""
        held = self.index.backend.words_held(terms, [r.article.id for r in results]) if terms else {}
        kept = [r for r in results if (held.get(r.article.id, set()) >= terms if every
                                       else held.get(r.article.id))]
        return [replace(r, rank=i) if r.rank != i else r for i, r in enumerate(kept, start=1)]

    # -- the two kinds of evidence -----------------------------------------------------------
    def _word_shares(self, terms: set[str], article_ids: list[str]) -> dict[str, float]:
        """Each article's idf-weighted share of the query's (stemmed) words, in its title or text."""
        if not terms:
            return {}
        weights = self.index.backend.word_weights(terms)
        total = sum(weights.values())
        if total <= 0:
            return {}
        held = self.index.backend.words_held(set(weights), article_ids)
        return {a: sum(weights[t] for t in words) / total for a, words in held.items()}

    @cached_property
    def _passages(self):
        """A retriever of the index's backend, for its stored passage vectors."""
        return self.index.backend.retriever("semantic", Filters(), lexical.BM25Params())

    def _meanings(self, query_vector, article_ids: list[str]) -> dict[str, float]:
        """Each article's best cosine to the query: over its sentences when the index stores
        them, and over its passages."""
        if query_vector is None:
            return {}
        q = np.asarray(query_vector, dtype=np.float32)
        store = self.index.store
        out: dict[str, float] = {}
        for article_id, (_, matrix) in store.sentence_vectors(article_ids).items():
            if len(matrix):
                out[article_id] = float((matrix @ q).max())
        for article_id in article_ids:
            chunk_ids = store.chunk_ids_of(article_id)
            if chunk_ids:
                best = float((self._passages.passage_vectors(chunk_ids) @ q).max())
                out[article_id] = max(out.get(article_id, -1.0), best)
        return out
