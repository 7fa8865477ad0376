"""The Milvus backend's write side and connection: one collection of passages (and one of whole
articles) that replaces the Whoosh and FAISS indexes of a local index.

The article store (SQLite) stays the source of truth on both backends; the collections are
derived from it, as the Whoosh and FAISS files are. Milvus has no generations and no
transactions, so the writer applies a run's changes to the collections after the store's
commit, from the store itself (rows added or removed at that generation), and records the
generation it synced in the store's meta table. A run killed between the two leaves the
collections behind the store: the next write, or `byline doctor --repair`, reconciles them
(ids compared, missing rows inserted, extra ones deleted). Chunk ids are never reused, so a
search that meets a passage the store no longer shows simply drops it.

`uri`: a path (`./archive.db`) is milvus-lite, the Milvus engine embedded in this process;
`http://host:19530` is a Milvus server or cluster, with a token from $BYLINE_MILVUS_TOKEN.
An index folder may have come from anywhere, so the address its manifest records is never
followed on its own: `trusted_uri` takes it only for a milvus-lite file inside the index
folder, and otherwise only when the user gives the same address (--milvus-uri or
$BYLINE_MILVUS_URI).
"""

from __future__ import annotations

import fcntl
import os
import shlex
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from index.manifest import IndexProblem

INSTALL = "the Milvus backend needs pymilvus and milvus-lite: pip install 'byline[milvus]'"
TOKEN_ENV = "BYLINE_MILVUS_TOKEN"
URI_ENV = "BYLINE_MILVUS_URI"
MAX_TEXT_BYTES = 65_535  # a Milvus VARCHAR's limit; longer article texts are cut for the article BM25
BATCH = 512
SYNCED_KEY = "milvus_generation"
# milvus-lite admits one process per database file, and a second opener that fails deletes the
# first one's lock file. This process's own locks on `<db>.byline-lock`, kept open while it runs,
# make a second process fail at once, before it touches the database.
_LITE_LOCKS: dict[str, int] = {}


def is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://", "tcp://", "grpc://"))


def normalise_uri(uri: str) -> str:
    """A server address as given; a milvus-lite file as an absolute path ending in .db."""
    if is_server(uri):
        return uri
    path = Path(uri).expanduser().absolute()
    if path.suffix != ".db":
        raise IndexProblem(f"--milvus-uri {uri!r}: a milvus-lite database is a file ending in .db "
                           "(e.g. ./archive.db), a server an address like http://localhost:19530")
    return str(path)


def trusted_uri(recorded: str, root: Path, given: str | None = None) -> str:
    """The address to open for an index whose manifest records `recorded`: the one the user
    gives (`given`, else $BYLINE_MILVUS_URI), which must be the recorded one; with none given,
    the recorded one only when it is a milvus-lite file inside the index folder `root`."""
    given = given or os.environ.get(URI_ENV) or None
    if given is not None:
        given = normalise_uri(given)
        if given.rstrip("/") != recorded.rstrip("/"):
            raise IndexProblem(f"{root} records its Milvus collections at {recorded}, but you gave {given} "
                               f"(--milvus-uri or ${URI_ENV}); nothing was opened. Give the recorded address "
                               "if you trust it, or build a new index with --index NEWDIR")
        return given
    if not is_server(recorded):
        inside = os.path.realpath(root).rstrip("/") + "/"
        if os.path.realpath(recorded).startswith(inside):
            return recorded
    what = "the Milvus server" if is_server(recorded) else "the milvus-lite database outside the index folder,"
    raise IndexProblem(f"{root} says its collections are in {what} {recorded}; an index folder does not choose "
                       f"where byline connects, so nothing was opened. If you trust that address, give it: "
                       f"export {URI_ENV}={shlex.quote(recorded)}")


def _pymilvus():
    import logging

    logging.getLogger("pymilvus").setLevel(logging.ERROR)  # its iterator warns about client-side timestamps
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # milvus-lite imports pkg_resources, deprecated
            import pymilvus
            import milvus_lite  # noqa: F401  (the embedded engine, for file URIs)
    except ImportError:
        raise IndexProblem(INSTALL) from None
    return pymilvus


