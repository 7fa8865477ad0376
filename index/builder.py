"""Add articles to an index: read, chunk, embed, and write the article store, Whoosh and FAISS.

Work streams in batches, so memory stays bounded by the batch size and not the corpus. The
article store is committed last: until then, new chunks in Whoosh or FAISS are invisible to
searches (their ids are not in the store), so an interrupted run leaves the index as it was.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from index import lexical, vectors
from index.chunker import ChunkingParams, chunk_article
from index.documents import Article, Chunk, Skipped
from index.embedder import Embedder, ModelInfo
from index.layout import IndexPaths
from index.manifest import IndexProblem, Manifest, load_manifest, save_manifest
from index.readers import FieldMap, discover, read_file
from index.store import ArticleStore

BATCH_CHUNKS = 256


@dataclass
class AddReport:
    """What one `index add` run did."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
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


def open_for_writing(paths: IndexPaths, model: ModelInfo, params: ChunkingParams) -> Manifest:
    """The manifest of an existing index (checked against the model), or a new one."""
    if paths.manifest.exists():
        manifest = load_manifest(paths)
        manifest.check_model(model.name, model.dimension)
        return manifest
    if paths.root.exists() and any(p for p in paths.root.iterdir() if p.name != "write.lock"):
        raise IndexProblem(f"{paths.root} exists and is not a byline index; choose an empty or new folder")
    return Manifest(model_name=model.name, dimension=model.dimension, chunking=params.as_dict())


def add_paths(
    paths: IndexPaths,
    sources: list[Path],
    embedder: Embedder,
    fields: FieldMap | None = None,
    params: ChunkingParams | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> AddReport:
    """Index every article under `sources`; new and changed articles are (re)indexed."""
    files = list(discover(sources))
    fields = fields or FieldMap()

    def articles() -> Iterable[Article | Skipped | int]:
        for done, (root, path) in enumerate(files, start=1):
            yield from read_file(path, root, fields)
            yield done

    return add_articles(paths, articles(), embedder, params, on_progress, files_total=len(files))


def add_articles(
    paths: IndexPaths,
    items: Iterable[Article | Skipped | int],
    embedder: Embedder,
    params: ChunkingParams | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    files_total: int = 0,
) -> AddReport:
    """Index a stream of articles. Integers in the stream mark files done, for progress."""
    started = time.perf_counter()
    with write_lock(paths):
        manifest = open_for_writing(paths, embedder.info, params or ChunkingParams())
        params = ChunkingParams(**manifest.chunking)
        run = _Run(paths, manifest, embedder, params)
        try:
            files_done = 0
            for item in items:
                if isinstance(item, int):
                    files_done = item
                elif isinstance(item, Skipped):
                    run.report.skipped.append(item)
                    if on_progress:
                        on_progress(Progress(files_done, files_total, run.report.articles, run.report.chunks, item))
                    continue
                else:
                    run.add(item)
                if on_progress and (isinstance(item, int) or run.flushed):
                    run.flushed = False
                    on_progress(Progress(files_done, files_total, run.report.articles, run.report.chunks))
            run.finish()
        except BaseException:
            run.abort()
            raise
    run.report.seconds = time.perf_counter() - started
    return run.report


class _Run:
    """The state of one indexing run: open writers and the batch waiting to be embedded."""

    def __init__(self, paths: IndexPaths, manifest: Manifest, embedder: Embedder, params: ChunkingParams):
        self.paths, self.manifest, self.embedder, self.params = paths, manifest, embedder, params
        self.report = AddReport()
        self.store = ArticleStore(paths.store)
        self.known = self.store.article_hashes()
        self.seen: dict[str, str] = {}
        self.lexical_index = lexical.open_or_create(paths.lexical)
        self.writer = None
        self.vectors = vectors.load(paths.vectors, manifest.dimension)
        self.needs_rebuild = False
        self.pending: list[tuple[Article, str, list[Chunk]]] = []
        self.pending_chunks = 0
        self.flushed = False
        self.store.begin()

    def add(self, article: Article) -> None:
        if article.id in self.seen:
            self.report.skipped.append(Skipped(
                article.path or article.id, f"duplicate article id {article.id!r} (first read from {self.seen[article.id]})"))
            return
        self.seen[article.id] = article.path or article.id
        digest = article.content_hash()
        old = self.known.get(article.id)
        if old == digest:
            self.report.unchanged += 1
            return
        if old is not None:
            self._delete(article.id)
            self.report.changed += 1
        else:
            self.report.new += 1
        chunks = chunk_article(article, self.params, self.embedder.count_tokens)
        self.pending.append((article, digest, chunks))
        self.pending_chunks += len(chunks)
        if self.pending_chunks >= BATCH_CHUNKS:
            self._flush()

    def _delete(self, article_id: str) -> None:
        ids = self.store.delete_article(article_id)
        self._writer().delete_by_term("article_id", article_id)
        if not vectors.remove(self.vectors, ids):
            self.needs_rebuild = True

    def _writer(self):
        if self.writer is None:
            self.writer = self.lexical_index.writer(limitmb=256)
        return self.writer

    def _flush(self) -> None:
        if not self.pending:
            return
        chunks = [c for _, _, cs in self.pending for c in cs]
        first = self.store.reserve_chunk_ids(len(chunks))
        matrix = self.embedder.encode([c.embedding_text() for c in chunks])
        writer = self._writer()
        for offset, chunk in enumerate(chunks):
            chunk.id = first + offset
            chunk.vector = matrix[offset]
        for article, digest, article_chunks in self.pending:
            for chunk in article_chunks:
                writer.add_document(**lexical.chunk_document(
                    chunk.id, article.id, article.title, chunk.text, article.source, article.date))
            self.store.put_article(article, article_chunks, digest)
        vectors.add(self.vectors, [c.id for c in chunks], matrix)
        self.report.chunks += len(chunks)
        self.pending, self.pending_chunks, self.flushed = [], 0, True

    def finish(self) -> None:
        self._flush()
        if self.writer is not None:
            self.writer.commit()
            self.writer = None
        articles, chunk_count = self.store.counts()
        if self.needs_rebuild or vectors.kind(self.vectors) != vectors.kind_for(chunk_count):
            self.vectors = vectors.rebuild(self.store.iter_vectors(), self.manifest.dimension, chunk_count)
        vectors.save(self.vectors, self.paths.vectors)
        self.store.commit()
        self.manifest.articles, self.manifest.chunks = articles, chunk_count
        self.manifest.vector_index = vectors.kind(self.vectors)
        save_manifest(self.paths, self.manifest)
        self.store.close()

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.cancel()
        self.store.rollback()
        self.store.close()
