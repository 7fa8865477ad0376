"""The Milvus backend's read side (search/retrieval/backend.py): the same `Candidates` the local
backend produces, from the engine's own BM25 (sparse search over the `english`-analysed text) and
dense search, with the filters as Milvus expressions, so ranking, answers, collapse, saved
searches and output are byline's, unchanged. Stored passage vectors are read from the article
store, the source of truth.

Also `MilvusLexical`, the stand-in an open Milvus-backed index offers where a local one offers
Whoosh (the query schema).
Queries are plain words on this backend: Whoosh's query syntax (phrases, AND/NOT, fields,
wildcards) is parsed for highlighting only; the engine's BM25 sees the words.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from index import lexical as index_lexical
from index.milvus_backend import Collections, connect, ensure_collections, quoted
from search.retrieval import lexical
from search.retrieval.backend import Backend, Candidates, Frequencies, Hits, Retriever, allowed_chunks
from search.retrieval.filters import Filters

MAX_LIMIT = 16_384  # Milvus's largest top-k
DF_LIMIT = 2_000  # document frequencies for answer scoring are counted up to this many passages


def expression(filters: Filters) -> str:
    """The filters as a Milvus boolean expression ("" when none): sources compared lowercased,
    as the local index does; an article without a date passes no date filter."""
    clauses = []
    if filters.sources:
        clauses.append(f"source in {quoted(s.lower() for s in filters.sources)}")
    if filters.since:
        clauses.append(f'date >= "{filters.since}"')
    if filters.until:
        clauses.append(f'date <= "{filters.until}"')
    if filters.articles is not None:  # a query's field clauses (search/retrieval/fields.py)
        clauses.append(f"article_id in {quoted(sorted(filters.articles))}")
    return " and ".join(clauses)


@dataclass
class MilvusIndex:
    """The collections of one open Milvus-backed index."""

    uri: str
    prefix: str
    dimension: int

    @cached_property
    def client(self):
        client = connect(self.uri)
        ensure_collections(client, self.names, self.dimension)
        return client

    @property
    def names(self) -> Collections:
        return Collections.of(self.prefix)

    def search(self, collection: str, data: list, field: str, limit: int, filters: Filters,
               group: bool = False) -> list[list[tuple]]:
        """Per query row, (primary key, score) best first."""
        if not data:
            return []
        kwargs = {"group_by_field": "article_id"} if group else {}
        metric = "BM25" if field == "sparse" else "IP"
        found = self.client.search(collection, data=data, anns_field=field, limit=min(limit, MAX_LIMIT),
                                   filter=expression(filters), output_fields=[] if not group else ["article_id"],
                                   search_params={"metric_type": metric}, **kwargs)
        return [[(hit["id"], float(hit["distance"])) for hit in row] for row in found]

    def row_count(self) -> int:
        rows = self.client.query(self.names.passages, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])


class MilvusBackend(Backend):
    def __init__(self, index):
        """`index`: the OpenIndex (search/retrieval/opened.py) of a Milvus-backed index."""
        super().__init__(index.store)
        self.index = index

    def retriever(self, mode: str, filters: Filters, bm25: lexical.BM25Params) -> MilvusRetriever:
        return MilvusRetriever(self.index, mode, filters)  # BM25 is the engine's own: no parameters

    def frequencies(self) -> Frequencies:
        return _Frequencies(self.index.milvus)


class MilvusRetriever(Retriever):
    def __init__(self, index, mode: str, filters: Filters):
        self.index, self.mode, self.filters = index, mode, filters
        self.milvus: MilvusIndex = index.milvus

    @cached_property
    def _allowed(self) -> list[int] | None:
        return allowed_chunks(self.index.store, self.filters)

    def candidates(self, queries: list[str], depth: int, group: bool = False) -> list[Candidates]:
        """Lexical and semantic chunk hits and the whole-article BM25 hits, from the engine.
        `group` asks for one passage per article (group_by_field) on both passage searches, so
        `depth` counts articles instead of passages (scripts/research/evaluate_milvus.py)."""
        mx, mode = self.milvus, self.mode
        for q in queries:
            lexical.check_length(q)
        schema = index_lexical.schema()
        parsed = [lexical.parse_query(q, schema) if mode != "semantic" else None for q in queries]
        terms = [lexical.query_terms(p) if p is not None else lexical.analyse(q) for q, p in zip(queries, parsed)]
        # A query with no indexable word (only stop words) finds nothing lexically, as on Whoosh.
        worded = [i for i, t in enumerate(terms) if t and mode != "semantic"]
        lex: list[list] = [[] for _ in queries]
        art: list = [None if mode == "semantic" else [] for _ in queries]
        if worded:
            texts = [queries[i] for i in worded]
            for i, hits in zip(worded, mx.search(mx.names.passages, texts, "sparse", depth, self.filters, group)):
                lex[i] = [(int(cid), s) for cid, s in hits]
            for i, hits in zip(worded, mx.search(mx.names.articles, texts, "sparse", depth, self.filters)):
                art[i] = [(str(a), s) for a, s in hits]
        vec: list[list] = [[] for _ in queries]
        matrix = [None] * len(queries)
        if mode != "lexical":
            matrix = self.index.embedder.encode_queries(list(queries))
            vec = [[(int(cid), s) for cid, s in hits]
                   for hits in mx.search(mx.names.passages, matrix.tolist(), "dense", depth, self.filters, group)]
        return [Candidates(lex[i], vec[i], terms[i], matrix[i], articles=art[i], lexical_strength=1.0)
                for i in range(len(queries))]

    def lexical_hits(self, words: str, depth: int) -> Hits:
        """The engine's BM25 passage hits for plain words."""
        if not lexical.analyse(words):
            return []
        mx = self.milvus
        return [(int(cid), s) for cid, s in mx.search(mx.names.passages, [words], "sparse", depth, self.filters)[0]]

    def semantic_hits(self, query_vectors, depth: int) -> list[Hits]:
        """A dense search restricted to the chunk ids the filters allow (as the local backend)."""
        import numpy as np

        if self._allowed is not None and not self._allowed:
            return [[] for _ in range(len(query_vectors))]
        expr = "" if self._allowed is None else f"id in [{','.join(str(int(i)) for i in self._allowed)}]"
        found = self.milvus.client.search(self.milvus.names.passages, data=np.asarray(query_vectors).tolist(),
                                          anns_field="dense", limit=min(depth, MAX_LIMIT), filter=expr,
                                          search_params={"metric_type": "IP"})
        return [[(int(hit["id"]), float(np.float32(hit["distance"]))) for hit in row] for row in found]

    def passage_vectors(self, chunk_ids: list[int]):
        """Read from the article store (the source of truth), not the engine."""
        import numpy as np

        ids = [int(i) for i in chunk_ids]
        rows = dict(self.index.store._in_query("SELECT id, vector FROM chunks WHERE id IN ({})", ids))
        return np.stack([np.frombuffer(rows[i], dtype=np.float32) for i in ids]).astype("float32") if ids else \
            np.zeros((0, self.milvus.dimension), dtype="float32")