LITE_START_SECONDS = 60
LITE_ATTEMPTS = 3


def connect(uri: str):
    """A MilvusClient for `uri` (see the module docstring)."""
    pymilvus = _pymilvus()
    if is_server(uri):
        token = os.environ.get(TOKEN_ENV, "")
        try:
            return pymilvus.MilvusClient(uri=uri, token=token, timeout=30)
        except Exception as exc:
            raise IndexProblem(f"cannot connect to the Milvus server {uri} ({_first_line(exc)}); check that it "
                               f"runs and that ${TOKEN_ENV} holds its token") from None
    _lock_lite(uri)
    # The engine's first start after a boot (its binary read from a cold disk) was seen to miss
    # pymilvus's connection ("Fail connecting to server on unix:..."): wait longer, and try again.
    for attempt in range(LITE_ATTEMPTS):
        try:
            return pymilvus.MilvusClient(uri=uri, timeout=LITE_START_SECONDS)
        except Exception as exc:
            if attempt + 1 == LITE_ATTEMPTS or "Fail connecting" not in str(exc):
                raise IndexProblem(f"cannot open the milvus-lite database {uri} ({_first_line(exc)})") from None
            time.sleep(1.0)


def _lock_lite(uri: str) -> None:
    if uri in _LITE_LOCKS:
        return
    Path(uri).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(uri + ".byline-lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise IndexProblem(f"the milvus-lite database {uri} is open in another process (milvus-lite admits "
                           "one process per file); try again when it ends, or run a Milvus server for "
                           "concurrent readers and writers") from None
    _LITE_LOCKS[uri] = fd


@dataclass(frozen=True)
class Collections:
    """The two collections of one index."""

    passages: str
    articles: str

    @classmethod
    def of(cls, prefix: str) -> Collections:
        return cls(f"{prefix}_passages", f"{prefix}_articles")


def _text_field(schema, DataType) -> None:
    schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT_BYTES, enable_analyzer=True,
                     analyzer_params={"type": "english"})
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("source", DataType.VARCHAR, max_length=512)  # lowercased, "" when unknown
    schema.add_field("date", DataType.VARCHAR, max_length=32)  # ISO date, "" when unknown


def ensure_collections(client, names: Collections, dimension: int) -> None:
    """Create the collections if missing (schema in docs/scale-out.md), and load them."""
    pymilvus = _pymilvus()
    DataType, Function, FunctionType = pymilvus.DataType, pymilvus.Function, pymilvus.FunctionType
    if not client.has_collection(names.passages):
        s = client.create_schema(auto_id=False)
        s.add_field("id", DataType.INT64, is_primary=True)
        s.add_field("article_id", DataType.VARCHAR, max_length=2048)
        _text_field(s, DataType)
        s.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
        s.add_function(Function(name="passage_bm25", function_type=FunctionType.BM25,
                                input_field_names=["text"], output_field_names=["sparse"]))
        ip = client.prepare_index_params()
        ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        ip.add_index("dense", index_type="AUTOINDEX", metric_type="IP")
        client.create_collection(names.passages, schema=s, index_params=ip)
    if not client.has_collection(names.articles):
        s = client.create_schema(auto_id=False)
        s.add_field("article_id", DataType.VARCHAR, max_length=2048, is_primary=True)
        _text_field(s, DataType)
        s.add_function(Function(name="article_bm25", function_type=FunctionType.BM25,
                                input_field_names=["text"], output_field_names=["sparse"]))
        ip = client.prepare_index_params()
        ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        client.create_collection(names.articles, schema=s, index_params=ip)
    for name in (names.passages, names.articles):
        client.load_collection(name)  # needed after reopening (milvus-lite 2.5.1)


def _cut(text: str, limit: int = MAX_TEXT_BYTES) -> str:
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", "ignore")


def passage_row(cid: int, article_id: str, title: str, text: str, vector: bytes, source, date, dimension: int) -> dict:
    import numpy as np

    return {"id": int(cid), "article_id": article_id, "text": _cut(f"{title}\n{text}"),
            "dense": np.frombuffer(vector, dtype=np.float32, count=dimension).tolist(),
            "source": (source or "").lower(), "date": date or ""}


