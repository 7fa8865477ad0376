"""Check that an index is whole and consistent, and rebuild what can be rebuilt.

The article store is the source of truth; the Whoosh and FAISS indexes of the committed
generation must hold exactly its chunk ids. Repair rebuilds both from the store as a new
generation, so a repair is itself atomic.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from index import lexical, vectors
from index.builder import open_writer
from index.embedder import Embedder
from index.layout import IndexPaths
from index.manifest import IndexProblem, load_manifest
from index.store import ArticleStore


@dataclass
class Checkup:
    """What `doctor` found: problems (the index needs repair) and notes (for information)."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    repairable: bool = True

    @property
    def healthy(self) -> bool:
        return not self.problems


def check(paths: IndexPaths) -> Checkup:
    """Inspect the manifest, the article store and both derived indexes."""
    result = Checkup()
    try:
        manifest = load_manifest(paths)
    except IndexProblem as exc:
        result.problems.append(str(exc))
        result.repairable = False
        return result
    g = manifest.generation
    try:
        store = ArticleStore(paths.store, g, readonly=True)
        ok = store.db.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            raise sqlite3.DatabaseError(ok)
        store_ids = store.chunk_ids()
        counts = store.counts()
        missing_vectors = len(store.chunks_without_vectors())
        unsigned = _unsigned_articles(store, counts[0])
        store.close()
    except sqlite3.DatabaseError as exc:
        result.problems.append(f"article store {paths.store} is damaged ({exc}); rebuild from your sources "
                               "with: byline index add --index NEWDIR PATH")
        result.repairable = False
        return result
    if missing_vectors:
        result.problems.append(f"{missing_vectors} chunks have no stored vector")
    if unsigned:
        result.problems.append(f"{unsigned} articles have no near-duplicate signature (copies of them are "
                               "not collapsed in results)")
    if counts != (manifest.articles, manifest.chunks):
        result.problems.append(f"manifest counts {manifest.articles} articles / {manifest.chunks} chunks, "
                               f"the store holds {counts[0]} / {counts[1]}")
    result.notes.append(f"generation {g}: {counts[0]} articles, {counts[1]} chunks")
    _compare(result, "lexical index", store_ids, lambda: _lexical_ids(paths, g))
    _compare(result, "vector index", store_ids, lambda: _vector_ids(paths, g, manifest.dimension),
             stale_ok=manifest.vector_index == "hnsw")
    stray = [n for n in paths.generations() if n > g]
    if stray:
        result.notes.append(f"unfinished generation folders {stray} (an interrupted run); the next write removes them")
    return result


def _unsigned_articles(store: ArticleStore, articles: int) -> int:
    """Articles without a current near-duplicate signature (all of them in an older index)."""
    from index import dedup

    has_table = store.db.execute("SELECT 1 FROM sqlite_master WHERE name='signatures'").fetchone()
    if not has_table or store.dedup_scheme() not in (None, dedup.SCHEME):
        return articles
    return sum(1 for _ in store.articles_without_signature())


def _compare(result: Checkup, name: str, expected: set[int], read_ids, stale_ok: bool = False) -> None:
    try:
        found = read_ids()
    except Exception as exc:  # any failure to open means the part is damaged
        result.problems.append(f"{name} cannot be read: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
        return
    extra, missing = found - expected, expected - found
    if stale_ok and extra and not missing and len(extra) <= vectors.MAX_STALE * max(1, len(expected)):
        result.notes.append(f"{name}: {len(extra)} stale vectors of removed passages (HNSW), dropped at search")
        extra = set()
    if extra or missing:
        result.problems.append(f"{name} disagrees with the article store: {len(missing)} chunks missing, "
                               f"{len(extra)} unknown")


def _lexical_ids(paths: IndexPaths, g: int) -> set[int]:
    ix = lexical.open_existing(paths.lexical(g))
    with ix.searcher() as searcher:
        return {fields["chunk_id"] for fields in searcher.reader().all_stored_fields()}


def _vector_ids(paths: IndexPaths, g: int, dimension: int) -> set[int]:
    ix = vectors.load(paths.vectors(g), dimension)
    ids = vectors.ids(ix)
    if len(ids) != ix.ntotal:
        raise OSError(f"{ix.ntotal} vectors but {len(ids)} distinct ids")
    return ids


def repair(paths: IndexPaths, embedder: Embedder) -> None:
    """Rebuild the Whoosh and FAISS indexes from the article store, as a new generation."""
    with open_writer(paths, embedder, fresh=True) as writer:
        writer.rebuild_derived()
