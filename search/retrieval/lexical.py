"""Lexical retrieval with Whoosh: BM25F over chunk titles and bodies.

Queries use the Whoosh query language (fields, "phrases", AND/OR/NOT, ranges); plain questions
are read as a disjunction of their content words, as BM25 expects, and scored by `search.retrieval.bm25`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from whoosh import qparser, query as wq, scoring

from index.lexical import analyzer
from search.retrieval import bm25
from search.retrieval.filters import Filters

SEARCH_FIELDS = ("title", "body")
MAX_QUERY_CHARS = 2000
# A '?' ending a word ends a question; inside a word ("wom?n") it stays a wildcard.
_QUESTION_MARK = re.compile(r"\?+(?=[\s\"')]|$)")


class QuerySyntaxError(ValueError):
    """A query the user must fix: the message says what is wrong."""


@dataclass(frozen=True)
class BM25Params:
    k1: float = 1.2
    b: float = 0.75
    title_b: float = 0.75


def parse_query(text: str, schema) -> wq.Query:
    """Parse a user query; raise QuerySyntaxError for unbalanced quotes or parentheses."""
    check_length(text)
    if text.count('"') % 2:
        raise QuerySyntaxError('unbalanced double quote in query; close the phrase or remove the "')
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            raise QuerySyntaxError("unbalanced parentheses in query: ')' without '('")
    if depth:
        raise QuerySyntaxError("unbalanced parentheses in query: '(' without ')'")
    parser = qparser.MultifieldParser(list(SEARCH_FIELDS), schema, group=qparser.OrGroup)
    parser.remove_plugin_class(qparser.SingleQuotePlugin)  # apostrophes are not quotes in news text
    try:
        parsed = parser.parse(_QUESTION_MARK.sub(" ", text))
    except Exception as exc:  # Whoosh raises assorted errors on odd syntax
        raise QuerySyntaxError(f"cannot parse query: {exc}") from None
    return _lift_negations(parsed)


def check_length(text: str) -> None:
    """Refuse empty and overlong queries (any mode)."""
    if not text.strip():
        raise QuerySyntaxError("the query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(f"the query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}")


def _lift_negations(q: wq.Query) -> wq.Query:
    """`a b NOT c` under an OR group means "a or b, but not c", not "a or b or anything-but-c"."""
    if isinstance(q, wq.Or):
        positives = [_lift_negations(c) for c in q.subqueries if not isinstance(c, wq.Not)]
        negatives = [c.query for c in q.subqueries if isinstance(c, wq.Not)]
        if negatives and positives:
            return wq.AndNot(wq.Or(positives), wq.Or(negatives))
        return wq.Or(positives) if positives else q
    if isinstance(q, wq.compound.CompoundQuery):
        return q.__class__([_lift_negations(c) for c in q.subqueries], boost=q.boost)
    return q


def query_terms(q: wq.Query) -> set[str]:
    """The analysed (stemmed) words of a parsed query, for highlighting."""
    terms = set()
    for fieldname, text in q.iter_all_terms(phrases=True):
        if fieldname in SEARCH_FIELDS:
            terms.add(text.decode("utf-8") if isinstance(text, bytes) else text)
    return terms


def analyse(text: str) -> set[str]:
    """The stemmed content words of free text, as the index sees them."""
    return {t.text for t in analyzer()(text)}


def filter_query(filters: Filters) -> wq.Query | None:
    parts: list[wq.Query] = []
    if filters.sources:
        parts.append(wq.Or([wq.Term("source", s.lower()) for s in filters.sources]))
    if filters.since or filters.until:
        parts.append(wq.TermRange("date", filters.since, filters.until))
    if filters.articles is not None:  # a query's field clauses (search/retrieval/fields.py)
        parts.append(wq.Or([wq.Term("article_id", a) for a in sorted(filters.articles)])
                     if filters.articles else wq.NullQuery)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else wq.And(parts)


def weighting(params: BM25Params) -> scoring.WeightingModel:
    return scoring.BM25F(B=params.b, K1=params.k1, title_B=params.title_b)


def plain_scorer(searcher, filters: Filters, cache: bm25.ReaderCache | None = None) -> bm25.Scorer:
    """The numpy scorer of plain-word queries for this searcher and these filters (sharing the
    lengths and postings already decoded for its reader, when given)."""
    return bm25.Scorer(searcher, filter_query(filters), cache)


def search_articles(searcher, q: wq.Query, limit: int, filters: Filters,
                    scorer: bm25.Scorer | None = None) -> list[tuple[str, float]]:
    """Top articles of the whole-article index as (article_id, BM25F score), best first."""
    return _search(searcher, q, limit, filters, scorer, "article_id")


def search_chunks(searcher, q: wq.Query, limit: int, filters: Filters,
                  scorer: bm25.Scorer | None = None) -> list[tuple[int, float]]:
    """Top chunks for a parsed query as (chunk_id, BM25F score), best first.

    With `plain_scorer(searcher, filters)`, plain-word queries are scored with numpy (the same
    scores, several times faster on large indexes); the rest go through Whoosh."""
    return _search(searcher, q, limit, filters, scorer, "chunk_id")


def _search(searcher, q: wq.Query, limit: int, filters: Filters, scorer: bm25.Scorer | None, key: str) -> list:
    """(stored `key` field, score) of the top documents of one Whoosh index."""
    terms = bm25.plain_terms(q, SEARCH_FIELDS) if scorer is not None else None
    if terms is not None:
        try:
            hits = scorer.top(terms, limit)
        except bm25.UnsupportedPostings:
            pass
        else:
            return [(scorer.cache.stored(searcher, docnum, key), score) for docnum, score in hits]
    results = searcher.search(q, limit=limit, filter=filter_query(filters))
    return [(hit[key], hit.score) for hit in results]
