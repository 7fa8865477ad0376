"""The retrieval interface: what every backend offers the ranker, answers and `similar`.

A backend is chosen once, when an index is opened (`OpenIndex.backend`): the local one
(search/retrieval/local.py: Whoosh BM25F and FAISS) or Milvus (search/retrieval/milvus.py: the
engine's BM25 and dense search). Adding a backend means adding one module implementing these two
classes; the ranker fuses `Candidates` and never asks which backend made them.

- `Backend`: one open index's retrieval. `retriever(...)` fixes the settings of one ranking
  (mode, filters, BM25 parameters); `frequencies()` gives the passage counts answers weigh words
  by; `sentence_vectors(...)` the stored sentence vectors (the article store's, on every backend);
  `word_weights`, `words_held` and `articles_with_words` which article holds which word.
- `Retriever`: candidates of a batch of queries (lexical and semantic passage hits, whole-article
  hits, the query's words and vector), and for query feedback and `similar` a semantic search by
  vector, a lexical search by plain words and the stored passage vectors.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

    from search.retrieval.filters import Filters
    from search.retrieval.lexical import BM25Params

Hits = list[tuple[int, float]]  # (chunk id, score), best first


@dataclass
class Candidates:
    """One query's chunk hits from each retriever, its analysed words for highlighting, its
    embedding (for query feedback) and whether it reads as a natural question."""

    lexical: Hits
    semantic: Hits
    terms: set[str]
    vector: np.ndarray | None = None
    question: bool = False  # set by the ranker (search/ranking/questions.py)
    articles: list[tuple[str, float]] | None = None  # whole-article BM25F hits (None: no article index)
    lexical_strength: float = 1.0  # top lexical article score / the query's ceiling (1: not measurable)
    negated: frozenset[str] = frozenset()  # stems the query negates, set by the ranker (search/ranking/negation.py)


class Frequencies(Protocol):
    """Passage counts for weighing a query's words (answers' idf)."""

    def doc_count(self) -> int: ...

    def doc_frequency(self, field: str, term: str) -> int: ...


class Retriever(ABC):
    """One ranking's retrieval: mode ("hybrid", "lexical", "semantic"), filters and BM25
    parameters are fixed when it is made."""

    @abstractmethod
    def candidates(self, queries: list[str], depth: int) -> list[Candidates]:
        """Each query's hits: up to `depth` lexical and semantic passages (and whole articles,
        where the backend ranks them), its analysed words and its vector (None in lexical mode)."""

    @abstractmethod
    def semantic_hits(self, query_vectors: np.ndarray, depth: int) -> list[Hits]:
        """Up to `depth` passages nearest each row of `query_vectors`, within the filters."""

    @abstractmethod
    def lexical_hits(self, words: str, depth: int) -> Hits:
        """Up to `depth` passages matching plain words (no query syntax), within the filters."""

    @abstractmethod
    def passage_vectors(self, chunk_ids: list[int]) -> np.ndarray:
        """The stored vectors of these passages, one row each (all must be in the index)."""


class Backend(ABC):
    """One open index's retrieval."""

    def __init__(self, store):
        self.store = store  # the article store (index/store.py), the source of truth on every backend

    @abstractmethod
    def retriever(self, mode: str, filters: Filters, bm25: BM25Params) -> Retriever:
        """A retriever with these settings."""

    @abstractmethod
    def frequencies(self) -> Frequencies:
        """Passage count and document frequencies of the lexical index."""

    def sentence_vectors(self, article_ids: list[str]) -> dict:
        """Per article, (sentence offsets, one vector a sentence), as stored at ingest."""
        return self.store.sentence_vectors(article_ids)

    # Which article holds which word (the relevance floor, spelling, title:/body: clauses). These
    # defaults read the article store; a backend with a word index answers from it instead.
    def word_weights(self, terms: set[str]) -> dict[str, float]:
        """How much each analysed word says, as an idf: here 1.0 each (no collection statistics)."""
        return {t: 1.0 for t in terms}

    def words_held(self, terms: set[str], article_ids: list[str]) -> dict[str, set[str]]:
        """Which of `terms` (analysed words) each article holds in its title or text."""
        from search.retrieval.lexical import analyse

        texts = self.store.article_texts(article_ids, with_titles=True)
        return {a: terms & analyse(f"{title}\n{text}") for a, (title, text) in texts.items()}

    def articles_with_words(self, fieldname: str, words: list[str]) -> set[str]:
        """The visible articles whose `fieldname` ("title" or "body") holds every analysed word."""
        from search.retrieval.lexical import analyse

        texts = self.store.article_texts([r[0] for r in self.store.article_fields()], with_titles=True)
        part = 0 if fieldname == "title" else 1
        return {a for a, t in texts.items() if set(words) <= analyse(t[part])}


def allowed_chunks(store, filters: Filters) -> list[int] | None:
    """The chunk ids the filters allow, from the article store (None: no filter), for a backend
    whose vector search takes a list of ids."""
    return store.chunk_ids_where(list(filters.sources), filters.since, filters.until, filters.articles) if filters.active else None
