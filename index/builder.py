"""Change an index: add, update and remove articles, as one atomic step per run.

A run prepares the next generation beside the committed one: the article store gets rows
tagged with the new generation (invisible to readers until committed), and a new generation
folder gets the Whoosh index (hard links to the old immutable segment files, plus new segments)
and a fresh FAISS file. Writing the manifest that names the new generation is the commit point:
killed at any moment before it, the index answers exactly as before; after it, as after.
Memory stays bounded by the batch size, not the corpus.

Encoding runs beside the rest: a full batch of passages is encoded in a thread of its own
(`_Encoding`; ONNX Runtime and numpy release the GIL) while this thread writes the batch before
it to Whoosh and SQLite and reads and chunks the articles of the next one. The vectors, and so
the index, are the same as when each batch was encoded in turn (docs/performance.md).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from index import checksums, dedup, lexical, profile, sentences, vectors
from index.chunker import ChunkingParams, chunk_article
from index.documents import Article, Chunk, Skipped
from index.embedder import Embedder, ModelInfo
from index.field_memory import FieldMemory
from index.layout import IndexPaths
from index.manifest import IndexProblem, Manifest, load_manifest, save_manifest
from index.models import manifest_fields
from index.readers import FieldMap, discover, read_file
from index.store import ArticleStore

BATCH_CHUNKS = 256
KEPT_ATTRIBUTES = ("date", "source", "url", "author")  # never blanked by a re-read (see _keep_stored_values)
KEEP_GENERATIONS = 2  # the committed one and the one before, for searches still reading it


@dataclass
class AddReport:
    """What one run did."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    interrupted_after_commit: bool = False  # Ctrl-C after the commit point: committed all the same
    fields_remembered: dict[str, dict[str, str]] = field(default_factory=dict)  # path: --field mappings re-applied
    kept: dict[str, int] = field(default_factory=dict)  # attribute: stored values a re-read lacked, kept

    @property
    def articles(self) -> int:
        return self.new + self.changed


@dataclass
class Progress:
    """Emitted after each file or batch, for progress bars."""

    files_done: int
    files_total: int
    articles: int
    chunks: int
    skipped: Skipped | None = None
    stage: str = "indexing"  # or "preparing the model" (before the first passages are embedded), "saving"


ProgressFn = Callable[[Progress], None]


