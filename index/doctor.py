"""Check that an index is whole and consistent, and rebuild what can be rebuilt.

The article store is the source of truth; the Whoosh and FAISS indexes of the committed
generation must hold exactly its chunk ids, and every file of that generation must still have
the size and checksum recorded at commit (in the manifest). Store rows carry their own
checksums. Repair rebuilds both derived indexes from the store as a new generation, so a repair
is itself atomic; a lost manifest is first recreated from the store.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
from dataclasses import dataclass, field

from index import checksums, lexical, vectors
from index.builder import open_writer, write_lock
from index.chunker import ChunkingParams
from index.embedder import Embedder, ModelInfo
from index.layout import IndexPaths
from index.manifest import IndexProblem, Manifest, load_manifest, save_manifest, unfinished_first_run
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
    if not paths.manifest.exists() and paths.first_run_marker.exists():
        result.problems.append(unfinished_first_run(paths, running=writer_active(paths)))
        result.repairable = False
        return result
    if paths.root.is_dir() and not paths.manifest.exists() and paths.store.is_file():
        result.problems.append(f"{paths.manifest} is missing (deleted, or lost in a copy) but the article "
                               f"store {paths.store} is there; `byline doctor --repair` recreates the "
                               "manifest from it and rebuilds the indexes")
        return result
    try:
        manifest = load_manifest(paths)
    except IndexProblem as exc:
        result.problems.append(str(exc))
        result.repairable = False
        return result
    g = manifest.generation
    try:
        store = ArticleStore(paths.store, g, readonly=True)
        try:
            ok = store.db.execute("PRAGMA integrity_check").fetchone()[0]
            if ok != "ok":
                raise sqlite3.DatabaseError(ok)
            store_ids = store.chunk_ids()
            counts = store.counts()
            missing_vectors = len(store.chunks_without_vectors())
            rows, bad_rows, unchecked = store.verify_rows()
            unsigned = _unsigned_articles(store, counts[0])
            article_ids = set(store.article_hashes()) if manifest.backend == "milvus" else set()
            synced = store.meta().get("milvus_generation")
        finally:
            store.close()
    except sqlite3.DatabaseError as exc:
        result.problems.append(f"article store {paths.store} is damaged ({exc}); rebuild from your sources "
                               "with: byline index add --index NEWDIR PATH")
        result.repairable = False
        return result
    if bad_rows:
        shown = ", ".join(bad_rows[:5]) + (f" and {len(bad_rows) - 5} more" if len(bad_rows) > 5 else "")
        result.problems.append(
            f"article store {paths.store}: {len(bad_rows)} articles differ from what was written "
            f"(checksums of their rows): {shown}; remove them (byline index rm ID) and add them again "
            "from their files, or restore the index from a backup")
        result.repairable = False
    if unchecked:
        result.notes.append(f"{unchecked} passages were written before passage checksums existed (not verified; "
                            "`byline doctor --repair --force` records them)")
    if missing_vectors:
        result.problems.append(f"{missing_vectors} chunks have no stored vector")
    if unsigned:
        result.problems.append(f"{unsigned} articles have no near-duplicate signature (copies of them are "
                               "not collapsed in results)")
    if counts != (manifest.articles, manifest.chunks):
        result.problems.append(f"manifest counts {manifest.articles} articles / {manifest.chunks} chunks, "
                               f"the store holds {counts[0]} / {counts[1]}")
    result.notes.append(f"generation {g}: {counts[0]} articles, {counts[1]} chunks, {rows} store rows verified")
    if manifest.files:
        damaged = checksums.verify(paths.generation(g), manifest.files)
        result.problems += [f"generation {g}: {line}" for line in damaged]
        if not damaged:
            result.notes.append(f"generation {g}: {len(manifest.files)} files match their checksums")
    elif g:
        result.notes.append(f"generation {g} was written before file checksums existed (not verified)")
    if manifest.backend == "milvus":
        _check_milvus(result, paths, manifest, g, store_ids, article_ids, synced)
    else:
        _compare(result, "lexical index", store_ids, lambda: _lexical_ids(paths, g))
        _compare(result, "vector index", store_ids, lambda: _vector_ids(paths, g, manifest.dimension),
                 stale_ok=manifest.vector_index == "hnsw")
    stray = [n for n in paths.generations() if n > g]
    if writer_active(paths):
        result.notes.append("a byline process is writing to this index now"
                            + (f" (generation {stray[-1]})" if stray else ""))
    elif stray:
        result.notes.append(f"unfinished generation folders {stray} (an interrupted run); the next write removes them")
    return result


def writer_active(paths: IndexPaths) -> bool:
    """Whether another process holds the write lock (checked without waiting or creating it)."""
    try:
        fh = open(paths.write_lock, "rb")
    except OSError:
        return False
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


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


def _check_milvus(result: Checkup, paths: IndexPaths, manifest, g: int, store_ids: set[int],
                  article_ids: set[str], synced: str | None) -> None:
    """The Milvus collections against the store: the same passage and article ids."""
    from index import milvus_backend

    try:
        uri = milvus_backend.trusted_uri(manifest.milvus_uri, paths.root)
    except IndexProblem as exc:
        result.problems.append(str(exc))
        result.repairable = False
        return
    names = milvus_backend.Collections.of(manifest.milvus_collection)
    client = []

    def ids(read):
        if not client:
            client.append(milvus_backend.connect(uri))
            milvus_backend.ensure_collections(client[0], names, manifest.dimension)
        return read(client[0], names)

    where = f"Milvus collection {names.passages} at {manifest.milvus_uri}"
    _compare(result, where, store_ids, lambda: ids(milvus_backend.passage_ids))
    _compare(result, f"Milvus collection {names.articles}", article_ids,  # type: ignore[arg-type]
             lambda: ids(milvus_backend.article_ids))
    if synced != str(g):
        result.notes.append(f"the Milvus collections were last synced at generation {synced or 'none'}, the store "
                            f"is at {g} (a run stopped after its commit); `byline doctor --repair` reconciles them")
    else:
        result.notes.append(f"{where}: {len(store_ids)} passages, as in the store")


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


def recreate_manifest(paths: IndexPaths, model: ModelInfo) -> list[str]:
    """Write a manifest for an intact article store that lost its own; returns notes.

    What the manifest says of the build (model, dimension, chunking) was recorded in the store
    when it was written; the committed generation is the newest one its rows were changed in
    (rows of a run are committed to the store only once its generation folder is complete)."""
    notes = []
    with write_lock(paths):
        if paths.manifest.exists():
            return notes
        store = ArticleStore(paths.store, 0, readonly=True)
        try:
            if store.db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise IndexProblem(f"article store {paths.store} is damaged; the manifest cannot be recreated")
            meta = store.meta()
            store.generation = store.newest_generation()
            counts = store.counts()
            blob = store.db.execute("SELECT vector FROM chunks WHERE vector IS NOT NULL LIMIT 1").fetchone()
        finally:
            store.close()
        if "model_name" not in meta:
            notes.append(f"the store does not record its model; assumed {model.name}")
        if "chunking" not in meta:
            notes.append("the store does not record its chunking settings; assumed the defaults")
        dimension = int(meta["dimension"]) if "dimension" in meta else len(blob[0]) // 4 if blob else model.dimension
        manifest = Manifest(model_name=meta.get("model_name", model.name), dimension=dimension,
                            chunking=json.loads(meta["chunking"]) if "chunking" in meta else ChunkingParams().as_dict(),
                            articles=counts[0], chunks=counts[1], generation=store.generation)
        if "created" in meta:
            manifest.created = meta["created"]
        if meta.get("model_source"):  # where the model came from (index/models.py)
            manifest.model_source = meta["model_source"]
            manifest.model_weights = json.loads(meta.get("model_weights") or "null")
        save_manifest(paths, manifest)
    notes.append(f"recreated {paths.manifest} from the article store (generation {manifest.generation}, "
                 f"{counts[0]} articles)")
    return notes


def repair(paths: IndexPaths, embedder: Embedder) -> list[str]:
    """Rebuild the Whoosh and FAISS indexes from the article store, as a new generation
    (recreating a lost manifest first); returns notes on what was done."""
    notes = []
    if not paths.manifest.exists() and paths.store.is_file():
        notes = recreate_manifest(paths, embedder.info)
        manifest = load_manifest(paths)
        if manifest.model_source and manifest.model_source != embedder.info.source:
            from index.models import model_for_index

            embedder = Embedder(model_for_index(manifest))  # the model the store recorded
    with open_writer(paths, embedder, fresh=True) as writer:
        writer.rebuild_derived()
    return notes
