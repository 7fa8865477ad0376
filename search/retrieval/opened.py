"""Open an index for searching: check its manifest, then hold its committed generation open.

Every file of the generation is opened at once (`search.retrieval.pinned`), so a long batch of queries
keeps reading the generation it started with even when writers commit and remove it meanwhile.
The Whoosh index, the model and the FAISS mapping are still set up only when first needed. A
generation never changes, so each Whoosh index's reader is opened once and shared by every
searcher of the view (`_SharedReader`): a search used to open five, each reading the index's table
of contents and segments again (6% of a warm hybrid search's time, and 40% of its Python calls).
Damage found on the way is an `IndexProblem` naming the file and what to do.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from index import vectors
from index.embedder import Embedder
from index.models import ModelNotFound, model_for_index
from index.layout import IndexPaths
from index.manifest import IndexProblem, load_manifest
from index.store import ArticleStore
from search import calibration
from search.retrieval.pinned import PinnedFolder

if TYPE_CHECKING:
    from search.calibration import Calibration
    from search.retrieval.backend import Backend

_REPAIR = "check it with: byline doctor (and byline doctor --repair rebuilds it from the article store)"


def _shared_reader_index(storage):
    """A Whoosh FileIndex of `storage` whose reader() is opened once and shared by every caller and
    searcher (closing it, as `with ix.reader() as r:` and Whoosh's own helpers do, leaves it open;
    close_reader() closes it). Readers are not thread-safe: an OpenIndex is read by one
    thread at a time (search/engine.py holds a lock)."""
    from whoosh.index import FileIndex
    from whoosh.searching import Searcher

    class _SharedReader(FileIndex):
        _held = None

        def reader(self, reuse=None):
            if self._held is None:
                held = super().reader()
                held.close_for_real, held.close = held.close, lambda: None
                self._held = held
            return self._held

        def searcher(self, **kwargs):
            return Searcher(self.reader(), fromindex=self, closereader=False, **kwargs)

        def close_reader(self) -> None:
            if self._held is not None:
                self._held.close_for_real()
                self._held = None

    return _SharedReader(storage)


class OpenIndex:
    """A read-only view of one index directory. The model loads on the first semantic query."""

    def __init__(self, root: Path, model: str | os.PathLike | None = None):
        self.paths = IndexPaths(Path(root))
        self.manifest = load_manifest(self.paths)
        try:
            self._pinned = PinnedFolder(self.paths.generation(self.manifest.generation))
        except FileNotFoundError:
            # A writer may have committed a newer generation and removed this one meanwhile.
            self.manifest = load_manifest(self.paths)
            self._pinned = PinnedFolder(self.paths.generation(self.manifest.generation))
        self.generation = self.manifest.generation
        if not self.paths.store.is_file() or not self.paths.generation(self.generation).is_dir():
            self._pinned.close()
            raise IndexProblem(f"index {self.paths.root} is damaged: generation {self.generation} or its "
                               "article store is missing; run: byline doctor --repair")
        try:
            self.store = ArticleStore(self.paths.store, self.generation, readonly=True)
        except sqlite3.DatabaseError as exc:
            self._pinned.close()
            raise IndexProblem(store_problem(self.paths, exc)) from None
        self._model_spec = model

    @cached_property
    def lead_centrality(self) -> float | None:
        """index/profile.py: recorded at commit; measured now for an index written before that."""
        if self.manifest.lead_centrality is not None:
            return self.manifest.lead_centrality
        from index import profile

        return profile.measure(self.store)

    @cached_property
    def milvus(self):
        """The Milvus collections of a Milvus-backed index (search.retrieval.milvus), else None."""
        if self.manifest.backend != "milvus":
            return None
        from index.milvus_backend import trusted_uri
        from search.retrieval.milvus import MilvusIndex

        uri = trusted_uri(self.manifest.milvus_uri, self.paths.root)  # the user's, not the folder's
        return MilvusIndex(uri, self.manifest.milvus_collection, self.manifest.dimension)

    @cached_property
    def calibration(self) -> Calibration:
        """The tuned values of the index's model (search/calibrations/; minilm's when it has none)."""
        return calibration.for_model(self.manifest.model_name)

    @cached_property
    def backend(self) -> Backend:
        """Retrieval (search/retrieval/backend.py), chosen by the manifest: local or Milvus."""
        if self.milvus is not None:
            from search.retrieval.milvus import MilvusBackend

            return MilvusBackend(self)
        from search.retrieval.local import LocalBackend

        return LocalBackend(self)

    @cached_property
    def lexical(self):
        if self.milvus is not None:
            from search.retrieval.milvus import MilvusLexical

            return MilvusLexical(self.milvus)

        folder = self.paths.lexical(self.generation)
        try:
            return _shared_reader_index(self._pinned.storage("lexical"))
        except Exception as exc:
            raise IndexProblem(f"lexical index in {folder} cannot be opened ({_first_line(exc)}); {_REPAIR}") from None

    @cached_property
    def article_lexical(self):
        """The Whoosh index of whole articles, or None in an index made before it existed."""
        if self.milvus is not None:
            return None
        folder = self.paths.article_lexical(self.generation)
        storage = self._pinned.storage("articles")
        if not (storage.list() if self._pinned.fds else folder.is_dir()):
            return None
        try:
            return _shared_reader_index(storage)
        except Exception as exc:
            raise IndexProblem(f"article index in {folder} cannot be opened ({_first_line(exc)}); {_REPAIR}") from None

    @cached_property
    def vectors(self):
        """The FAISS index (None on Milvus, whose backend searches the engine's)."""
        if self.milvus is not None:
            return None
        real = self.paths.vectors(self.generation)
        pinned = self._pinned.path(real.name)
        try:
            return vectors.load(pinned, self.manifest.dimension, mapped=True)
        except OSError as exc:
            raise IndexProblem(f"{str(exc).replace(str(pinned), str(real))}; {_REPAIR}") from None

    @cached_property
    def embedder(self) -> Embedder:
        """The model the index records (index/models.py); --model only for an older index."""
        try:
            info = model_for_index(self.manifest, self._model_spec)
        except ModelNotFound as exc:
            raise IndexProblem(str(exc)) from None
        return Embedder(info)

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Turn a failure while reading this generation (a truncated or deleted Whoosh file, a
        damaged store) into an IndexProblem that names the files and what to do.
        BYLINE_DEBUG=1 shows the original traceback instead."""
        from search.retrieval.lexical import QuerySyntaxError

        try:
            yield
        except (IndexProblem, QuerySyntaxError):
            raise
        except sqlite3.DatabaseError as exc:
            raise IndexProblem(store_problem(self.paths, exc)) from None
        except Exception as exc:
            if os.environ.get("BYLINE_DEBUG"):
                raise
            raise IndexProblem(
                f"index {self.paths.root} cannot be read ({_first_line(exc)}): a file of generation "
                f"{self.generation} ({self.paths.generation(self.generation)}) is damaged or missing; "
                f"{_REPAIR}") from None

    def close(self) -> None:
        for name in ("lexical", "article_lexical"):
            opened = self.__dict__.get(name)
            if hasattr(opened, "close_reader"):
                opened.close_reader()
        self.store.close()
        self._pinned.close()


def store_problem(paths: IndexPaths, exc: Exception) -> str:
    """The message for an article store that cannot be read."""
    return (f"article store {paths.store} cannot be read ({exc}); it is damaged or truncated. It holds "
            "the articles themselves: restore the index folder from a backup, or index your sources "
            "again with: byline index add --index NEWDIR PATH")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
