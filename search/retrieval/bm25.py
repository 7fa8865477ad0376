"""BM25F for plain-word queries, computed with numpy over Whoosh's postings.

A question or a list of keywords parses to an OR of single words over title and body. Its BM25F
score is a sum of one term per word and field, so it can be computed for every matching chunk
at once instead of one posting at a time. The statistics are Whoosh's own (its idf, average
field lengths, B and K1 from the searcher's weighting), so the ranking is Whoosh's ranking.
Every other query (phrases, AND, NOT, wildcards, ranges, fields like source:) goes to Whoosh.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from whoosh import query as wq
from whoosh.scoring import BM25FScorer

from search.retrieval import postings
from search.retrieval.postings import UnsupportedPostings

__all__ = ["FieldLengths", "PlainTerm", "Scorer", "UnsupportedPostings", "plain_terms"]

PlainTerm = tuple[str, str, float]  # field, analysed word, boost


def plain_terms(q: wq.Query, fieldnames: tuple[str, ...]) -> list[PlainTerm] | None:
    """The (field, word, boost) parts of a query that is a plain OR of words; None otherwise."""
    if type(q) is wq.Term:
        nodes = [q]
    elif type(q) is wq.Or and q.boost == 1.0 and q.scale is None \
            and all(type(c) is wq.Term for c in q.subqueries):
        nodes = q.subqueries
    else:
        return None
    if any(n.fieldname not in fieldnames or n.minquality for n in nodes):
        return None
    return [(n.fieldname, n.text, n.boost) for n in nodes]


class FieldLengths:
    """Every document's length of each field of one Whoosh reader, decoded when first asked
    for. A generation's reader never changes, so one of these serves all its searches (decoding
    them took 6 ms of each search at 100,000 articles)."""

    def __init__(self, reader):
        self.reader = reader
        self._by_field: dict[str, np.ndarray] = {}

    def __call__(self, fieldname: str) -> np.ndarray:
        found = self._by_field.get(fieldname)
        if found is None:
            parts = [postings.field_lengths(seg, fieldname) for seg, _ in self.reader.leaf_readers()]
            found = self._by_field[fieldname] = np.concatenate(parts) if parts else np.empty(0)
        return found


class Scorer:
    """Top chunks for plain-word queries on one Whoosh searcher (a fixed snapshot of the index),
    among the documents `filter_query` matches (all when None); keep it for many queries, as it
    caches deletions and the filter (a date range costs Whoosh 0.4 s at 100,000 articles); pass
    `lengths` to share the decoded field lengths of the same reader between scorers."""

    def __init__(self, searcher, filter_query: wq.Query | None = None, lengths: FieldLengths | None = None):
        self.searcher = searcher
        self.filter_query = filter_query
        self.leaves = searcher.reader().leaf_readers()
        self.doc_count = searcher.doc_count_all()
        reader = searcher.reader()
        self.lengths = lengths if lengths is not None and lengths.reader is reader else FieldLengths(reader)

    @cached_property
    def eligible(self) -> np.ndarray:
        """Which documents may be returned: not deleted, and matched by the filter."""
        eligible = np.ones(self.doc_count, dtype=bool)
        for seg, offset in self.leaves:
            eligible[postings.deleted_docnums(seg) + offset] = False
        if self.filter_query is not None:
            allowed = np.zeros(self.doc_count, dtype=bool)
            allowed[np.fromiter(self.searcher.docs_for_query(self.filter_query), dtype=np.int64)] = True
            eligible &= allowed
        return eligible

    def ceiling(self, terms: list[PlainTerm]) -> float:
        """The score a document would get by matching every term at saturation: the sum of
        boost * idf * (k1 + 1). A top score far below it matched only a few, common words."""
        reader, weighting, total = self.searcher.reader(), self.searcher.weighting, 0.0
        for fieldname, text, boost in terms:
            if (fieldname, text) in reader:
                scorer = weighting.scorer(self.searcher, fieldname, text)
                total += boost * scorer.idf * (getattr(scorer, "K1", 1.2) + 1)
        return total

    def top(self, terms: list[PlainTerm], limit: int | None) -> list[tuple[int, float]]:
        """(docnum, score) of the best `limit` eligible documents, best first; ties go to the
        lower docnum, as in Whoosh."""
        scores = np.zeros(self.doc_count)
        matched = np.zeros(self.doc_count, dtype=bool)
        reader = self.searcher.reader()
        weighting = self.searcher.weighting
        for fieldname, text, boost in terms:
            if (fieldname, text) not in reader:
                continue
            scorer = weighting.scorer(self.searcher, fieldname, text)
            if type(scorer) is not BM25FScorer:
                raise UnsupportedPostings(f"weighting {type(weighting).__name__}")
            idf, avgfl, b, k1 = scorer.idf, scorer.avgfl, scorer.B, scorer.K1
            lengths = self.lengths(fieldname)
            for seg, offset in self.leaves:
                ids, tf = postings.term_postings(seg, fieldname, text)
                if not len(ids):
                    continue
                ids = ids + offset
                norm = k1 * ((1 - b) + b * lengths[ids] / avgfl)
                scores[ids] += boost * (idf * ((tf * (k1 + 1)) / (tf + norm)))
                matched[ids] = True
        matched &= self.eligible
        candidates = np.flatnonzero(matched)
        limit = len(candidates) if limit is None else limit
        if 0 < limit < len(candidates):
            candidates = candidates[np.argpartition(-scores[candidates], limit - 1)[:limit]]
            # argpartition splits ties at the cut arbitrarily; take every tie, then cut in order
            cut = scores[candidates].min()
            candidates = np.flatnonzero(matched & (scores >= cut))
        order = np.lexsort((candidates, -scores[candidates]))[:limit]
        best = candidates[order]
        return [(int(d), float(s)) for d, s in zip(best, scores[best])]
