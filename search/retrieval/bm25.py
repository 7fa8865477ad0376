"""BM25F for plain-word queries, computed with numpy over Whoosh's postings.

A question or a list of keywords parses to an OR of single words over title and body. Its BM25F
score is a sum of one term per word and field, so it can be computed for every matching chunk
at once instead of one posting at a time. The statistics are Whoosh's own (its idf, average
field lengths, B and K1 from the searcher's weighting), so the ranking is Whoosh's ranking.
Every other query (phrases, AND, NOT, wildcards, ranges, fields like source:) goes to Whoosh.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import cached_property

import numpy as np
from whoosh import query as wq
from whoosh.scoring import BM25F, BM25FScorer

from search.retrieval import postings
from search.retrieval.postings import UnsupportedPostings

__all__ = ["PlainTerm", "ReaderCache", "Scorer", "UnsupportedPostings", "plain_terms"]

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


class ReaderCache:
    """What the searches of one Whoosh reader share: every document's field lengths, decoded
    when first asked for (6 ms of each search at 100,000 articles); the decoded postings of the
    words with the longest lists, least recently used first out within `budget` bytes; each
    word's BM25F statistics and the stored ids of the documents found. A generation's reader
    never changes, so one of these serves all its searches: at 100,000 articles a question's
    common words ("will", "new", "year") are most of its postings, and the next question
    usually has some of them too (docs/performance.md, docs/serve.md)."""

    MIN_POSTINGS = 2048  # shorter lists decode in well under a millisecond: not kept
    MAX_ENTRIES = 200_000  # of the small tables below (word statistics, stored keys): then emptied

    def __init__(self, reader, budget: int = 48 << 20):
        self.reader, self.budget = reader, budget
        self._lengths: dict[str, np.ndarray] = {}
        self._stats: dict[tuple, tuple[float, float, float, float] | None] = {}
        self._stored: dict[tuple[int, str], object] = {}
        self._postings: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def lengths(self, fieldname: str) -> np.ndarray:
        found = self._lengths.get(fieldname)
        if found is None:
            parts = [postings.field_lengths(seg, fieldname) for seg, _ in self.reader.leaf_readers()]
            found = self._lengths[fieldname] = np.concatenate(parts) if parts else np.empty(0)
        return found

    def stats(self, searcher, fieldname: str, text: str) -> tuple[float, float, float, float] | None:
        """(idf, average field length, B, K1) of a word as the searcher's BM25F scores it; None
        when the word is not in the index. Kept per word and BM25F setting (Whoosh works
        them out again for every searcher: a few lookups of the word in the index each)."""
        w = searcher.weighting
        key = ((fieldname, text, w.B, w.K1, tuple(sorted(w._field_B.items())))
               if type(w) is BM25F and isinstance(getattr(w, "_field_B", None), dict) else None)
        if key is not None and key in self._stats:
            return self._stats[key]
        found = None
        if (fieldname, text) in self.reader:
            scorer = w.scorer(searcher, fieldname, text)
            if type(scorer) is not BM25FScorer:
                raise UnsupportedPostings(f"weighting {type(w).__name__}")
            found = (scorer.idf, scorer.avgfl, scorer.B, scorer.K1)
        if key is not None:
            if len(self._stats) >= self.MAX_ENTRIES:
                self._stats.clear()
            self._stats[key] = found
        return found

    def stored(self, searcher, docnum: int, fieldname: str):
        """A document's stored field (its chunk or article id), kept once read."""
        key = (docnum, fieldname)
        found = self._stored.get(key)
        if found is None:
            found = searcher.stored_fields(docnum)[fieldname]
            if len(self._stored) >= self.MAX_ENTRIES:
                self._stored.clear()
            self._stored[key] = found
        return found

    def postings(self, segment, fieldname: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """`postings.term_postings`, kept for long lists (arrays read-only)."""
        key = (id(segment), fieldname, text)
        with self._lock:
            found = self._postings.get(key)
            if found is not None:
                self._postings.move_to_end(key)
                return found
        ids, tf = postings.term_postings(segment, fieldname, text)
        if len(ids) < self.MIN_POSTINGS:
            return ids, tf
        if ids[-1] < 2**31:
            ids = ids.astype(np.int32)  # frequencies stay float64: scores are summed in float64
        ids.flags.writeable = tf.flags.writeable = False
        size = ids.nbytes + tf.nbytes
        with self._lock:
            if key not in self._postings and size <= self.budget:
                self._postings[key] = (ids, tf)
                self._held += size
                while self._held > self.budget:
                    _, (old_ids, old_tf) = self._postings.popitem(last=False)
                    self._held -= old_ids.nbytes + old_tf.nbytes
        return ids, tf


class Scorer:
    """Top chunks for plain-word queries on one Whoosh searcher (a fixed snapshot of the index),
    among the documents `filter_query` matches (all when None); keep it for many queries, as it
    caches deletions and the filter (a date range costs Whoosh 0.4 s at 100,000 articles); pass
    `cache` to share decoded lengths and postings of the same reader between scorers."""

    def __init__(self, searcher, filter_query: wq.Query | None = None, cache: ReaderCache | None = None):
        self.searcher = searcher
        self.filter_query = filter_query
        self.leaves = searcher.reader().leaf_readers()
        self.doc_count = searcher.doc_count_all()
        reader = searcher.reader()
        self.cache = cache if cache is not None and cache.reader is reader else ReaderCache(reader, budget=0)

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
        total = 0.0
        for fieldname, text, boost in terms:
            stats = self.cache.stats(self.searcher, fieldname, text)
            if stats is not None:
                idf, _, _, k1 = stats
                total += boost * idf * (k1 + 1)
        return total

    def top(self, terms: list[PlainTerm], limit: int | None) -> list[tuple[int, float]]:
        """(docnum, score) of the best `limit` eligible documents, best first; ties go to the
        lower docnum, as in Whoosh."""
        scores = np.zeros(self.doc_count)
        matched = np.zeros(self.doc_count, dtype=bool)
        for fieldname, text, boost in terms:
            stats = self.cache.stats(self.searcher, fieldname, text)
            if stats is None:
                continue
            idf, avgfl, b, k1 = stats
            lengths = self.cache.lengths(fieldname)
            for seg, offset in self.leaves:
                ids, tf = self.cache.postings(seg, fieldname, text)
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