def article_row(article_id: str, title: str, text: str, source, date) -> dict:
    return {"article_id": article_id, "text": _cut(f"{title}\n{text}"), "source": (source or "").lower(),
            "date": date or ""}


def quoted(values) -> str:
    """A Milvus list literal of strings."""
    import json

    return "[" + ",".join(json.dumps(str(v)) for v in values) + "]"


class MilvusWriter:
    """Applies committed generations of the article store to the collections."""

    def __init__(self, uri: str, prefix: str, dimension: int):
        self.client = connect(uri)
        self.names = Collections.of(prefix)
        self.dimension = dimension
        ensure_collections(self.client, self.names, dimension)

    def sync(self, store, generation: int, full: bool = False) -> str:
        """Make the collections show the store at `generation` (just committed): only that
        generation's changes when the previous sync finished, else a full reconcile."""
        synced = store.meta().get(SYNCED_KEY, "0")  # a new index: nothing to catch up on
        if full or synced != str(generation - 1):
            note = self.reconcile(store)
        else:
            note = self._apply(store, generation)
        store.set_meta({SYNCED_KEY: str(generation)})
        return note

    def _apply(self, store, generation: int) -> str:
        removed_chunks, removed_articles = store.removed_at(generation)
        added = 0
        for start in range(0, len(removed_chunks), 4096):
            self.client.delete(self.names.passages, ids=removed_chunks[start:start + 4096])
        for start in range(0, len(removed_articles), 1024):
            self.client.delete(self.names.articles, ids=removed_articles[start:start + 1024])
        for rows in store.iter_chunks_for_rebuild(added_at=generation):
            self._insert_passages(rows)
            added += len(rows)
        for rows in store.iter_articles_for_rebuild(added_at=generation):
            self.client.upsert(self.names.articles, [article_row(*r) for r in rows])
        return f"milvus: {added} passages added, {len(removed_chunks)} removed"

    def _insert_passages(self, rows) -> None:
        data = [passage_row(cid, aid, title, text, vec, source, date, self.dimension)
                for cid, aid, text, vec, title, source, date in rows]
        for start in range(0, len(data), BATCH):
            self.client.upsert(self.names.passages, data[start:start + BATCH])

    def ids(self) -> set[int]:
        return passage_ids(self.client, self.names)

    def reconcile(self, store) -> str:
        """Compare ids with the store; insert what is missing, delete what is extra."""
        have, want = self.ids(), store.chunk_ids()
        extra = sorted(have - want)
        for start in range(0, len(extra), 4096):
            self.client.delete(self.names.passages, ids=extra[start:start + 4096])
        missing = want - have
        for rows in store.iter_chunks_for_rebuild():
            rows = [r for r in rows if r[0] in missing]
            if rows:
                self._insert_passages(rows)
        have_articles = article_ids(self.client, self.names)
        want_articles = set(store.article_hashes())
        gone = sorted(have_articles - want_articles)
        for start in range(0, len(gone), 1024):
            self.client.delete(self.names.articles, ids=gone[start:start + 1024])
        for rows in store.iter_articles_for_rebuild():
            rows = [r for r in rows if r[0] not in have_articles]
            if rows:
                self.client.upsert(self.names.articles, [article_row(*r) for r in rows])
        return f"milvus: reconciled with the store ({len(missing)} passages inserted, {len(extra)} deleted)"

    def close(self) -> None:
        pass  # the client (and a milvus-lite engine) lives as long as the process; see _LITE_LOCKS


def _all(client, collection: str, field: str) -> list:
    it = client.query_iterator(collection, batch_size=4096, filter="", output_fields=[field])
    out = []
    try:
        while True:
            page = it.next()
            if not page:
                return out
            out += [row[field] for row in page]
    finally:
        it.close()


def passage_ids(client, names: Collections) -> set[int]:
    return {int(i) for i in _all(client, names.passages, "id")}


def article_ids(client, names: Collections) -> set[str]:
    return set(_all(client, names.articles, "article_id"))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
