"""Change an index: add, update and remove articles, as one atomic step per run.

A run prepares the next generation beside the committed one: the article store gets rows
tagged with the new generation (invisible to readers until committed), and a new generation
folder gets the Whoosh index (hard links to the old immutable segment files, plus new segments)
and a fresh FAISS file. Writing the manifest that names the new generation is the commit point:
killed at any moment before it, the index answers exactly as before; after it, as after.
Memory stays bounded by the batch size, not the corpus.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from index import dedup, lexical, vectors
from index.chunker import ChunkingParams, chunk_article
from index.documents import Article, Chunk, Skipped
from index.embedder import Embedder, ModelInfo
from index.layout import IndexPaths
from index.manifest import IndexProblem, Manifest, load_manifest, save_manifest
from index.readers import FieldMap, discover, read_file
from index.store import ArticleStore

BATCH_CHUNKS = 256
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


def _manifest_for_writing(paths: IndexPaths, model: ModelInfo, params: ChunkingParams) -> Manifest:
    """The manifest of an existing index (checked against the model), or a new one."""
    if paths.manifest.exists():
        manifest = load_manifest(paths)
        manifest.check_model(model.name, model.dimension)
        return manifest
    if paths.root.exists():
        entries = [p for p in paths.root.iterdir() if p.name != "write.lock"]
        if any(not _left_by_first_run(p) for p in entries):
            raise IndexProblem(f"{paths.root} exists and is not a byline index; choose an empty or new folder")
        for p in entries:  # an interrupted first run: nothing was committed, start afresh
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    return Manifest(model_name=model.name, dimension=model.dimension, chunking=params.as_dict())


def _left_by_first_run(p: Path) -> bool:
    """Files an interrupted first run of a new index can leave before its manifest exists."""
    return p.name.startswith("articles.sqlite") or (p.is_dir() and p.name.startswith("gen-"))


@contextmanager
def open_writer(paths: IndexPaths, embedder: Embedder, params: ChunkingParams | None = None,
                fresh: bool = False) -> Iterator[IndexWriter]:
    """An IndexWriter holding the lock; committed when the block ends normally, else discarded.

    `fresh` starts the new generation's Whoosh and FAISS indexes empty (for rebuilding them)."""
    started = time.perf_counter()
    with write_lock(paths):
        manifest = _manifest_for_writing(paths, embedder.info, params or ChunkingParams())
        writer = IndexWriter(paths, manifest, embedder, fresh)
        try:
            yield writer
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        finally:
            writer.report.seconds = time.perf_counter() - started