def engine_hybrid(index, queries: list[str], matrix, limit: int, filters: Filters = Filters(),
                  ranker: str = "rrf", rrf_k: int = 60, weights: tuple[float, float] = (0.35, 0.65)) -> list[list[tuple[str, float]]]:
    """The engine's own fusion: `hybrid_search` of the BM25 and dense passage searches with
    RRFRanker (or WeightedRanker), one hit per article (group_by_field). Articles, best first;
    measured against byline's fusion by scripts/research/evaluate_milvus.py."""
    from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker

    mx: MilvusIndex = index.milvus
    expr = expression(filters)
    fuse = RRFRanker(rrf_k) if ranker == "rrf" else WeightedRanker(*weights)
    out = []
    for text, vector in zip(queries, matrix):
        requests = [AnnSearchRequest([vector.tolist()], "dense", {"metric_type": "IP"}, min(limit, MAX_LIMIT), expr=expr)]
        if lexical.analyse(text):
            requests.insert(0, AnnSearchRequest([text], "sparse", {"metric_type": "BM25"}, min(limit, MAX_LIMIT), expr=expr))
        found = mx.client.hybrid_search(mx.names.passages, requests, fuse, limit=limit, group_by_field="article_id",
                                        output_fields=["article_id"])
        # milvus-lite 2.5.1 groups each sub-search, not the fused list: an article can come back
        # twice (two passages); its first, best, place is kept.
        ranking: dict[str, float] = {}
        for hit in found[0]:
            ranking.setdefault(hit["entity"]["article_id"], float(hit["distance"]))
        out.append(list(ranking.items()))
    return out


class _Frequencies:
    """A Whoosh-reader stand-in for answers' IDF: passage count and document frequencies."""

    def __init__(self, milvus: MilvusIndex):
        self.milvus = milvus

    def doc_count(self) -> int:
        return self.milvus.row_count()

    def doc_frequency(self, field: str, term: str) -> int:
        hits = self.milvus.search(self.milvus.names.passages, [term], "sparse", DF_LIMIT, Filters())
        return len(hits[0]) if hits else 0


class MilvusLexical:
    """What query checking asks of the lexical index (its schema), on the Milvus backend."""

    def __init__(self, milvus: MilvusIndex):
        self.milvus = milvus
        self.schema = index_lexical.schema()
