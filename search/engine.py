"""The read side's one entry point: open an index once, then search, answer, find similar
articles, fetch an article, run saved searches and report status.

Every front end (the command line, `byline serve`, `byline mcp`) builds a request dataclass from
its own input and calls an `Engine`; the options are validated here and results turned into
plain dicts here (`Response.to_dict`), so no front end re-implements either. An engine holds one
`OpenIndex` and reopens it when a writer commits a newer generation, keeping the loaded model.
Calls are serialised by a lock: one index, one model, one query at a time.

Errors: `BadRequest` (the caller must fix the request), `NotFound` (no such article or saved
search), and `index.manifest.IndexProblem` (the index itself cannot be read).
Heavy modules load on first use, so importing this module is cheap.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from search.ranking.fusion import DEFAULT_FUSION

if TYPE_CHECKING:
    from search.retrieval.opened import OpenIndex
    from search.ranking.ranker import Result, SearchOptions
    from search.saved import SavedSearch

MAX_QUERY_CHARS = 4000  # a question or a few paragraphs; a longer "query" is a mistake or abuse
MAX_K = 10000


class BadRequest(ValueError):
    """A request the caller must fix; the message says what is wrong."""


class NotFound(LookupError):
    """No article or saved search of that name."""


def search_options(mode: str, k: int, sources: list[str] | None, since: str | None, until: str | None,
                   fusion: str) -> SearchOptions:
    """Validated SearchOptions; raises ValueError with a clear message."""
    from search.retrieval.filters import Filters
    from search.ranking.ranker import FUSIONS, MODES, SearchOptions

    if mode not in MODES:
        raise ValueError(f"unknown --mode {mode!r}; choose one of {', '.join(MODES)}")
    if fusion not in FUSIONS:
        raise ValueError(f"unknown --fusion {fusion!r}; choose one of {', '.join(FUSIONS)}")
    if not isinstance(k, int) or k < 1 or k > MAX_K:
        raise ValueError(f"-k must be between 1 and {MAX_K}")
    return SearchOptions(mode=mode, k=k, filters=Filters.build(sources, since, until), fusion=fusion)


@dataclass(frozen=True)
class SearchRequest:
    """One search, with the options of `byline search`."""

    query: str
    k: int = 10
    mode: str = "hybrid"
    source: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    fusion: str = DEFAULT_FUSION
    collapse: bool = True
    sort: str = "relevance"
    recent: bool = False
    half_life: float = 30.0
    floor: bool = True  # drop results without evidence (search/ranking/floor.py); False: --all

    def checked(self):
        """(SearchOptions, View) for this request; BadRequest when an option is wrong."""
        from search.stories.view import View

        try:
            options = search_options(self.mode, self.k, list(self.source), self.since, self.until, self.fusion)
            view = View(collapse=self.collapse, sort=self.sort, recent=self.recent, half_life=self.half_life)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        return options, view


@dataclass
class Response:
    """The results of one query (or one saved search, or one "similar" request)."""

    query: str
    results: list[Result]
    extra: dict = field(default_factory=dict)  # e.g. {"name": ...} for a saved search

    def to_dict(self, wire: bool = False) -> dict:
        from search.rendering.output import result_dict

        return {**self.extra, "query": self.query, "results": [result_dict(r, wire) for r in self.results]}


@dataclass
class AnswerResponse:
    """The answer to a question: the top result's answer sentence, else its best passage."""

    query: str
    result: Result | None

    @property
    def text(self) -> str | None:
        r = self.result
        if r is None:
            return None
        return " ".join((r.answer.text if r.answer is not None else r.passage).split())

    @property
    def kind(self) -> str:
        return "none" if self.result is None else "sentence" if self.result.answer is not None else "passage"

    def to_dict(self) -> dict:
        from search.rendering.output import result_dict

        r = self.result
        return {"query": self.query, "answer": self.text, "kind": self.kind,
                "who": r.answer.who if r is not None and r.answer is not None else None,
                "article": result_dict(r) if r is not None else None}