class IndexWriter:
    """Prepares the next generation of an index; see the module docstring."""

    def __init__(self, paths: IndexPaths, manifest: Manifest, embedder: Embedder, fresh: bool = False):
        self.paths, self.manifest, self.embedder = paths, manifest, embedder
        self.params = ChunkingParams(**manifest.chunking)
        self.report = AddReport()
        committed = manifest.generation
        self.generation = committed + 1
        _remove_generations(paths, keep=lambda g: committed - KEEP_GENERATIONS < g <= committed)
        self.store = ArticleStore(paths.store, self.generation)
        self.store.begin()
        self.store.recover(committed, keep_from=committed - KEEP_GENERATIONS)
        self.known = self.store.article_hashes()
        self.seen: dict[str, str] = {}
        self.lexical_index = _prepare_lexical(paths, None if fresh else committed, self.generation)
        self.whoosh = None
        self.vectors = (vectors.new_index(manifest.dimension) if fresh else
                        vectors.load(paths.vectors(committed), manifest.dimension, missing_ok=committed == 0))
        # An index that starts empty is built once, at commit, from the vectors in the store and
        # in its final kind (flat or HNSW), so memory does not grow by 1.5 KB a passage while
        # embedding, and a large first ingest never holds a flat index and an HNSW one at once.
        self.build_vectors_at_commit = self.vectors.ntotal == 0
        self.pending: list[tuple[Article, str, list[Chunk]]] = []
        self.pending_chunks = 0

    # --- changes ---------------------------------------------------------------------------

    def add(self, article: Article) -> bool:
        """Queue an article; returns True when it is new or changed (and so will be indexed)."""
        if article.id in self.seen:
            self.report.skipped.append(Skipped(
                article.path or article.id,
                f"duplicate article id {article.id!r} (first read from {self.seen[article.id]})"))
            return False
        self.seen[article.id] = article.path or article.id
        digest = article.content_hash()
        old = self.known.get(article.id)
        if old == digest:
            self.report.unchanged += 1
            return False
        if old is not None:
            self._remove(article.id)
            self.report.changed += 1
        else:
            self.report.new += 1
        chunks = chunk_article(article, self.params, self.embedder.count_tokens)
        self.pending.append((article, digest, chunks))
        self.pending_chunks += len(chunks)
        if self.pending_chunks >= BATCH_CHUNKS:
            self.flush()
        return True

    def remove(self, article_id: str) -> bool:
        """Remove an article; returns False when the index does not hold it."""
        if article_id not in self.known or article_id in self.seen:
            return False
        self._remove(article_id)
        del self.known[article_id]
        self.report.removed += 1
        return True

    def _remove(self, article_id: str) -> None:
        ids = self.store.remove_article(article_id)
        self._whoosh().delete_by_term("article_id", article_id)
        vectors.remove(self.vectors, ids)  # HNSW keeps them as stale vectors; see index.vectors

    def _whoosh(self):
        if self.whoosh is None:
            # Separate segment files, not one compound file: Whoosh opens a compound file by
            # copying each part into memory: 0.4 s and 1 GB per search at 100,000 articles.
            self.whoosh = self.lexical_index.writer(limitmb=128, compound=False)
        return self.whoosh

    def flush(self) -> None:
        """Embed and write the queued articles."""
        if not self.pending:
            return
        chunks = [c for _, _, cs in self.pending for c in cs]
        first = self.store.next_chunk_ids(len(chunks))
        matrix = self.embedder.encode([c.embedding_text() for c in chunks])
        whoosh = self._whoosh()
        for offset, chunk in enumerate(chunks):
            chunk.id = first + offset
            chunk.vector = matrix[offset]
        for article, digest, article_chunks in self.pending:
            for chunk in article_chunks:
                whoosh.add_document(**lexical.chunk_document(
                    chunk.id, article.id, article.title, chunk.text, article.source, article.date))
            self.store.put_article(article, article_chunks, digest)
            dedup.store_signature(self.store, article.id, article.title, article.text)
        if not self.build_vectors_at_commit:
            vectors.add(self.vectors, [c.id for c in chunks], matrix)
        self.report.chunks += len(chunks)
        self.pending, self.pending_chunks = [], 0

    def rebuild_derived(self) -> None:
        """Fill this (fresh) generation's Whoosh and FAISS indexes from the article store,
        re-embedding any chunk whose stored vector is missing."""
        missing = self.store.chunks_without_vectors()
        for start in range(0, len(missing), BATCH_CHUNKS):
            part = missing[start:start + BATCH_CHUNKS]
            matrix = self.embedder.encode([Chunk("", 0, text, title).embedding_text() for _, title, text in part])
            self.store.set_vectors([(cid, row.tobytes()) for (cid, _, _), row in zip(part, matrix)])
        dedup.fill_missing(self.store)  # an index made before near-duplicate signatures
        whoosh = self._whoosh()
        for rows in self.store.iter_chunks_for_rebuild():
            for cid, article_id, text, _, title, source, date in rows:
                whoosh.add_document(**lexical.chunk_document(cid, article_id, title, text, source, date))
        self.build_vectors_at_commit = True

    # --- ending ----------------------------------------------------------------------------

    def commit(self) -> None:
        """Write everything of the new generation, then name it in the manifest."""
        self.flush()
        if self.whoosh is not None:
            self.whoosh.commit()
            self.whoosh = None
        articles, chunk_count = self.store.counts()
        if self.build_vectors_at_commit or vectors.needs_rebuild(self.vectors, chunk_count):
            self.vectors = None  # let the old index go before the new one is built
            self.vectors = rebuild_vectors(self.store, self.manifest.dimension, chunk_count)
        vectors.save(self.vectors, self.paths.vectors(self.generation))
        _fsync_tree(self.paths.generation(self.generation))
        self.store.commit()
        self.manifest.articles, self.manifest.chunks = articles, chunk_count
        self.manifest.vector_index = vectors.kind(self.vectors)
        self.manifest.generation = self.generation
        save_manifest(self.paths, self.manifest)  # the commit point
        self.store.close()
        g = self.generation
        _remove_generations(self.paths, keep=lambda n: g - KEEP_GENERATIONS < n <= g)

    def abort(self) -> None:
        if self.whoosh is not None:
            self.whoosh.cancel()
        self.store.rollback()
        self.store.close()
        shutil.rmtree(self.paths.generation(self.generation), ignore_errors=True)


