"""The Milvus backend's read side: the same `Candidates` the local retrievers produce, from the
engine's own BM25 (sparse search over the `english`-analysed text) and dense search, with the
filters as Milvus expressions, so ranking, answers, collapse, saved searches and output are
byline's, unchanged.

Also the two small stand-ins an open Milvus-backed index offers where a local one offers Whoosh
and FAISS: `MilvusVectors` (stored vectors and a filtered dense search, for query feedback and
`similar`) and `MilvusLexical` (the query schema and passage document frequencies, for answers).
Queries are plain words on this backend: Whoosh's query syntax (phrases, AND/NOT, fields,
wildcards) is parsed for highlighting only; the engine's BM25 sees the words.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from index import lexical as index_lexical
from index.milvus_backend import Collections, connect, ensure_collections, quoted
from search.retrieval import lexical
from search.retrieval.filters import Filters
from search.ranking.questions import is_question

if TYPE_CHECKING:
    from search.ranking.ranker import Candidates, Ranker

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


def retrieve(ranker: Ranker, queries: list[str], depth: int, group: bool = False) -> list[Candidates]:
    """What `Ranker.retrieve` returns, from the engine: lexical and semantic chunk hits and the
    whole-article BM25 hits. `group` asks for one passage per article (group_by_field) on both
    passage searches, so `depth` counts articles instead of passages."""
    from search.ranking.ranker import Candidates

    o = ranker.options
    mx: MilvusIndex = ranker.index.milvus
    for q in queries:
        lexical.check_length(q)
    schema = index_lexical.schema()
    parsed = [lexical.parse_query(q, schema) if o.mode != "semantic" else None for q in queries]
    terms = [lexical.query_terms(p) if p is not None else lexical.analyse(q) for q, p in zip(queries, parsed)]
    # A query with no indexable word (only stop words) finds nothing lexically, as on Whoosh.
    worded = [i for i, t in enumerate(terms) if t and o.mode != "semantic"]
    lex: list[list] = [[] for _ in queries]
    art: list = [None if o.mode == "semantic" else [] for _ in queries]
    if worded:
        texts = [queries[i] for i in worded]
        for i, hits in zip(worded, mx.search(mx.names.passages, texts, "sparse", depth, o.filters, group)):
            lex[i] = [(int(cid), s) for cid, s in hits]
        for i, hits in zip(worded, mx.search(mx.names.articles, texts, "sparse", depth, o.filters)):
            art[i] = [(str(a), s) for a, s in hits]
    vec: list[list] = [[] for _ in queries]
    matrix = [None] * len(queries)
    if o.mode != "lexical":
        matrix = ranker.index.embedder.encode_queries(list(queries))
        vec = [[(int(cid), s) for cid, s in hits]
               for hits in mx.search(mx.names.passages, matrix.tolist(), "dense", depth, o.filters, group)]
    return [Candidates(lex[i], vec[i], terms[i], matrix[i], is_question(queries[i]), art[i], 1.0)
            for i in range(len(queries))]


def lexical_hits(mx: MilvusIndex, text: str, depth: int, filters: Filters) -> list[tuple[int, float]]:
    """The engine's BM25 passage hits for plain words (`byline similar`)."""
    if not lexical.analyse(text):
        return []
    return [(int(cid), s) for cid, s in mx.search(mx.names.passages, [text], "sparse", depth, filters)[0]]


def engine_hybrid(index, queries: list[str], matrix, limit: int, filters: Filters = Filters(),
                  ranker: str = "rrf", rrf_k: int = 60, weights: tuple[float, float] = (0.35, 0.65)) -> list[list[tuple[str, float]]]:
    """The engine's own fusion: `hybrid_search` of the BM25 and dense passage searches with
    RRFRanker (or WeightedRanker), one hit per article (group_by_field). Articles, best first;
    measured against byline's fusion by scripts/evaluate_milvus.py."""
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


class MilvusVectors:
    """What query feedback and `similar` ask of a vector index, on the Milvus backend: stored
    vectors (read from the article store, the source of truth) and a dense search restricted
    to allowed chunk ids. index.vectors delegates to it (`external`)."""

    external = True

    def __init__(self, milvus: MilvusIndex, store):
        self.milvus, self.store = milvus, store
        self.d = milvus.dimension

    def vectors_of(self, ids: list[int]):
        import numpy as np

        ids = [int(i) for i in ids]
        rows = dict(self.store._in_query("SELECT id, vector FROM chunks WHERE id IN ({})", ids))
        return np.stack([np.frombuffer(rows[i], dtype=np.float32) for i in ids]).astype("float32") if ids else \
            np.zeros((0, self.d), dtype="float32")

    def search(self, queries, k: int, allowed_ids: list[int] | None = None):
        import numpy as np

        expr = "" if allowed_ids is None else f"id in [{','.join(str(int(i)) for i in allowed_ids)}]"
        found = self.milvus.client.search(self.milvus.names.passages, data=np.asarray(queries).tolist(),
                                          anns_field="dense", limit=min(k, MAX_LIMIT), filter=expr,
                                          search_params={"metric_type": "IP"})
        width = max((len(r) for r in found), default=0)
        scores = np.full((len(found), width), -1.0, dtype="float32")
        ids = np.full((len(found), width), -1, dtype="int64")
        for i, row in enumerate(found):
            for j, hit in enumerate(row):
                scores[i, j], ids[i, j] = hit["distance"], hit["id"]
        return scores, ids


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
    """What answers and query parsing ask of the lexical index, on the Milvus backend."""

    def __init__(self, milvus: MilvusIndex):
        self.milvus = milvus
        self.schema = index_lexical.schema()

    def reader(self) -> _Frequencies:
        return _Frequencies(self.milvus)
