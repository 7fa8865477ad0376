"""The FAISS side of an index: unit vectors searched by inner product, keyed by chunk id.

Small indexes use exact search; past `HNSW_THRESHOLD` vectors the index is rebuilt as HNSW.
HNSW cannot delete, so removed chunks stay in it as stale vectors (searches drop them, since the
article store no longer knows them) until they pass `MAX_STALE` of the index and it is rebuilt.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np

# Measured on 2 cores (docs/performance.md): exact search of one query costs ~1.5 ms at 10k
# vectors, ~9 ms at 50k and ~18 ms at 100k; HNSW stays near 1 ms with recall@100 >= 0.995.
HNSW_THRESHOLD = 50_000
MAX_STALE = 0.2
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


def _faiss():
    import faiss

    return faiss


def kind_for(total: int) -> str:
    """The index type used for `total` vectors."""
    return "hnsw" if total >= HNSW_THRESHOLD else "flat"


def new_index(dimension: int, expected: int = 0):
    faiss = _faiss()
    if kind_for(expected) == "hnsw":
        inner = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    else:
        inner = faiss.IndexFlatIP(dimension)
    return faiss.IndexIDMap2(inner)


def kind(ix) -> str:
    faiss = _faiss()
    inner = faiss.downcast_index(ix.index)
    return "hnsw" if isinstance(inner, faiss.IndexHNSW) else "flat"


def load(path: Path, dimension: int, missing_ok: bool = False, mapped: bool = False):
    """Read a stored index. `mapped` maps the vectors from the file instead of copying them in,
    read-only: a search process opens 100,000 articles' vectors in 0.05 s instead of 1.7 s, and
    the page cache serves them to every process. Files are never rewritten in place (`save`
    replaces them), so a mapping stays valid."""
    faiss = _faiss()
    if not path.exists():
        if missing_ok:
            return new_index(dimension)
        raise OSError(f"vector index {path} is missing")
    flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if mapped else 0
    try:
        ix = faiss.read_index(str(path), flags)
    except RuntimeError as exc:
        raise OSError(f"vector index {path} is damaged: {str(exc).splitlines()[0]}") from None
    if ix.d != dimension:
        raise OSError(f"vector index {path} has {ix.d} dimensions, the manifest says {dimension}")
    return ix


def ids(ix) -> set[int]:
    """The chunk ids held by the index."""
    return set(_faiss().vector_to_array(ix.id_map).tolist())


def save(ix, path: Path) -> None:
    """Write atomically: a temporary file, fsync, then rename over the old one."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        _faiss().write_index(ix, str(tmp))
    except RuntimeError as exc:  # FAISS reports a failed write (a full disk) as a RuntimeError
        full = "No space left" in str(exc)
        raise OSError(errno.ENOSPC if full else errno.EIO,
                      "No space left on device" if full else str(exc).splitlines()[0], str(tmp)) from None
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def add(ix, ids: list[int], vectors: np.ndarray) -> None:
    if len(ids):
        ix.add_with_ids(np.ascontiguousarray(vectors, dtype="float32"), np.asarray(ids, dtype="int64"))


def remove(ix, ids: list[int]) -> None:
    """Remove ids from an exact index; HNSW cannot, so there they stay as stale vectors."""
    if ids and kind(ix) != "hnsw":
        ix.remove_ids(np.asarray(ids, dtype="int64"))


def from_bytes(blobs: list[bytes], dimension: int) -> np.ndarray:
    """Stack stored vector blobs into a float32 matrix."""
    return np.frombuffer(b"".join(blobs), dtype="float32").reshape(len(blobs), dimension)


def rebuild(batches, dimension: int, total: int):
    """Build a fresh index from (ids, matrix) batches, choosing flat or HNSW by `total`."""
    ix = new_index(dimension, total)
    for ids, matrix in batches:
        add(ix, ids, matrix)
    return ix


def needs_rebuild(ix, live: int) -> bool:
    """True when the index has the wrong type for `live` vectors or too many stale ones."""
    return kind(ix) != kind_for(live) or ix.ntotal > live * (1 + MAX_STALE)


def vectors_of(ix, ids: list[int]) -> np.ndarray:
    """The stored vectors of these chunk ids, one row each (all must be in the index)."""
    if not ids:
        return np.zeros((0, ix.d), dtype="float32")
    return np.stack([ix.reconstruct(int(i)) for i in ids]).astype("float32")


def search(ix, queries: np.ndarray, k: int, allowed_ids: list[int] | None = None):
    """Top-k (scores, ids) per query row; `allowed_ids` restricts the search (filters)."""
    faiss = _faiss()
    # One thread: OpenMP's second thread costs more than it saves for a handful of queries,
    # badly so when the other core is busy (36 ms instead of 1.5 ms at 10k vectors).
    faiss.omp_set_num_threads(1 if len(queries) < 16 else os.cpu_count() or 1)
    if ix.ntotal == 0:
        return np.zeros((len(queries), 0), "float32"), np.zeros((len(queries), 0), "int64")
    k = min(k, ix.ntotal)
    params = None
    if allowed_ids is not None:
        selector = faiss.IDSelectorBatch(np.asarray(allowed_ids, dtype="int64"))
        if kind(ix) == "hnsw":
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(HNSW_EF_SEARCH, k))
        else:
            params = faiss.SearchParameters(sel=selector)
    elif kind(ix) == "hnsw":
        params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, k))
    scores, ids = ix.search(np.ascontiguousarray(queries, dtype="float32"), k, params=params)
    return scores, ids
