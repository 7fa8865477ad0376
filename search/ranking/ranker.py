"""The hybrid ranker: lexical and semantic candidates, aggregated to articles and fused.

Each result carries the article's metadata and its best passage, with the query's words marked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from index.store import StoredArticle
from search.ranking import aggregate, feedback, fusion, negation, sentence_scores
from search.retrieval import lexical
from search.calibration import DEFAULT
from search.retrieval.backend import Candidates, Retriever
from search.retrieval.filters import Filters
from search.ranking.fusion import DEFAULT_FUSION
from search.ranking.questions import is_question

if TYPE_CHECKING:
    from search.retrieval.opened import OpenIndex

MODES = ("hybrid", "lexical", "semantic")
_TUNED = DEFAULT.ranking  # search/calibrations/minilm.json; the engine applies the index's model's own
MAX_DEPTH = 20_000  # chunks: the deepest a query is retrieved again to find k articles
FUSIONS = ("rrf", "convex")


@dataclass(frozen=True)
class SearchOptions:
    """How to rank. The tuned fields default to minilm's calibration (search/calibration.py);
    the engine applies the calibration of the index's model."""

    mode: str = "hybrid"
    k: int = 10
    filters: Filters = field(default_factory=Filters)
    fusion: str = DEFAULT_FUSION
    rrf_k: float = _TUNED["rrf_k"]
    semantic_weight: float = _TUNED["semantic_weight"]  # share of the semantic side, both fusions
    question_weight: float = _TUNED["question_weight"]  # the same, for natural questions
    feedback_articles: int = _TUNED["feedback_articles"]  # query feedback from the top N (0: off)
    feedback_weight: float = _TUNED["feedback_weight"]
    depth: int = 100  # chunks (and whole articles) fetched from each retriever, at least
    decay: float = _TUNED["decay"]  # chunk-to-article aggregation (see aggregate.to_articles)
    bm25: lexical.BM25Params = field(default_factory=lexical.BM25Params)
    # The lexical article ranking: "article" (whole-article BM25F, the article index),
    # "passage" (an article's best passage), or "both" (the two fused by RRF).
    lexical_unit: str = _TUNED["lexical_unit"]
    # When query feedback runs: "agree" (a non-question whose lexical and semantic top articles
    # are the same), "strong" (a non-question whose lexical strength, see below, reaches
    # `feedback_strength`, or "agree"), "non-question" (every non-question), "off".
    feedback_gate: str = _TUNED["feedback_gate"]
    feedback_strength: float = _TUNED["feedback_strength"]
    # Query-adaptive fusion: the lexical side's weight is scaled by min(1, strength / this), where
    # strength is its top article's score over the query's ceiling (bm25.Scorer.ceiling); 0: off.
    lexical_confidence: float = _TUNED["lexical_confidence"]
    # Sentence evidence (search/ranking/sentence_scores.py): the top `sentence_depth` articles of each
    # side are re-scored on the semantic side by (1 - s - l) * best passage + s * best sentence
    # + l * lead sentence.
    # Hybrid mode only, unless `semantic_evidence`: the modes lexical and semantic are each
    # retriever alone.
    sentence_depth: int = _TUNED["sentence_depth"]
    sentence_weight: float = _TUNED["sentence_weight"]
    lead_weight: float = _TUNED["lead_weight"]
    semantic_evidence: bool = False
    # The lead counts in collections whose leads summarise their articles (news; not science
    # abstracts): lead_weight * min(1, max(0, the index's lead centrality / lead_ramp))
    # (index/profile.py); 0: the full lead weight in every collection.
    lead_ramp: float = _TUNED["lead_ramp"]
    # Negated phrases (search/ranking/negation.py): among the first `negation_depth` articles, those that
    # negate what the query negates ("without preconditions" / "no preconditions") go first.
    negation_depth: int = _TUNED["negation_depth"]


