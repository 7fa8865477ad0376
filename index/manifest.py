"""The index manifest: format version, model and chunking settings, counts.

Opening an index checks the manifest first, so an index built by another model or an older
format gives a clear error instead of silently wrong results.
"""

from __future__ import annotations

import json
import math
import os
import re
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
        if paths.first_run_marker.exists():
            raise IndexProblem(unfinished_first_run(paths))
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
    wrong = field_problems(data)
    if wrong:
        raise IndexProblem(f"broken manifest {paths.manifest}: {'; '.join(wrong)}. Nothing was changed; "
                           f"restore the index from a backup, or rebuild it with: "
                           f"byline index add --index NEWDIR PATH")
    try:
        return Manifest(**{k: v for k, v in data.items() if k in Manifest.__dataclass_fields__})
    except TypeError as exc:
        raise IndexProblem(f"broken manifest {paths.manifest}: {exc}") from None


# --- what each field may hold ----------------------------------------------------------------
# A manifest comes with an index folder, which may have been copied from anywhere, so every field
# is checked before any is used (a generation names a folder, files name files to read, a
# dimension sizes arrays). One line a field: (test, what it must be). Fields this byline does
# not know (a newer one's) are ignored.

def _whole(low: int, high: int | None = None):
    return lambda v: type(v) is int and v >= low and (high is None or v <= high)


def _text(v) -> bool:
    return isinstance(v, str) and bool(v.strip()) and len(v) <= 4096


def _optional(test):
    return lambda v: v is None or test(v)


def _one_of(*choices):
    return lambda v: isinstance(v, str) and v in choices


def _number(v) -> bool:
    return type(v) in (int, float) and math.isfinite(v)


def _chunking(v) -> bool:
    # The ranges `byline index add` accepts (--max-tokens, --overlap).
    rules = {"max_tokens": _whole(32, 512), "overlap_sentences": _whole(0, 5)}
    return isinstance(v, dict) and set(v) <= set(rules) and all(rules[k](x) for k, x in v.items())


_SHA256 = re.compile(r"[0-9a-f]{64}")
# What index.milvus_backend.normalise_uri records: a server's address, or a milvus-lite file.
_MILVUS_URI = re.compile(r"(https?|tcp|grpc)://[A-Za-z0-9.\-\[\]:]{1,300}/?|/[^\x00-\x1f\x7f]{1,4000}\.db")


def _files(v) -> bool:
    """{path inside the generation folder: [size, sha256 hex]}; no absolute path, no `..`."""
    return isinstance(v, dict) and len(v) <= 1_000_000 and all(
        isinstance(rel, str) and rel and not rel.startswith("/") and ".." not in rel.split("/")
        and "\0" not in rel and isinstance(rec, list) and len(rec) == 2 and _whole(0)(rec[0])
        and isinstance(rec[1], str) and _SHA256.fullmatch(rec[1]) is not None
        for rel, rec in v.items())


def _weights(v) -> bool:
    """What index/models.py records of a model's weight file."""
    return (isinstance(v, dict) and set(v) <= {"file", "size", "mtime_ns", "sha256"} and _text(v.get("file"))
            and _whole(0)(v.get("size")) and _optional(_whole(0))(v.get("mtime_ns"))
            and _optional(lambda h: isinstance(h, str) and _SHA256.fullmatch(h) is not None)(v.get("sha256")))


FIELD_RULES: dict[str, tuple] = {
    "model_name": (_text, "a model name (a non-empty string)"),
    "dimension": (_whole(1, 65_536), "a whole number from 1 to 65536"),
    "chunking": (_chunking, 'an object {"max_tokens": 32 to 512, "overlap_sentences": 0 to 5}'),
    "format_version": (_whole(1), "a whole number"),
    "created": (_text, "a date and time (a string)"),
    "updated": (_text, "a date and time (a string)"),
    "articles": (_whole(0), "a whole number, 0 or more"),
    "chunks": (_whole(0), "a whole number, 0 or more"),
    "vector_index": (_one_of("flat", "hnsw", "milvus"), '"flat", "hnsw" or "milvus"'),
    "generation": (_whole(0), "a whole number, 0 or more"),
    "files": (_files, "an object {relative path: [size, sha256 hex]}"),
    "backend": (_one_of("local", "milvus"), '"local" or "milvus"'),
    "milvus_uri": (_optional(lambda v: isinstance(v, str) and _MILVUS_URI.fullmatch(v)),
                   "a server address (http://host:port) or an absolute .db path, or null"),
    "milvus_collection": (_optional(lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,200}", v)),
                          "a collection name (letters, digits, _), or null"),
    "lead_centrality": (_optional(_number), "a number, or null"),
    "model_source": (_optional(_text), "a model name or folder (a non-empty string), or null"),
    "model_weights": (_optional(_weights), 'an object {"file", "size", "mtime_ns", "sha256"}, or null'),
}


def field_problems(data: dict) -> list[str]:
    """One line for each field of a manifest's JSON object that holds the wrong kind of value."""
    problems = []
    for name, (test, expected) in FIELD_RULES.items():
        if name in data and not test(data[name]):
            problems.append(f"{name!r} is {_shown(data[name])}, not {expected}")
    if data.get("backend") == "milvus" and not (data.get("milvus_uri") and data.get("milvus_collection")):
        problems.append('a "milvus" backend needs "milvus_uri" and "milvus_collection"')
    return problems


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 60 else text[:57] + "..."


def unfinished_first_run(paths: IndexPaths, running: bool = False) -> str:
    """What `status`, `search` and `doctor` all say of an index whose first run was killed."""
    return (f"{paths.root} is a new index whose first run did not finish"
            + (" (it is running now)" if running else "")
            + f"; nothing was committed: run `byline index add --index {paths.root} PATH` again")


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