@contextmanager
def write_lock(paths: IndexPaths):
    """Hold the index's writer lock; a second writer fails at once with a clear message."""
    paths.root.mkdir(parents=True, exist_ok=True)
    with open(paths.write_lock, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexProblem(f"another byline process is writing to {paths.root}; try again when it ends") from None
        yield


@dataclass(frozen=True)
class Backend:
    """Where a new index keeps its derived indexes (see index.milvus_backend); an existing
    index keeps the one its manifest names."""

    name: str = "local"
    milvus_uri: str | None = None


def _manifest_for_writing(paths: IndexPaths, model: ModelInfo, params: ChunkingParams,
                          backend: Backend | None = None) -> Manifest:
    """The manifest of an existing index (checked against the model), or a new one.

    A folder without a manifest is started afresh only when it is empty or certainly holds an
    interrupted first run (its marker is there); an article store without a manifest may be
    someone's only copy of their articles, so it is refused and `doctor --repair` recreates it."""
    _remove_temp_files(paths)
    if paths.manifest.exists():
        manifest = load_manifest(paths)
        manifest.check_model(model.name, model.dimension)
        if manifest.model_source is None and model.source:  # an older index: record its model now
            manifest.model_source, manifest.model_weights = model.source, model.identity()
        if backend is not None and (backend.name, backend.milvus_uri) != (manifest.backend, manifest.milvus_uri):
            raise IndexProblem(f"{paths.root} uses the {manifest.backend} backend"
                               + (f" at {manifest.milvus_uri}" if manifest.milvus_uri else "")
                               + "; a backend is chosen when an index is created (leave out --backend, "
                               "or build a new index with --index NEWDIR)")
        return manifest
    entries = [p for p in paths.root.iterdir() if p.name not in ("write.lock", paths.first_run_marker.name)]
    if entries and not paths.first_run_marker.exists():
        if paths.store.exists():
            raise IndexProblem(
                f"{paths.root} holds an article store but no manifest.json (deleted, or lost in a copy); "
                f"nothing was changed. Recreate the manifest from the store with: "
                f"byline doctor --repair --index {paths.root}")
        raise IndexProblem(f"{paths.root} exists and is not a byline index; choose an empty or new folder")
    _write_marker(paths.first_run_marker)
    for p in entries:  # an interrupted first run: nothing was committed, start afresh
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    manifest = Manifest(**manifest_fields(model), chunking=params.as_dict())
    if backend is not None and backend.name == "milvus":
        manifest.backend, manifest.milvus_uri = "milvus", backend.milvus_uri
        manifest.milvus_collection = "byline_" + os.urandom(6).hex()
    return manifest


def _write_marker(path: Path) -> None:
    with open(path, "w") as fh:
        fh.write("a byline index being created; removed at its first commit\n")
        fh.flush()
        os.fsync(fh.fileno())
    _fsync_dir(path.parent)


def _remove_temp_files(paths: IndexPaths) -> None:
    """Temporary manifests a killed run left (only writers make them, and we hold the lock)."""
    for p in paths.root.glob(f".{paths.manifest.name}.*"):
        p.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_problem(paths: IndexPaths, exc: BaseException) -> IndexProblem | None:
    """A clear message for a failure to write the index (a full disk above all), or None."""
    undone = "the index is as it was before this run"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = exc.filename or paths.root
        return IndexProblem(f"disk full while writing {where} ({exc.strerror}); {undone}. "
                            "Free some space, then run the command again")
    if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
        return IndexProblem(f"disk full while writing the article store {paths.store} ({exc}); {undone}. "
                            "Free some space, then run the command again")
    if isinstance(exc, sqlite3.DatabaseError):
        return IndexProblem(f"the article store {paths.store} cannot be written ({exc}); {undone}. "
                            "Check it with: byline doctor")
    return None


@contextmanager
def open_writer(paths: IndexPaths, embedder: Embedder, params: ChunkingParams | None = None,
                fresh: bool = False, backend: Backend | None = None) -> Iterator[IndexWriter]:
    """An IndexWriter holding the lock; committed when the block ends normally, else discarded.

    `fresh` starts the new generation's Whoosh and FAISS indexes empty (for rebuilding them)."""
    started = time.perf_counter()
    lock_existed = paths.write_lock.exists()
    with write_lock(paths):
        try:
            manifest = _manifest_for_writing(paths, embedder.info, params or ChunkingParams(), backend)
        except IndexProblem:
            if not lock_existed:  # not an index: leave the folder as it was
                paths.write_lock.unlink(missing_ok=True)
            raise
        writer = None
        try:
            writer = IndexWriter(paths, manifest, embedder, fresh, milvus_uri=backend and backend.milvus_uri)
            yield writer
            writer.commit()
        except BaseException as exc:
            if writer is not None and not writer.committed:
                writer.abort()
            problem = write_problem(paths, exc)
            if problem is not None:
                raise problem from None
            raise
        finally:
            if writer is not None:
                writer.report.seconds = time.perf_counter() - started


class _Encoding:
    """One batch's passages, encoded in a thread of its own after the batch before it (so one batch
    is encoded at a time, by every core ONNX Runtime is given). A daemon thread: Ctrl-C or an error
    in the writer is not held up by a batch still encoding."""

    def __init__(self, encode: Callable[[], tuple], after: _Encoding | None = None):
        self._result: tuple | None = None
        self._error: BaseException | None = None

        def run() -> None:
            if after is not None:
                after._thread.join()
            try:
                self._result = encode()
            except BaseException as exc:  # noqa: BLE001 (raised again in the writer's thread)
                self._error = exc

        self._thread = threading.Thread(target=run, name="byline-encode", daemon=True)
        self._thread.start()

    def result(self) -> tuple:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result


class IndexWriter:
    """Prepares the next generation of an index; see the module docstring."""

    def __init__(self, paths: IndexPaths, manifest: Manifest, embedder: Embedder, fresh: bool = False,
                 milvus_uri: str | None = None):
        self.paths, self.manifest, self.embedder = paths, manifest, embedder
        self.params = ChunkingParams(**manifest.chunking)
        self.report = AddReport()
        committed = manifest.generation
        self.generation = committed + 1
        _remove_generations(paths, keep=lambda g: committed - KEEP_GENERATIONS < g <= committed)
        self.committed = False
        self.milvus = None  # the Milvus collections replace Whoosh and FAISS (index.milvus_backend)
        if manifest.backend == "milvus":
            from index.milvus_backend import MilvusWriter, trusted_uri

            uri = trusted_uri(manifest.milvus_uri, paths.root, milvus_uri)  # the user's, not the folder's
            self.milvus = MilvusWriter(uri, manifest.milvus_collection, manifest.dimension)
        self.milvus_full_sync = False
        # The derived indexes are opened first: one that cannot be opened (damaged, or refused by
        # index.safe_pickle) then fails the run before the store's write transaction begins.
        shutil.rmtree(paths.generation(self.generation), ignore_errors=True)  # a killed run's leftovers
        self.lexical_index = _prepare_lexical(paths.lexical, None if fresh else committed, self.generation)
        # An index made before the article index existed gets one built from the store at commit.
        self.backfill_articles = not fresh and committed > 0 and not paths.article_lexical(committed).is_dir()
        self.article_index = _prepare_lexical(paths.article_lexical, None if fresh else committed,
                                              self.generation, articles=True)
        self.whoosh = None
        self.article_whoosh = None
        self.vectors = None if self.milvus else (vectors.new_index(manifest.dimension) if fresh else
                        vectors.load(paths.vectors(committed), manifest.dimension, missing_ok=committed == 0))
        self.store = ArticleStore(paths.store, self.generation)
        self.store.begin()
        self.store.recover(committed, keep_from=committed - KEEP_GENERATIONS)
        # How the index was built, in the store too, so a lost manifest can be recreated.
        self.store.set_meta({"model_name": manifest.model_name, "dimension": str(manifest.dimension),
                             "chunking": json.dumps(manifest.chunking), "created": manifest.created,
                             "model_source": manifest.model_source or "",
                             "model_weights": json.dumps(manifest.model_weights)})
        self.known = self.store.article_hashes()
        self.stored_paths = self.store.article_paths()
        self.ids_by_path: dict[str, set[str]] = {}
        for article_id, path in self.stored_paths.items():
            if path:
                self.ids_by_path.setdefault(path, set()).add(article_id)
        self.seen: dict[str, str] = {}
        # An index that starts empty is built once, at commit, from the vectors in the store and
        # in its final kind (flat or HNSW), so memory does not grow by 1.5 KB a passage while
        # embedding, and a large first ingest never holds a flat index and an HNSW one at once.
        self.build_vectors_at_commit = self.vectors is not None and self.vectors.ntotal == 0
        self.pending: list[tuple[Article, str, list[Chunk]]] = []
        # The batch being encoded: (its articles, their chunks, the encoding), written when the
        # next batch is sent or at flush().
        self.in_flight: tuple[list[tuple[Article, str, list[Chunk]]], list[Chunk], _Encoding] | None = None
        self.sentence_mode = sentences.mode()
        self.pending_chunks = 0
        self.on_stage: Callable[[str], None] | None = None  # told when a stage starts (progress bars)
        self.model_used = False

    # --- changes ---------------------------------------------------------------------------

    def add(self, article: Article) -> bool:
        """Queue an article; returns True when it is new or changed (and so will be indexed)."""
        if article.path and article.id_from_path:
            article.id = self._path_id(article)
        elif article.path and article.id not in self.seen:
            other = self._used_by_other(article.id, article.path)
            if other is not None:
                self.report.skipped.append(Skipped(
                    article.path, f"article id {article.id!r} is already used by another source, {other}; "
                                  "nothing was replaced (give the records distinct ids, or remove the other "
                                  "first with: byline index rm ID)"))
                return False
        if article.id in self.seen:
            self.report.skipped.append(Skipped(
                article.path or article.id,
                f"duplicate article id {article.id!r} (first read from {self.seen[article.id]})"))
            return False
        self.seen[article.id] = article.path or article.id
        old = self.known.get(article.id)
        digest = article.content_hash()
        if old is not None and old != digest and self._keep_stored_values(article):
            digest = article.content_hash()
        stored_path = self.stored_paths.get(article.id)
        if old is not None and old in (digest, article.legacy_hash(stored_path)):
            if old != digest or stored_path != article.path:  # moved, or hashed the old way
                self.store.update_path(article.id, article.path, digest)
                self._set_path(article.id, article.path)
                self.known[article.id] = digest
            self.report.unchanged += 1
            return False
        if old is not None:
            self._remove(article.id)
            self.report.changed += 1
        else:
            self.report.new += 1
        self._set_path(article.id, article.path)
        chunks = chunk_article(article, self.params, self.embedder.count_tokens)
        self.pending.append((article, digest, chunks))
        self.pending_chunks += len(chunks)
        if self.pending_chunks >= BATCH_CHUNKS:
            self._send()
        return True

    def _keep_stored_values(self, article: Article) -> bool:
        """A re-read never blanks a value an earlier run stored (a date read through a --field
        mapping, say, when the file is now read without it): the stored one is kept. Returns
        whether any was."""
        lacking = [a for a in KEPT_ATTRIBUTES if not getattr(article, a)]
        stored = self.store.article_attributes(article.id, lacking) if lacking else {}
        kept = [attr for attr in lacking if stored.get(attr)]
        for attr in kept:
            setattr(article, attr, stored[attr])
            self.report.kept[attr] = self.report.kept.get(attr, 0) + 1
        return bool(kept)

    def _used_by_other(self, article_id: str, path: str) -> str | None:
        """The other source of an id that this file cannot take, if any: one read earlier in
        this run, or a stored article whose file still exists elsewhere (a file that is gone
        was moved or renamed, so its articles may move with it)."""
        seen = self.seen.get(article_id)
        if seen is not None:
            return seen if seen != path else None
        if article_id not in self.known:
            return None
        stored = self.stored_paths.get(article_id)
        if stored == path:
            return None
        if stored is None:
            return f"an article added without a file ({article_id})"
        return stored if os.path.exists(stored) else None

    def _path_id(self, article: Article) -> str:
        """A path-made id that no other source in the index has: the reader's id (the path
        below the folder given) when it is free, else with as many parent folders as it takes,
        up to the absolute path. An article already stored from this file keeps its id."""
        path = article.path
        base, hash_sign, number = article.id.rpartition("#")
        if not (hash_sign and number.isdigit() and (path == base or path.endswith("/" + base))):
            base, number = article.id, ""
        suffix = f"#{number}" if number else ""
        parts = path.strip("/").split("/")
        tails = ["/".join(parts[-n:]) for n in range(1, len(parts) + 1)] + [path]
        mine = self.ids_by_path.get(path, set())
        for candidate in (t + suffix for t in tails):  # e.g. stored as x.txt, now read as sub/x.txt
            if candidate in mine and candidate not in self.seen:
                return candidate
        start = next((i for i, t in enumerate(tails) if t == base), 0)
        candidates = [t + suffix for t in tails[start:]]
        for candidate in candidates:
            if self._used_by_other(candidate, path) is None:
                return candidate
        return candidates[-1]  # taken even as an absolute path: reported as a duplicate

    def _set_path(self, article_id: str, path: str | None) -> None:
        old = self.stored_paths.get(article_id)
        if old:
            self.ids_by_path.get(old, set()).discard(article_id)
        self.stored_paths[article_id] = path
        if path:
            self.ids_by_path.setdefault(path, set()).add(article_id)

    def remove(self, article_id: str) -> bool:
        """Remove an article; returns False when the index does not hold it."""
        if article_id not in self.known or article_id in self.seen:
            return False
        self._remove(article_id)
        del self.known[article_id]
        self._set_path(article_id, None)
        self.report.removed += 1
        return True

    def _remove(self, article_id: str) -> None:
        ids = self.store.remove_article(article_id)
        if self.milvus:  # applied to the collections at commit, from the store
            return
        self._whoosh().delete_by_term("article_id", article_id)
        self._article_whoosh().delete_by_term("article_id", article_id)
        vectors.remove(self.vectors, ids)  # HNSW keeps them as stale vectors; see index.vectors

    def _whoosh(self):
        if self.whoosh is None:
            # Separate segment files, not one compound file: Whoosh opens a compound file by
            # copying each part into memory: 0.4 s and 1 GB per search at 100,000 articles.
            self.whoosh = self.lexical_index.writer(limitmb=128, compound=False)
        return self.whoosh

    def _article_whoosh(self):
        if self.article_whoosh is None:
            self.article_whoosh = self.article_index.writer(limitmb=128, compound=False)
        return self.article_whoosh

    def flush(self) -> None:
        """Embed and write every queued article (waiting for the batch being encoded)."""
        self._send()
        if self.in_flight is not None:
            batch, self.in_flight = self.in_flight, None
            self._write(*batch)

    def _send(self) -> None:
        """Start encoding the queued articles, and write the batch sent before them meanwhile."""
        if not self.pending:
            return
        pending, self.pending, self.pending_chunks = self.pending, [], 0
        chunks = [c for _, _, cs in pending for c in cs]
        if not self.model_used and self.on_stage:  # the first batch loads the model: seconds
            self.on_stage("preparing the model")
        self.model_used = True
        embedder, how = self.embedder, self.sentence_mode
        previous = self.in_flight
        encoding = _Encoding(lambda: sentences.encode_passages(embedder, chunks, how),
                             after=previous[2] if previous else None)
        self.in_flight = (pending, chunks, encoding)
        if previous is not None:
            self._write(*previous)

    def _write(self, pending: list[tuple[Article, str, list[Chunk]]], chunks: list[Chunk],
               encoding: _Encoding) -> None:
        """Write an encoded batch: its passages to Whoosh, the store and FAISS."""
        matrix, sentence_vectors = encoding.result()
        first = self.store.next_chunk_ids(len(chunks))
        whoosh = self._whoosh() if not self.milvus else None
        for offset, chunk in enumerate(chunks):
            chunk.id = first + offset
            chunk.vector = matrix[offset]
        by_chunk = {c.id: m for c, m in zip(chunks, sentence_vectors)} if sentence_vectors is not None else None
        for article, digest, article_chunks in pending:
            for chunk in article_chunks if whoosh is not None else ():
                whoosh.add_document(**lexical.chunk_document(
                    chunk.id, article.id, article.title, chunk.text, article.source, article.date))
            self.store.put_article(article, article_chunks, digest)
            if not self.backfill_articles and whoosh is not None:
                self._article_whoosh().add_document(**lexical.article_document(
                    article.id, article.title, article.text, article.source, article.date))
            if by_chunk is not None:
                self.store.put_sentences(article.id, *sentences.of_article(article_chunks, by_chunk))
            dedup.store_signature(self.store, article.id, article.title, article.text)
        if self.vectors is not None and not self.build_vectors_at_commit:
            vectors.add(self.vectors, [c.id for c in chunks], matrix)
        self.report.chunks += len(chunks)
        if self.on_stage:
            self.on_stage("indexing")

    def rebuild_derived(self) -> None:
        """Fill this (fresh) generation's Whoosh and FAISS indexes from the article store,
        re-embedding any chunk whose stored vector is missing."""
        self.store.fill_missing_digests()
        missing = self.store.chunks_without_vectors()
        for start in range(0, len(missing), BATCH_CHUNKS):
            part = missing[start:start + BATCH_CHUNKS]
            matrix = self.embedder.encode([Chunk("", 0, text, title).embedding_text() for _, title, text in part])
            self.store.set_vectors([(cid, row.tobytes()) for (cid, _, _), row in zip(part, matrix)])
        dedup.fill_missing(self.store)  # an index made before near-duplicate signatures
        if self.milvus:
            self.milvus_full_sync = True  # the collections are reconciled with the store at commit
            return
        whoosh = self._whoosh()
        for rows in self.store.iter_chunks_for_rebuild():
            for cid, article_id, text, _, title, source, date in rows:
                whoosh.add_document(**lexical.chunk_document(cid, article_id, title, text, source, date))
        self._fill_article_index()
        self.build_vectors_at_commit = True

    def _fill_article_index(self) -> None:
        """Add every visible article of the store to this generation's (empty) article index."""
        writer = self._article_whoosh()
        for rows in self.store.iter_articles_for_rebuild():
            for article_id, title, text, source, date in rows:
                writer.add_document(**lexical.article_document(article_id, title, text, source, date))

    # --- ending ----------------------------------------------------------------------------

    def commit(self) -> None:
        """Write everything of the new generation, then name it in the manifest."""
        self.flush()
        if self.backfill_articles and not self.milvus:
            self._fill_article_index()
        for name in ("whoosh", "article_whoosh"):
            if getattr(self, name) is not None:
                getattr(self, name).commit()
                setattr(self, name, None)
        articles, chunk_count = self.store.counts()
        if self.vectors is not None:
            if self.build_vectors_at_commit or vectors.needs_rebuild(self.vectors, chunk_count):
                self.vectors = None  # let the old index go before the new one is built
                self.vectors = rebuild_vectors(self.store, self.manifest.dimension, chunk_count)
            vectors.save(self.vectors, self.paths.vectors(self.generation))
        folder = self.paths.generation(self.generation)
        _fsync_tree(folder)
        committed = self.manifest.generation
        self.manifest.files = checksums.record(folder, self.manifest.files, self.paths.generation(committed))
        self.manifest.lead_centrality = profile.measure(self.store)
        self.store.commit()
        self.manifest.articles, self.manifest.chunks = articles, chunk_count
        self.manifest.vector_index = vectors.kind(self.vectors) if self.vectors is not None else "milvus"
        self.manifest.generation = self.generation
        try:
            save_manifest(self.paths, self.manifest)  # the commit point
        except (KeyboardInterrupt, OSError):
            if not self._manifest_names_this_generation():
                self.manifest.generation = committed
                raise
            # Interrupted after the rename (e.g. Ctrl-C in the folder fsync): the run is
            # committed, and aborting now would delete the generation the manifest names.
            self.report.interrupted_after_commit = True
        self.committed = True
        if self.milvus:
            self._sync_milvus()
        try:  # tidying: skipping it loses nothing, the next run does it
            self.paths.first_run_marker.unlink(missing_ok=True)
            self.store.close()
            g = self.generation
            _remove_generations(self.paths, keep=lambda n: g - KEEP_GENERATIONS < n <= g)
        except KeyboardInterrupt:
            self.report.interrupted_after_commit = True

    def _sync_milvus(self) -> None:
        """Apply the committed generation to the Milvus collections (after the commit point:
        Milvus has no transactions; see index.milvus_backend for what is guaranteed)."""
        try:
            self.milvus_note = self.milvus.sync(self.store, self.generation, full=self.milvus_full_sync)
        except IndexProblem:
            raise
        except Exception as exc:
            raise IndexProblem(
                f"the articles were committed to {self.paths.store}, but writing them to Milvus at "
                f"{self.manifest.milvus_uri} failed ({str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}); "
                f"searches may miss them until: byline doctor --repair --index {self.paths.root}") from None

    def _manifest_names_this_generation(self) -> bool:
        try:
            return load_manifest(self.paths).generation == self.generation
        except (IndexProblem, OSError, TypeError, ValueError):
            return False

    def abort(self) -> None:
        """Discard the new generation. Each step is tried on its own, so a failed step (Whoosh
        refuses to cancel a writer whose commit failed) never hides the error that got us here."""
        steps = [self.store.rollback, self.store.close]
        for w in (self.article_whoosh, self.whoosh):
            if w is not None:
                steps.insert(0, w.cancel)
        for step in steps:
            try:
                step()
            except Exception:
                pass
        shutil.rmtree(self.paths.generation(self.generation), ignore_errors=True)


def rebuild_vectors(store: ArticleStore, dimension: int, total: int):
    """A new FAISS index from the vectors in the store."""
    batches = (([r[0] for r in rows], vectors.from_bytes([r[3] for r in rows], dimension))
               for rows in store.iter_chunks_for_rebuild())
    return vectors.rebuild(batches, dimension, total)


def _prepare_lexical(folder: Callable[[int], Path], committed: int | None, new: int, articles: bool = False):
    """The new generation's Whoosh folder (`folder(generation)`): hard links to the committed
    one's files.

    Whoosh never rewrites a segment file (deletions go in the new table of contents), so the
    committed generation stays untouched while the new one is written.
    """
    target = folder(new)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    source = folder(committed) if committed is not None else None
    if source is not None and source.is_dir():
        for f in source.iterdir():
            if f.is_file() and not f.name.endswith(".lock") and "WRITELOCK" not in f.name:
                os.link(f, target / f.name)
    return lexical.open_or_create(target, articles=articles)


def _remove_generations(paths: IndexPaths, keep: Callable[[int], bool]) -> None:
    for number in paths.generations():
        if not keep(number):
            shutil.rmtree(paths.generation(number), ignore_errors=True)


def _fsync_tree(folder: Path) -> None:
    for p in [*folder.rglob("*"), folder]:
        _fsync_dir(p)


def items_from_paths(sources: list[Path], fields: FieldMap | Callable[[Path], FieldMap] | None = None
                     ) -> tuple[int, Iterator]:
    """Number of files, and a stream of articles/skips with file-done markers (ints).
    `fields` is one FieldMap for every file, or a function giving each file's."""
    files = list(discover(sources))
    fields_for = fields if callable(fields) else (lambda _path, same=fields or FieldMap(): same)

    def stream():
        for done, (root, path) in enumerate(files, start=1):
            yield from read_file(path, root, fields_for(path))
            yield done

    return len(files), stream()


def feed(writer: IndexWriter, items: Iterable[Article | Skipped | int], files_total: int = 0,
         on_progress: ProgressFn | None = None) -> None:
    """Give a stream of articles to a writer. Integers in the stream mark files done. The last
    progress report comes after the last batch is embedded, so its counts are the run's."""
    files_done = 0

    def report(skipped: Skipped | None = None, stage: str = "indexing") -> None:
        if on_progress:
            r = writer.report
            on_progress(Progress(files_done, files_total, r.articles, r.chunks, skipped, stage))

    writer.on_stage = lambda stage: report(stage=stage)
    for item in items:
        skipped = None
        if isinstance(item, int):
            files_done = item
        elif isinstance(item, Skipped):
            writer.report.skipped.append(item)
            skipped = item
        elif not writer.add(item):
            continue
        report(skipped)
    writer.flush()
    report(stage="saving")
    writer.on_stage = None


def add_paths(paths: IndexPaths, sources: list[Path], embedder: Embedder, fields: FieldMap | None = None,
              params: ChunkingParams | None = None, on_progress: ProgressFn | None = None,
              sync: bool = False, backend: Backend | None = None) -> AddReport:
    """Index every article under `sources`: new and changed ones are (re)indexed.

    With `sync`, articles read earlier from under `sources` whose files are gone are removed.
    """
    with open_writer(paths, embedder, params, backend=backend) as writer:
        memory = FieldMemory.from_store(writer.store, fields)
        total, items = items_from_paths(sources, memory.for_file)
        feed(writer, items, total, on_progress)
        writer.report.fields_remembered = memory.applied
        if memory.remember(sources):
            memory.save(writer.store)
        if sync:
            roots = [os.path.abspath(s) for s in sources]
            for article_id, path in writer.store.article_paths().items():
                inside = path and any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)
                if inside and article_id not in writer.seen:
                    writer.remove(article_id)
    return writer.report


def add_articles(paths: IndexPaths, items: Iterable[Article | Skipped | int], embedder: Embedder,
                 params: ChunkingParams | None = None, on_progress: ProgressFn | None = None,
                 files_total: int = 0, backend: Backend | None = None) -> AddReport:
    """Index a stream of articles (for callers that read articles themselves)."""
    with open_writer(paths, embedder, params, backend=backend) as writer:
        feed(writer, items, files_total, on_progress)
    return writer.report


def remove_articles(paths: IndexPaths, embedder: Embedder, ids: list[str]) -> tuple[AddReport, list[str]]:
    """Remove articles by id or by file path; returns the report and the names not found."""
    missing = []
    with open_writer(paths, embedder) as writer:
        by_path: dict[str, list[str]] = {}
        for article_id, path in writer.store.article_paths().items():
            if path:
                by_path.setdefault(path, []).append(article_id)
        for name in ids:
            targets = [name] if name in writer.known else by_path.get(os.path.abspath(name), [])
            if not targets:
                missing.append(name)
            for article_id in targets:
                writer.remove(article_id)
    return writer.report, missing
