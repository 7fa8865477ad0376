"""The index manifest: format version, model and chunking settings, counts.

Opening an index checks the manifest first, so an index built by another model or an older
format gives a clear error instead of silently wrong results.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from index.filemode import new_file_mode
from index.layout import IndexPaths

FORMAT_VERSION = 1


class IndexProblem(Exception):
    """An index that cannot be used as asked: missing, not an index, wrong model or format."""


@dataclass
class Manifest:
    """What every index records about how it was built."""

    model_name: str
    dimension: int
    chunking: dict
    format_version: int = FORMAT_VERSION
    created: str = field(default_factory=lambda: _now())
    updated: str = field(default_factory=lambda: _now())
    articles: int = 0
    chunks: int = 0
    vector_index: str = "flat"
    generation: int = 0  # the committed generation; written last, so it is the commit point
    # Every file of the committed generation folder: {relative path: [size, sha256 hex]}.
    files: dict = field(default_factory=dict)
    # Where the derived indexes live: "local" (Whoosh and FAISS in the generation folders) or
    # "milvus" (collections `<milvus_collection>_passages`/`_articles` at `milvus_uri`).
    backend: str = "local"
    milvus_uri: str | None = None
    milvus_collection: str | None = None
    # index/profile.py: whether the leads of this generation summarise their articles (None:
    # not measured, e.g. no sentence vectors, or an index written before it was recorded).
    lead_centrality: float | None = None
    # Where the model came from (index/models.py): a named model ("minilm", "mpnet") or a
    # folder's absolute path, and its weight file {file, size, mtime_ns, sha256}. None in an
    # index written before they were recorded.
    model_source: str | None = None
    model_weights: dict | None = None

    def check_model(self, model_name: str, dimension: int) -> None:
        """Refuse to mix vectors of two different models in one index."""
        # a folder named after the upstream model (as older indexes recorded it) is that model
        if model_name.rsplit("/", 1)[-1] != self.model_name.rsplit("/", 1)[-1] or dimension != self.dimension:
            raise IndexProblem(
                f"this index was built with model {self.model_name!r} ({self.dimension} dimensions), "
                f"not {model_name!r} ({dimension} dimensions); use the same --model, or build a new "
                f"index with --index DIR"
            )


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def load_manifest(paths: IndexPaths) -> Manifest:
    """Read and validate the manifest of an existing index."""
    if not paths.root.exists():
        raise IndexProblem(f"no index at {paths.root}; create one with: byline index add PATH")
    if not paths.manifest.is_file():
        if paths.store.is_file():
            raise IndexProblem(f"{paths.manifest} is missing, but {paths.store} is there; recreate the "
                               f"manifest from it with: byline doctor --repair --index {paths.root}")
        raise IndexProblem(f"{paths.root} is not a byline index (no manifest.json)")
    try:
        data = json.loads(paths.manifest.read_text("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise IndexProblem(f"unreadable manifest {paths.manifest}: {exc}") from None
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != FORMAT_VERSION:
        raise IndexProblem(
            f"index {paths.root} has format version {version!r}; this byline reads version "
            f"{FORMAT_VERSION}. Rebuild it with: byline index add --index NEWDIR PATH"
        )
    if "generation" not in data:
        raise IndexProblem(f"index {paths.root} was written by an earlier development build of byline; "
                           "rebuild it with: byline index add --index NEWDIR PATH")
    try:
        return Manifest(**{k: v for k, v in data.items() if k in Manifest.__dataclass_fields__})
    except TypeError as exc:
        raise IndexProblem(f"broken manifest {paths.manifest}: {exc}") from None


def save_manifest(paths: IndexPaths, manifest: Manifest) -> None:
    """Write the manifest atomically (temporary file, fsync, rename)."""
    manifest.updated = _now()
    write_atomic(paths.manifest, json.dumps(asdict(manifest), indent=2) + "\n")


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step (temporary file, fsync, rename), with the
    permissions a new file gets under the user's umask."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, new_file_mode())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # make the rename itself durable
        finally:
            os.close(dir_fd)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