@dataclass
class Result:
    rank: int
    score: float
    article: StoredArticle
    passage: str
    chunk_id: int
    terms: set[str] = field(default_factory=set, repr=False)  # the query's words, highlighted when shown
    lexical_rank: int | None = None
    semantic_rank: int | None = None
    duplicates: list[StoredArticle] = field(default_factory=list)  # set by search/stories/collapse.py
    answer: object = None  # an answers.AnswerSentence, set after ranking by search/answering/answers.py


@dataclass
class _Side:
    """One retriever's answer: chunk hits and the article ranking made from them."""

    chunks: list[tuple[int, float]]
    articles: list[aggregate.ArticleScore]

    def rank_of(self) -> dict[str, int]:
        return {a.article_id: i for i, a in enumerate(self.articles, start=1)}


class Ranker:
    """Answers queries against one open index; reuse it to answer many."""

    def __init__(self, index: OpenIndex, options: SearchOptions | None = None):
        """`options`: as given; by default the tuned ones of the index's model (its calibration)."""
        options = options if options is not None else index.calibration.ranked(SearchOptions())
        if options.mode not in MODES:
            raise ValueError(f"unknown mode {options.mode!r}; choose one of {', '.join(MODES)}")
        if options.fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {options.fusion!r}; choose one of {', '.join(FUSIONS)}")
        self.index = index
        self.options = options

    @cached_property
    def retriever(self) -> Retriever:
        """The index's backend (search/retrieval/backend.py) with this ranking's settings."""
        o = self.options
        return self.index.backend.retriever(o.mode, o.filters, o.bm25)

    def _depth(self, k: int | None = None) -> int:
        """How many chunks and articles each retriever fetches: enough for k articles."""
        return max(self.options.depth, 3 * (k or self.options.k))

    def search(self, query: str) -> list[Result]:
        return self.search_many([query])[0]

    def search_many(self, queries: list[str]) -> list[list[Result]]:
        """Rank several queries; the query embeddings are computed in one batch."""
        return [results for _, results in self.search_deep(queries, self.rank)]

    def search_deep(self, queries: list[str], arrange: Callable[[Candidates], list[Result]]
                    ) -> list[tuple[Candidates, list[Result]]]:
        """Each query's candidates and `arrange(candidates)`. A query whose results are fewer
        than k while a retriever returned all it was asked for is retrieved again, deeper, so
        `-k 300` means 300 articles when the index has them."""
        depth = self._depth()
        out = []
        for query, c in zip(queries, self.retrieve(queries, depth)):
            results = arrange(c)
            deeper = depth
            while len(results) < self.options.k and deeper < MAX_DEPTH and _truncated(c, deeper):
                deeper *= 4
                c = self.retrieve([query], deeper)[0]
                results = arrange(c)
            out.append((c, results))
        return out

    def retrieve(self, queries: list[str], depth: int | None = None) -> list[Candidates]:
        """Both retrievers' chunk hits for each query (what `rank` fuses), and how the query
        reads (a question; what it negates); computing them once lets an evaluation try many
        fusion settings cheaply."""
        return self.read(queries, self.retriever.candidates(list(queries), depth or self._depth()))

    @staticmethod
    def read(queries: list[str], found: list[Candidates]) -> list[Candidates]:
        """The candidates with how each query reads: a natural question, what it negates."""
        for query, c in zip(queries, found):
            c.question, c.negated = is_question(query), frozenset(negation.negated_terms(query))
        return found

    def rank(self, candidates: Candidates, options: SearchOptions | None = None) -> list[Result]:
        """Aggregate and fuse one query's candidates into ranked articles.

        `options` may override the ranking settings (mode, k, fusion, rrf_k, the weights, decay,
        feedback); retrieval settings (depth, filters, bm25) were fixed by `retrieve`."""
        o = options or self.options
        lex_hits, vec_hits, terms = candidates.lexical, candidates.semantic, candidates.terms
        chunk_rows = self.index.store.chunks({cid for cid, _ in lex_hits} | {cid for cid, _ in vec_hits})
        owner = {cid: row.article_id for cid, row in chunk_rows.items()}
        lex = _Side(lex_hits, _lexical_articles(candidates, owner, o))
        vec = _Side(vec_hits, aggregate.to_articles(vec_hits, owner, o.decay))
        weight = o.question_weight if candidates.question else o.semantic_weight
        if o.lexical_confidence > 0:
            trust = min(1.0, candidates.lexical_strength / o.lexical_confidence)
            weight = 1.0 - (1.0 - weight) * trust
        if o.mode == "hybrid" and o.feedback_articles > 0 and _feedback_applies(candidates, lex, vec, o) \
                and candidates.vector is not None and vec.chunks:
            vec_hits = self._feedback_hits(candidates.vector, lex, vec, o, weight)
            chunk_rows.update(self.index.store.chunks({cid for cid, _ in vec_hits} - chunk_rows.keys()))
            owner = {cid: row.article_id for cid, row in chunk_rows.items()}
            vec = _Side(vec_hits, aggregate.to_articles(vec_hits, owner, o.decay))

        if o.sentence_depth and (o.mode == "hybrid" or o.mode == "semantic" and o.semantic_evidence) \
                and candidates.vector is not None:
            vec = self._with_sentences(candidates.vector, lex if o.mode == "hybrid" else None, vec, o)

        if o.mode == "lexical":
            scored = [(a.article_id, a.score) for a in lex.articles]
            best = {a.article_id: a.best_chunk for a in lex.articles if a.best_chunk is not None}
        elif o.mode == "semantic":
            scored = [(a.article_id, a.score) for a in vec.articles]
            best = {a.article_id: a.best_chunk for a in vec.articles if a.best_chunk is not None}
        else:
            scored = fusion.ranked(_fuse(lex, vec, o, weight))
            best = _best_chunks(lex, vec, owner, o.rrf_k)

        if candidates.negated and o.negation_depth:
            scored = self._negation_first(scored, candidates.negated, o.negation_depth)
        top = scored[: o.k]
        meta = self.index.store.articles(a for a, _ in top)
        missing = [a for a, _ in top if a not in best]
        if missing:  # matched as a whole article but by no single fetched passage: show its first
            for article_id, row in self.index.store.first_chunks(missing).items():
                best[article_id] = row.id
                chunk_rows[row.id] = row
        lex_rank, vec_rank = lex.rank_of(), vec.rank_of()
        results = []
        for article_id, score in top:
            if article_id not in meta or article_id not in best:
                continue
            chunk_id = best[article_id]
            passage = chunk_rows[chunk_id].text
            results.append(Result(
                rank=len(results) + 1, score=float(score), article=meta[article_id], passage=passage,
                chunk_id=chunk_id, terms=terms,
                lexical_rank=lex_rank.get(article_id), semantic_rank=vec_rank.get(article_id),
            ))
        return results

    def _negation_first(self, scored: list[tuple[str, float]], negated: frozenset[str],
                        depth: int) -> list[tuple[str, float]]:
        """The first `depth` articles reordered by search/ranking/negation.py; the scores stay in
        descending order (the reordered articles take the head's scores by their new rank)."""
        head = scored[:depth]
        texts = self.index.store.article_texts([a for a, _ in head])
        order = negation.agreeing_first([a for a, _ in head], texts, set(negated))
        return list(zip(order, [s for _, s in head])) + scored[depth:]

    def _lead_share(self, o: SearchOptions) -> float:
        centrality = self.index.lead_centrality if o.lead_ramp > 0 and o.lead_weight else None
        return 1.0 if centrality is None else min(1.0, max(0.0, centrality / o.lead_ramp))

    def _with_sentences(self, query_vector, lex: _Side | None, vec: _Side, o: SearchOptions) -> _Side:
        """The semantic side re-ranked with the best sentence and the lead of its top articles
        (and, in hybrid, of the lexical side's top articles)."""
        pool = [a.article_id for a in vec.articles[:o.sentence_depth]]
        if lex is not None:
            pool += [a.article_id for a in lex.articles[:o.sentence_depth]]
        pool = list(dict.fromkeys(pool))
        found = sentence_scores.evidence(self.index.backend, query_vector, pool)
        ranking = sentence_scores.combine([(a.article_id, a.score) for a in vec.articles], found,
                                          o.sentence_weight, o.lead_weight * self._lead_share(o))
        chunk_of = {a.article_id: a.best_chunk for a in vec.articles}
        return _Side(vec.chunks, [aggregate.ArticleScore(a, s, chunk_of.get(a)) for a, s in ranking])

    def _feedback_hits(self, query_vector, lex: _Side, vec: _Side, o: SearchOptions,
                       weight: float) -> list[tuple[int, float]]:
        """The semantic side searched again with the query moved towards the best passages of
        the first fused ranking's top articles (search/ranking/feedback.py)."""
        first = [a for a, _ in fusion.ranked(_fuse(lex, vec, o, weight))]
        best = {a.article_id: a.best_chunk for a in vec.articles}
        chunk_ids = feedback.feedback_chunks(first, best, o.feedback_articles)
        moved = feedback.expand(query_vector, self.retriever.passage_vectors(chunk_ids), o.feedback_weight)
        return self.retriever.semantic_hits(moved[None, :], self._depth(o.k))[0]