def check_query(query: object) -> str:
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("the query is empty")
    if len(query) > MAX_QUERY_CHARS:
        raise BadRequest(f"the query is {len(query):,} characters long; the limit is {MAX_QUERY_CHARS:,}")
    return query


class Engine:
    """One index opened for reading, and every read operation on it."""

    def __init__(self, index_dir: Path, model: str | os.PathLike | None = None):
        from search.retrieval.opened import OpenIndex

        self.root = Path(index_dir)
        self._model = model
        self._lock = threading.RLock()
        self._ix: OpenIndex = OpenIndex(self.root, model)
        self._retired: OpenIndex | None = None
        self._stamp = self._manifest_stamp()
        self._answerer = None  # one per open generation: its stemmer and idf cache outlive a query
        self._clusters = None  # one per open generation: the duplicate clusters found so far

    # -- the index, reopened when a newer generation is committed --------------------------
    def _manifest_stamp(self):
        try:
            st = os.stat(self.root / "manifest.json")
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    @property
    def index(self) -> OpenIndex:
        """The open index, switched to the newest committed generation when there is one."""
        from index.manifest import IndexProblem, load_manifest
        from search.retrieval.opened import OpenIndex

        stamp = self._manifest_stamp()
        if stamp != self._stamp:
            try:
                generation = load_manifest(self._ix.paths).generation
            except IndexProblem:
                generation = self._ix.generation  # mid-commit or damaged: keep serving what we have
            if generation != self._ix.generation:
                fresh = OpenIndex(self.root, self._model)
                if "embedder" in self._ix.__dict__:  # keep the loaded model (same manifest checks)
                    fresh.__dict__["embedder"] = self._ix.__dict__["embedder"]
                # The one before is closed at the next switch, not now: a caller outside the lock
                # (the saved-search command) may still read it. Its files stay pinned till then.
                if self._retired is not None:
                    self._retired.close()
                self._retired, self._ix = self._ix, fresh
            self._stamp = stamp
        return self._ix

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            for ix in (self._ix, self._retired):
                if ix is not None:
                    ix.close()
            self._retired = None

    def warm(self, semantic: bool = True) -> None:
        """Load the lexical index (and the model) now, so the first query is fast."""
        with self._lock:
            ix = self.index
            ix.lexical
            if semantic:
                ix.embedder.encode_queries(["warm up"])

    # -- operations -----------------------------------------------------------------------
    def search(self, request: SearchRequest, answers: bool = True, answer_limit: int | None = None) -> Response:
        [response] = self.search_many([request.query], request, answers, answer_limit)
        return response

    def search_many(self, queries: list[str], request: SearchRequest, answers: bool = True,
                    answer_limit: int | None = None) -> list[Response]:
        """Several queries with the options of `request` (its own query is ignored)."""
        from search import pipeline
        from search.ranking.floor import FloorParams
        from search.ranking.ranker import Ranker
        from search.retrieval import fields
        from search.retrieval.fields import restrict

        for q in queries:
            check_query(q)
        options, view = request.checked()
        try:
            split = [fields.split(q) for q in queries]
        except fields.FieldError as exc:
            raise BadRequest(str(exc)) from None
        # Queries with the same field clauses share a ranker (most batches: one, without any).
        groups: dict[tuple, list[int]] = {}
        for i, fq in enumerate(split):
            groups.setdefault((fq.clauses, fq.only_fields), []).append(i)
        results: list = [None] * len(queries)
        with self._lock:
            ix = self.index
            with self._reading(ix):
                self._check_sources(list(request.source) + [c.value for fq in split for c in fq.clauses
                                                            if c.name == "source" and not c.negated])
                for (clauses, only_fields), members in groups.items():
                    o = restrict(options, ix, clauses) if clauses else options
                    # A query of field clauses alone: every article they allow is evidence.
                    floor = ix.calibration.floored(FloorParams()) if request.floor and not only_fields else None
                    ranker = Ranker(ix, ix.calibration.ranked(o))  # the tuned values of the index's model
                    ranked = pipeline.run(ranker, [split[i].text for i in members], view, answers=answers,
                                          answer_limit=answer_limit, answerer=self._answerer_for(ix), floor=floor,
                                          clusters=self._clusters_for(ix))
                    for i, r in zip(members, ranked):
                        results[i] = r
                extras = [self._spelling(ix, q, fq, r, request, answers, answer_limit)
                          for q, fq, r in zip(queries, split, results)]
        responses = []
        for q, r, extra in zip(queries, results, extras):
            if extra.get("corrected"):  # nothing found as typed: the corrected query's results
                r = extra.pop("results")
            responses.append(Response(q, r, extra))
        return responses

    def _spelling(self, ix, query: str, fq, results: list, request: SearchRequest, answers: bool,
                  answer_limit: int | None) -> dict:
        """{"suggestion": the query with its misspelt words corrected from the index's own
        vocabulary} (search/retrieval/spelling.py) when the corrected query finds articles holding
        the corrected words, else {}; when the query as typed found nothing (no article holding
        any of its other words), also those results and "corrected": true."""
        import re

        from search.ranking.floor import Floor
        from search.retrieval import spelling
        from search.retrieval.lexical import analyse

        found = spelling.suggest(ix, fq.text)
        if found is None:
            return {}
        corrected = query
        for typed, better in found.words:
            corrected = re.sub(rf"(?<![\w:]){re.escape(typed)}(?![\w:])", better, corrected, count=1)
        if corrected == query:
            return {}
        floor = Floor(ix)
        # Suggested only when the corrected query finds articles that hold the corrected words
        # (in a small index nearly any word has a neighbour: "knitting" -> "kits").
        shown = floor.holding(analyse(" ".join(b for _, b in found.words)),
                              self.search_many([corrected], request, answers, answer_limit)[0].results)
        if not shown:
            return {}
        # Found "nothing" as typed: no article, or none holding any of the query's other words
        # (a misspelt name alone finds only loose meaning matches).
        typed = analyse(fq.text) - analyse(" ".join(t for t, _ in found.words))
        matched = bool(results) and bool(floor.holding(typed, results, every=False))
        if matched:
            return {"suggestion": corrected}
        return {"suggestion": corrected, "corrected": True, "results": shown}

    def _answerer_for(self, ix):
        from search.answering.answers import Answerer

        if self._answerer is None or self._answerer.index is not ix:
            self._answerer = Answerer(ix)
        return self._answerer

    def _clusters_for(self, ix):
        """The generation's duplicate clusters (search/stories/clusters.py). A generation never
        changes, so clusters found for one search hold for every later one: at 100,000 articles
        finding them cost about a quarter of a warm search (docs/performance.md)."""
        from search.stories.clusters import Clusters

        if self._clusters is None or self._clusters.store is not ix.store:
            self._clusters = Clusters(ix.store)
        return self._clusters

    def answer(self, request: SearchRequest) -> AnswerResponse:
        """The top result's answer sentence (or its best passage when it has none)."""
        response = self.search(replace(request, k=1), answer_limit=1)
        return AnswerResponse(request.query, response.results[0] if response.results else None)

    def similar(self, article_id: str, request: SearchRequest) -> Response:
        """Articles like `article_id` (the request's query is ignored), without its copies."""
        from search.ranking.ranker import Ranker
        from search.stories.similar import UnknownArticle, similar

        options, view = request.checked()
        with self._lock:
            ix = self.index
            with self._reading(ix):
                # Checked first: ix.reading() reports any other exception as a damaged index.
                known = ix.store.article_text(article_id) is not None
            if not known:
                raise NotFound(str(UnknownArticle(f"no article with id {article_id!r} in the index; ids are "
                                                  "shown in search results (e.g. byline search QUERY -o ids)")))
            with self._reading(ix):
                results = similar(Ranker(ix, ix.calibration.ranked(options)), article_id, view,
                                  self._clusters_for(ix) if view.collapse else None)
        return Response(f"like {article_id}", results, {"like": article_id})

    def get_article(self, article_id: str) -> dict:
        """The article's metadata and full text."""
        with self._lock:
            ix = self.index
            with ix.reading():
                meta = ix.store.articles([article_id]).get(article_id)
                text = ix.store.article_text(article_id)
        if meta is None or text is None:
            raise NotFound(f"no article with id {article_id!r} in the index; ids are shown in search results")
        return {"id": meta.id, "title": meta.title, "date": meta.date, "source": meta.source, "url": meta.url,
                "path": meta.path, "text": text[1]}

    def saved_list(self) -> list[dict]:
        from search.saved import SavedError, SavedStore

        store = SavedStore(self.root)
        try:
            searches = store.load()
        except SavedError as exc:
            raise BadRequest(str(exc)) from None
        return [{"name": s.name, **s.to_json()} for s in sorted(searches.values(), key=lambda s: s.name)]

    def saved_search(self, name: str) -> SavedSearch:
        from search.saved import SavedError, SavedStore

        try:
            found = SavedStore(self.root).load().get(name)
        except SavedError as exc:
            raise BadRequest(str(exc)) from None
        if found is None:
            raise NotFound(f"no saved search named {name!r}; `byline saved list` shows them")
        return found

    def saved_results(self, s: SavedSearch, seen: set[str] | None = None, include_copies: bool = False) -> Response:
        """The results of saved search `s`; given what a --new run has `seen`, only those not
        already reported (nor copies of them unless `include_copies`). Nothing is recorded."""
        from search.stories.collapse import story_ids

        # --include-copies: copies are results of their own, so a new copy can be reported.
        request = SearchRequest(s.query, k=s.k, mode=s.mode, source=tuple(s.source), since=s.since,
                                until=s.until, fusion=s.fusion, collapse=not (seen is not None and include_copies))
        response = self.search(request)
        if seen is not None:
            response.results = [r for r in response.results if not story_ids(r) & seen]
        response.extra = {"name": s.name}
        return response

    def saved_run(self, name: str, new: bool = False) -> Response:
        """Run saved search `name`; with `new`, only what earlier `new` runs did not report,
        which is then recorded as reported."""
        from search.saved import SavedError, SavedStore

        s = self.saved_search(name)
        store = SavedStore(self.root)
        if not new:
            return self.saved_results(s)
        try:
            with store.holding():  # overlapping runs take turns: each new article is reported once
                seen = store.state(name).seen
                response = self.saved_results(s, seen)
                ids = [r.article.id for r in response.results]
                if ids:
                    store.mark_seen({name: ids})
        except SavedError as exc:
            raise BadRequest(str(exc)) from None
        return response

    def status(self) -> dict:
        """What the index holds and how it was built."""
        from index import field_memory

        with self._lock:
            ix = self.index
            m = ix.manifest
            with ix.reading():
                first, last = ix.store.date_range()
                sources = dict(ix.store.sources()[:20])
                fields = field_memory.load(ix.store.meta())
        size = sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())
        return {
            "index": str(self.root), "generation": ix.generation, "format_version": m.format_version,
            "model": m.model_name, "model_source": m.model_source, "dimension": m.dimension,
            "chunking": m.chunking, "articles": m.articles,
            "chunks": m.chunks, "vector_index": m.vector_index, "first_date": first, "last_date": last,
            "sources": sources, "bytes": size, "created": m.created, "updated": m.updated,
            "field_mappings": fields,
        }

    # -- helpers ----------------------------------------------------------------------------
    def _check_sources(self, names: list[str]) -> None:
        """A search naming a source the index lacks fails (with the closest names it has)
        instead of finding nothing."""
        from search.retrieval.filters import BadFilter, check_sources

        if not names:
            return
        with self._lock:
            known = [src for src, _ in self.index.store.sources()]
        try:
            check_sources(names, known)
        except BadFilter as exc:
            raise BadRequest(str(exc)) from None

    @staticmethod
    def _reading(ix: OpenIndex):
        """ix.reading(), with a bad query reported as a BadRequest."""
        from contextlib import contextmanager

        from search.retrieval.lexical import QuerySyntaxError

        @contextmanager
        def guarded():
            try:
                with ix.reading():
                    yield
            except QuerySyntaxError as exc:
                raise BadRequest(f"bad query: {exc}") from None
            except ValueError as exc:
                raise BadRequest(str(exc)) from None

        return guarded()
