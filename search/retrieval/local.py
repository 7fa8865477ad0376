"""The local backend: Whoosh BM25F (passages and whole articles) and FAISS, in the index folder.

Implements search/retrieval/backend.py over the parts `OpenIndex` opens (its `lexical`,
`article_lexical`, `vectors` and `embedder`), so they are opened only when first needed.
"""

from __future__ import annotations

from functools import cached_property

from index import vectors
from search.retrieval import bm25, lexical, semantic
from search.retrieval.backend import Backend, Candidates, Frequencies, Hits, Retriever, allowed_chunks
from search.retrieval.filters import Filters


class LocalBackend(Backend):
    def __init__(self, index):
        """`index`: the OpenIndex (search/retrieval/opened.py) this backend reads."""
        super().__init__(index.store)
        self.index = index

    def retriever(self, mode: str, filters: Filters, bm25: lexical.BM25Params) -> LocalRetriever:
        return LocalRetriever(self, mode, filters, bm25)

    @cached_property
    def passage_cache(self) -> bm25.ReaderCache:
        """The passage index's decoded lengths and common postings, for every search of this index."""
        return bm25.ReaderCache(self.index.lexical.reader())

    @cached_property
    def article_cache(self) -> bm25.ReaderCache | None:
        whole = self.index.article_lexical
        return bm25.ReaderCache(whole.reader()) if whole is not None else None

    def frequencies(self) -> Frequencies:
        return self.index.lexical.reader()

    def word_weights(self, terms: set[str]) -> dict[str, float]:
        """Whoosh's idf of each word in the passage index, the higher of title and body."""
        with self.index.lexical.searcher() as searcher:
            return {t: max(searcher.idf(field, t) for field in lexical.SEARCH_FIELDS) for t in terms}

    def words_held(self, terms: set[str], article_ids: list[str]) -> dict[str, set[str]]:
        """From the postings of the whole-article index: a skip per word and article."""
        whole = self.index.article_lexical
        if whole is None:  # an index made before it: analyse the articles
            return super().words_held(terms, article_ids)
        with whole.searcher() as searcher:
            docnums = sorted((d, a) for a in article_ids
                             if (d := searcher.document_number(article_id=a)) is not None)
            reader = searcher.reader()
            out: dict[str, set[str]] = {a: set() for _, a in docnums}
            for fieldname in lexical.SEARCH_FIELDS:
                for term in terms:
                    if (fieldname, term) not in reader:
                        continue
                    postings = reader.postings(fieldname, term)
                    for docnum, article_id in docnums:
                        if not postings.is_active():
                            break
                        postings.skip_to(docnum)
                        if postings.is_active() and postings.id() == docnum:
                            out[article_id].add(term)
        return out

    def articles_with_words(self, fieldname: str, words: list[str]) -> set[str]:
        from whoosh import query as wq

        q = wq.And([wq.Term(fieldname, w) for w in words])
        whole = self.index.article_lexical
        if whole is not None:
            with whole.searcher() as s:
                return {s.stored_fields(d)["article_id"] for d in s.docs_for_query(q)}
        with self.index.lexical.searcher() as s:
            chunk_ids = [s.stored_fields(d)["chunk_id"] for d in s.docs_for_query(q)]
        return {row.article_id for row in self.store.chunks(chunk_ids).values()}


class LocalRetriever(Retriever):
    def __init__(self, backend: LocalBackend, mode: str, filters: Filters, bm25: lexical.BM25Params):
        self.backend, self.index = backend, backend.index
        self.mode, self.filters, self.bm25 = mode, filters, bm25

    @cached_property
    def _searcher(self):
        return self.index.lexical.searcher(weighting=lexical.weighting(self.bm25))

    @cached_property
    def _scorer(self) -> bm25.Scorer:
        return lexical.plain_scorer(self._searcher, self.filters, self.backend.passage_cache)

    @cached_property
    def _article_searcher(self):
        ix = self.index.article_lexical
        return ix.searcher(weighting=lexical.weighting(self.bm25)) if ix is not None else None

    @cached_property
    def _article_scorer(self) -> bm25.Scorer | None:
        s = self._article_searcher
        if s is None:
            return None
        return lexical.plain_scorer(s, self.filters, self.backend.article_cache)

    @cached_property
    def _allowed(self) -> list[int] | None:
        return allowed_chunks(self.index.store, self.filters)

    def candidates(self, queries: list[str], depth: int) -> list[Candidates]:
        for q in queries:
            lexical.check_length(q)
        parsed = [lexical.parse_query(q, self.index.lexical.schema) if self.mode != "semantic" else None
                  for q in queries]
        semantic_hits: list[Hits] = [[] for _ in queries]
        matrix = [None] * len(queries)
        if self.mode != "lexical":
            vector_index = self.index.vectors  # opened before the model loads: one generation
            matrix = self.index.embedder.encode_queries(list(queries))
            semantic_hits = semantic.search_chunks(vector_index, matrix, depth, self._allowed)
        out = []
        for query, q, vec_hits, vector in zip(queries, parsed, semantic_hits, matrix):
            lex_hits = lexical.search_chunks(self._searcher, q, depth, self.filters, self._scorer) if q else []
            articles, strength = self._article_hits(q, depth) if q else (None, 1.0)
            terms = lexical.query_terms(q) if q is not None else lexical.analyse(query)
            out.append(Candidates(lex_hits, vec_hits, terms, vector, articles=articles, lexical_strength=strength))
        return out

    def _article_hits(self, q, depth: int) -> tuple[list[tuple[str, float]] | None, float]:
        """Whole-article BM25F hits, and how strongly the best of them matched the query."""
        searcher = self._article_searcher
        if searcher is None:
            return None, 1.0
        hits = lexical.search_articles(searcher, q, depth, self.filters, self._article_scorer)
        terms = bm25.plain_terms(q, lexical.SEARCH_FIELDS)
        if not hits or terms is None:
            return hits, 1.0 if hits else 0.0
        ceiling = self._article_scorer.ceiling(terms)
        return hits, min(1.0, hits[0][1] / ceiling) if ceiling > 0 else 0.0

    def semantic_hits(self, query_vectors, depth: int) -> list[Hits]:
        return semantic.search_chunks(self.index.vectors, query_vectors, depth, self._allowed)

    def lexical_hits(self, words: str, depth: int) -> Hits:
        q = lexical.parse_query(words, self.index.lexical.schema)
        return lexical.search_chunks(self._searcher, q, depth, self.filters, self._scorer)

    def passage_vectors(self, chunk_ids: list[int]):
        return vectors.vectors_of(self.index.vectors, chunk_ids)