def _truncated(c: Candidates, depth: int) -> bool:
    """Whether a retriever returned as many hits as it was asked for (there may be more)."""
    return len(c.lexical) >= depth or len(c.semantic) >= depth or len(c.articles or ()) >= depth


def _lexical_articles(c: Candidates, owner: dict[int, str], o: SearchOptions) -> list[aggregate.ArticleScore]:
    """The lexical side's article ranking, by `o.lexical_unit` (see SearchOptions)."""
    passages = aggregate.to_articles(c.lexical, owner, o.decay)
    if o.lexical_unit == "passage" or c.articles is None:
        return passages
    best = {a.article_id: a.best_chunk for a in passages}
    if o.lexical_unit == "article":
        ranking = c.articles
    else:
        fused = fusion.rrf([c.articles, [(a.article_id, a.score) for a in passages]], k=o.rrf_k)
        ranking = fusion.ranked(fused)
    return [aggregate.ArticleScore(a, s, best.get(a)) for a, s in ranking]


def _feedback_applies(c: Candidates, lex: _Side, vec: _Side, o: SearchOptions) -> bool:
    if c.question or o.feedback_gate == "off":
        return False
    agree = bool(lex.articles and vec.articles) and lex.articles[0].article_id == vec.articles[0].article_id
    if o.feedback_gate == "agree":
        return agree
    if o.feedback_gate == "strong":
        return agree or c.lexical_strength >= o.feedback_strength
    return True


def _fuse(lex: _Side, vec: _Side, o: SearchOptions, semantic_weight: float) -> dict[str, float]:
    rankings = [[(a.article_id, a.score) for a in side.articles] for side in (lex, vec)]
    weights = [1.0 - semantic_weight, semantic_weight]
    if o.fusion == "rrf":
        return fusion.rrf(rankings, k=o.rrf_k, weights=[2 * w for w in weights])
    return fusion.convex(rankings, weights)


def _best_chunks(lex: _Side, vec: _Side, owner: dict[int, str], rrf_k: float) -> dict[str, int]:
    """The passage to show: the article's chunk ranked best by both retrievers together."""
    fused = fusion.rrf([[(str(c), s) for c, s in lex.chunks], [(str(c), s) for c, s in vec.chunks]], k=rrf_k)
    best: dict[str, tuple[float, int]] = {}
    for cid_text, score in fused.items():
        cid = int(cid_text)
        article_id = owner.get(cid)
        if article_id is not None and score > best.get(article_id, (-1.0, 0))[0]:
            best[article_id] = (score, cid)
    return {a: cid for a, (_, cid) in best.items()}
