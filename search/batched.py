"""Concurrent searches with the same options, run as one: one engine call, one model call.

`byline serve` answers each request in a thread of its own, but the engine runs one search at a
time (one index, one model; see search/engine.py), so concurrent requests queue. `BatchedSearches`
turns the queue into batches ("group commit"): a search that finds the engine busy waits in a
group with the other waiting searches of the same options, and when the engine is free the
group's first member runs them all through `Engine.search_many`, whose pipeline encodes their
queries in one model call and ranks them one after another. An idle engine runs a search at
once, alone, so nothing waits for a batch to fill. The results are the engine's own: a query's
results do not depend on the other queries of its batch, so a query asked by several members of a
batch (the same search from several clients at once) is run once and its response handed to each.

When a batch fails with a BadRequest (say one query does not parse), its searches are run one by
one, so each gets its own results or its own error.

Batches take the engine in turns, first come first served (`_Turns`), and a request of many
queries (`search_many`) takes one turn per QUERIES_PER_TURN of them, so the other clients' searches
are run between its parts instead of after all of it.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field, replace

from search.engine import BadRequest, Engine, Response, SearchRequest, check_query

MAX_BATCH = 32  # queries in one engine call; the next ones form a new batch
QUERIES_PER_TURN = 8  # of one request's many queries, run before the next waiting batch's turn


class _Turns:
    """A lock handed to its waiters in the order they came (threading.Lock is not: a thread that
    releases and at once acquires again usually keeps it, and a long request would starve the rest)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._queue: deque = deque()
        self._held = False

    def __enter__(self):
        me = object()
        with self._cond:
            self._queue.append(me)
            try:
                while self._held or self._queue[0] is not me:
                    self._cond.wait()
            except BaseException:  # interrupted while waiting: leave the queue
                self._queue.remove(me)
                self._cond.notify_all()
                raise
            self._queue.popleft()
            self._held = True

    def __exit__(self, *exc):
        with self._cond:
            self._held = False
            self._cond.notify_all()


@dataclass
class _Batch:
    queries: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    responses: list[Response] | None = None
    error: Exception | None = None


class BatchedSearches:
    """`search(request)` as `engine.search(request)`, run in batches with concurrent ones."""

    def __init__(self, engine: Engine, max_batch: int = MAX_BATCH):
        self.engine, self.max_batch = engine, max_batch
        self._open: dict[tuple, _Batch] = {}  # options -> the batch still taking searches
        self._guard = threading.Lock()  # over _open and the batches' membership
        self._turn = _Turns()  # held by the batch the engine is running
        self.batches = 0  # engine calls made (shown by /status)
        self.queries_run = 0  # queries those calls ran: fewer than searched when a batch repeats one

    def search(self, request: SearchRequest, answer_limit: int | None = None) -> Response:
        check_query(request.query)  # one bad query must not fail the others of its batch
        key = (replace(request, query=""), answer_limit)
        with self._guard:
            batch = self._open.get(key)
            leader = batch is None
            if leader:
                batch = self._open[key] = _Batch()
            position = len(batch.queries)
            batch.queries.append(request.query)
            if len(batch.queries) >= self.max_batch:
                del self._open[key]  # full: the next search starts another batch
        if leader:
            try:
                with self._turn:  # meanwhile, searches with these options join the batch
                    with self._guard:
                        if self._open.get(key) is batch:
                            del self._open[key]
                    self._run(batch, request, answer_limit)
            finally:
                if not batch.done.is_set():  # interrupted before its turn: release the members
                    with self._guard:
                        if self._open.get(key) is batch:
                            del self._open[key]
                        batch.error = RuntimeError("the search was interrupted")
                    batch.done.set()
        else:
            batch.done.wait()
        if batch.error is not None:
            raise batch.error
        response = batch.responses[position]
        if isinstance(response, _Failed):
            raise response.error
        return response

    def search_many(self, queries: list[str], request: SearchRequest, answer_limit: int | None = None
                    ) -> list[Response]:
        """`engine.search_many`, a few queries per turn (other searches run in between)."""
        for q in queries:
            check_query(q)  # all refused before any is run
        responses: list[Response] = []
        for start in range(0, len(queries), QUERIES_PER_TURN):
            part = queries[start:start + QUERIES_PER_TURN]
            with self._turn:
                self.batches += 1
                self.queries_run += len(part)
                responses += self.engine.search_many(part, request, answer_limit=answer_limit)
        return responses

    def _run(self, batch: _Batch, request: SearchRequest, answer_limit: int | None) -> None:
        try:
            self.batches += 1
            distinct = list(dict.fromkeys(batch.queries))
            self.queries_run += len(distinct)
            try:
                responses = self.engine.search_many(distinct, request, answer_limit=answer_limit)
            except BadRequest:
                if len(distinct) == 1:
                    raise
                responses = [self._alone(replace(request, query=q), answer_limit) for q in distinct]
            by_query = dict(zip(distinct, responses))
            batch.responses = [by_query[q] for q in batch.queries]
        except Exception as exc:  # noqa: BLE001 (handed to every member of the batch, raised there)
            batch.error = exc
        finally:
            batch.done.set()

    def _alone(self, request: SearchRequest, answer_limit: int | None):
        """One search by itself; its BadRequest is its own (returned in its place, raised by its caller)."""
        try:
            return self.engine.search(request, answer_limit=answer_limit)
        except BadRequest as exc:
            return _Failed(exc)


class _Failed:
    """A member's own error in a batch that was split."""

    def __init__(self, error: BadRequest):
        self.error = error