def rebuild_vectors(store: ArticleStore, dimension: int, total: int):
    """A new FAISS index from the vectors in the store."""
    batches = (([r[0] for r in rows], vectors.from_bytes([r[3] for r in rows], dimension))
               for rows in store.iter_chunks_for_rebuild())
    return vectors.rebuild(batches, dimension, total)


def _prepare_lexical(paths: IndexPaths, committed: int | None, new: int):
    """The new generation's Whoosh folder: hard links to the committed one's files.

    Whoosh never rewrites a segment file (deletions go in the new table of contents), so the
    committed generation stays untouched while the new one is written.
    """
    target = paths.lexical(new)
    shutil.rmtree(paths.generation(new), ignore_errors=True)
    target.mkdir(parents=True)
    source = paths.lexical(committed) if committed is not None else None
    if source is not None and source.is_dir():
        for f in source.iterdir():
            if f.is_file() and not f.name.endswith(".lock") and "WRITELOCK" not in f.name:
                os.link(f, target / f.name)
    return lexical.open_or_create(target)


def _remove_generations(paths: IndexPaths, keep: Callable[[int], bool]) -> None:
    for number in paths.generations():
        if not keep(number):
            shutil.rmtree(paths.generation(number), ignore_errors=True)


def _fsync_tree(folder: Path) -> None:
    for p in [*folder.rglob("*"), folder]:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def items_from_paths(sources: list[Path], fields: FieldMap | None = None) -> tuple[int, Iterator]:
    """Number of files, and a stream of articles/skips with file-done markers (ints)."""
    files = list(discover(sources))
    fields = fields or FieldMap()

    def stream():
        for done, (root, path) in enumerate(files, start=1):
            yield from read_file(path, root, fields)
            yield done

    return len(files), stream()


def feed(writer: IndexWriter, items: Iterable[Article | Skipped | int], files_total: int = 0,
         on_progress: ProgressFn | None = None) -> None:
    """Give a stream of articles to a writer. Integers in the stream mark files done."""
    files_done = 0
    for item in items:
        skipped = None
        if isinstance(item, int):
            files_done = item
        elif isinstance(item, Skipped):
            writer.report.skipped.append(item)
            skipped = item
        elif not writer.add(item):
            continue
        if on_progress:
            r = writer.report
            on_progress(Progress(files_done, files_total, r.articles, r.chunks, skipped))


def add_paths(paths: IndexPaths, sources: list[Path], embedder: Embedder, fields: FieldMap | None = None,
              params: ChunkingParams | None = None, on_progress: ProgressFn | None = None,
              sync: bool = False) -> AddReport:
    """Index every article under `sources`: new and changed ones are (re)indexed.

    With `sync`, articles read earlier from under `sources` whose files are gone are removed.
    """
    total, items = items_from_paths(sources, fields)
    with open_writer(paths, embedder, params) as writer:
        feed(writer, items, total, on_progress)
        if sync:
            roots = [os.path.abspath(s) for s in sources]
            for article_id, path in writer.store.article_paths().items():
                inside = path and any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)
                if inside and article_id not in writer.seen:
                    writer.remove(article_id)
    return writer.report


def add_articles(paths: IndexPaths, items: Iterable[Article | Skipped | int], embedder: Embedder,
                 params: ChunkingParams | None = None, on_progress: ProgressFn | None = None,
                 files_total: int = 0) -> AddReport:
    """Index a stream of articles (for callers that read articles themselves)."""
    with open_writer(paths, embedder, params) as writer:
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
