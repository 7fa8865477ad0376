"""The article store: article metadata and text, chunks and their vectors, in SQLite.

It is the source of truth of an index: the Whoosh and FAISS indexes can be rebuilt from it.
A chunk's integer id is the same in all three places and is never reused.

Rows are versioned by generation: a row is visible at generation g when
`gen_added <= g < gen_removed`. A writer prepares generation g+1 while readers keep seeing g;
the manifest names the committed generation, so a run killed half-way changes nothing visible.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from index.documents import Article, Chunk

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT NOT NULL, title TEXT NOT NULL, text TEXT NOT NULL, date TEXT, source TEXT,
    url TEXT, author TEXT, path TEXT, hash TEXT NOT NULL,
    gen_added INTEGER NOT NULL, gen_removed INTEGER
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, article_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
    text TEXT NOT NULL, vector BLOB, gen_added INTEGER NOT NULL, gen_removed INTEGER
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS sentences (
    article_id TEXT NOT NULL, offsets BLOB NOT NULL, scales BLOB NOT NULL, vectors BLOB NOT NULL,
    gen_added INTEGER NOT NULL, gen_removed INTEGER
);
CREATE INDEX IF NOT EXISTS sentences_article ON sentences(article_id);
CREATE INDEX IF NOT EXISTS articles_id ON articles(id);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS articles_date ON articles(date);
CREATE TABLE IF NOT EXISTS signatures (
    id INTEGER PRIMARY KEY, article_id TEXT NOT NULL, signature BLOB NOT NULL,
    gen_added INTEGER NOT NULL, gen_removed INTEGER
);
CREATE INDEX IF NOT EXISTS signatures_article ON signatures(article_id);
-- LSH buckets of a signature row; visible when it is (a compact table: ~40 rows an article).
CREATE TABLE IF NOT EXISTS lsh_buckets (
    bucket INTEGER NOT NULL, signature_id INTEGER NOT NULL, PRIMARY KEY (bucket, signature_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS lsh_buckets_signature ON lsh_buckets(signature_id);
"""
PAGE_SIZE = 16384
READ_CACHE_KIB = 65536  # a reader's page cache, filled only as pages are read
# What `meta` records of how the index was built, so a lost manifest can be recreated.
BUILD_KEYS = ("model_name", "dimension", "chunking", "created", "model_source", "model_weights")
_VISIBLE = "({t}gen_added <= {g} AND ({t}gen_removed IS NULL OR {t}gen_removed > {g}))"


@dataclass
class StoredArticle:
    """Article metadata as stored, without the full text."""

    id: str
    title: str
    date: str | None
    source: str | None
    url: str | None
    path: str | None


@dataclass
class StoredChunk:
    id: int
    article_id: str
    ordinal: int
    text: str


class ArticleStore:
    """One SQLite database per index, seen at one generation."""

    def __init__(self, path: Path, generation: int, readonly: bool = False):
        self.path = path
        self.generation = generation
        self.readonly = readonly
        if readonly:
            self.db = _open_readonly(path)
            # SQLite's default page cache (2 MB) holds little of a large store's bucket and
            # signature tables, which every search's story collapse reads (docs/performance.md).
            self.db.execute(f"PRAGMA cache_size=-{READ_CACHE_KIB}")
        else:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            # A passage row (text and a 1.5 KB vector) is ~2.3 KB: 4 KB pages hold one and waste
            # the rest, 16 KB pages hold seven (a new store only; existing ones keep their size).
            self.db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
            if "digest" not in {r[1] for r in self.db.execute("PRAGMA table_info(chunks)")}:
                self.db.execute("ALTER TABLE chunks ADD COLUMN digest BLOB")  # stores made before digests

    def _visible(self, table: str = "") -> str:
        return _VISIBLE.format(t=f"{table}." if table else "", g=int(self.generation))

    def close(self) -> None:
        if not self.readonly:
            # Leave the store in rollback-journal mode at rest: a reader of a WAL store creates
            # -wal and -shm files beside it, and cannot open it at all in a read-only folder.
            # Only possible when no reader is connected; the next writer turns WAL on again.
            try:
                self.db.execute("PRAGMA busy_timeout=0")  # never wait for a reader
                self.db.execute("PRAGMA journal_mode=DELETE")
            except sqlite3.Error:
                pass
        self.db.close()

    # --- how the index was built ---------------------------------------------------------

    def set_meta(self, values: dict[str, str]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(values.items()))

    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta"))

    def newest_generation(self) -> int:
        """The highest generation any row was added or removed in."""
        return max(self.db.execute(
            f"SELECT COALESCE(MAX(gen_added), 0), COALESCE(MAX(gen_removed), 0) FROM {t}").fetchone()[i]
            for t in ("articles", "chunks") for i in (0, 1))

    # --- writing ---------------------------------------------------------------------------

    def begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def recover(self, committed: int, keep_from: int) -> None:
        """Undo what uncommitted generations left behind and forget rows no kept generation sees.

        `committed` is the manifest's generation; rows removed at or before `keep_from` are
        invisible to every generation still on disk and are deleted for good.
        """
        self.db.execute("DELETE FROM lsh_buckets WHERE signature_id IN (SELECT id FROM signatures "
                        "WHERE gen_added > ? OR gen_removed <= ?)", (committed, keep_from))
        for table in ("articles", "chunks", "sentences", "signatures"):
            self.db.execute(f"DELETE FROM {table} WHERE gen_added > ?", (committed,))
            self.db.execute(f"UPDATE {table} SET gen_removed = NULL WHERE gen_removed > ?", (committed,))
            self.db.execute(f"DELETE FROM {table} WHERE gen_removed <= ?", (keep_from,))

    def next_chunk_ids(self, count: int) -> int:
        """Reserve `count` fresh chunk ids (never reused) and return the first."""
        row = self.db.execute("SELECT value FROM meta WHERE key='next_chunk_id'").fetchone()
        top = self.db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM chunks").fetchone()[0]
        first = max(int(row[0]) if row else 1, top)
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('next_chunk_id', ?)", (str(first + count),))
        return first

    def put_article(self, article: Article, chunks: list[Chunk], content_hash: str) -> None:
        g = self.generation
        self.db.execute(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,NULL)",
            (article.id, article.title, article.text, article.date, article.source, article.url,
             article.author, article.path, content_hash, g),
        )
        rows = []
        for c in chunks:
            vector = c.vector.tobytes() if c.vector is not None else None
            rows.append((c.id, c.article_id, c.ordinal, c.text, vector, g, chunk_digest(c.text, vector)))
        self.db.executemany(
            "INSERT INTO chunks (id, article_id, ordinal, text, vector, gen_added, gen_removed, digest) "
            "VALUES (?,?,?,?,?,?,NULL,?)", rows)

    def update_path(self, article_id: str, path: str | None, content_hash: str) -> None:
        """Record where an unchanged article is read from now (no new generation needed:
        the passages are the same; the whole run is one transaction)."""
        self.db.execute(f"UPDATE articles SET path=?, hash=? WHERE id=? AND {self._visible()}",
                        (path, content_hash, article_id))

    def put_sentences(self, article_id: str, offsets, matrix) -> None:
        """Store an article's sentences: (n, 2) start/end offsets in its text and their (n, dim)
        unit vectors, kept as int8 with one float32 scale per row (a quarter of float32)."""
        import numpy as np

        if not len(offsets):
            return
        matrix = np.asarray(matrix, dtype=np.float32).reshape(len(offsets), -1)
        scales = np.maximum(np.abs(matrix).max(axis=1), 1e-12) / 127
        quantized = np.round(matrix / scales[:, None]).clip(-127, 127).astype(np.int8)
        self.db.execute("INSERT INTO sentences VALUES (?,?,?,?,?,NULL)", (
            article_id, np.asarray(offsets, dtype=np.int32).tobytes(), scales.astype(np.float32).tobytes(),
            quantized.astype(np.int8).tobytes(), self.generation))

    def remove_article(self, article_id: str) -> list[int]:
        """Hide an article and its chunks from this generation on; returns the chunk ids."""
        g = self.generation
        ids = [r[0] for r in self.db.execute(
            f"SELECT id FROM chunks WHERE article_id=? AND {self._visible()}", (article_id,))]
        for table, key in (("chunks", "article_id"), ("articles", "id"), ("sentences", "article_id"),
                           ("signatures", "article_id")):
            self.db.execute(f"UPDATE {table} SET gen_removed=? WHERE {key}=? AND {self._visible()}", (g, article_id))
        return ids

    # --- reading ---------------------------------------------------------------------------

    def article_hashes(self) -> dict[str, str]:
        return dict(self.db.execute(f"SELECT id, hash FROM articles WHERE {self._visible()}"))

    def article_paths(self) -> dict[str, str | None]:
        return dict(self.db.execute(f"SELECT id, path FROM articles WHERE {self._visible()}"))

    def counts(self) -> tuple[int, int]:
        articles = self.db.execute(f"SELECT COUNT(*) FROM articles WHERE {self._visible()}").fetchone()[0]
        chunks = self.db.execute(f"SELECT COUNT(*) FROM chunks WHERE {self._visible()}").fetchone()[0]
        return articles, chunks

    def sources(self) -> list[tuple[str, int]]:
        return list(self.db.execute(
            f"SELECT source, COUNT(*) FROM articles WHERE source IS NOT NULL AND {self._visible()} "
            "GROUP BY source ORDER BY 2 DESC, 1"))

    def date_range(self) -> tuple[str | None, str | None]:
        return tuple(self.db.execute(f"SELECT MIN(date), MAX(date) FROM articles WHERE {self._visible()}").fetchone())

    def chunks_without_vectors(self) -> list[tuple[int, str, str]]:
        """(id, article title, text) of visible chunks whose vector is missing."""
        return self.db.execute(
            f"SELECT c.id, a.title, c.text FROM chunks c JOIN articles a ON a.id = c.article_id "
            f"AND {self._visible('a')} WHERE c.vector IS NULL AND {self._visible('c')}").fetchall()

    def set_vectors(self, rows: list[tuple[int, bytes]]) -> None:
        texts = dict(self._in_query("SELECT id, text FROM chunks WHERE id IN ({})", [cid for cid, _ in rows]))
        self.db.executemany("UPDATE chunks SET vector=?, digest=? WHERE id=?",
                            [(v, chunk_digest(texts[cid], v), cid) for cid, v in rows])

    def fill_missing_digests(self) -> int:
        """Give passages written before checksums existed theirs; returns how many."""
        rows = self.db.execute(f"SELECT id, text, vector FROM chunks WHERE digest IS NULL AND {self._visible()}").fetchall()
        self.db.executemany("UPDATE chunks SET digest=? WHERE id=?", [(chunk_digest(t, v), cid) for cid, t, v in rows])
        return len(rows)

    def verify_rows(self) -> tuple[int, list[str], int]:
        """Recompute every visible row's checksum: (rows checked, ids of articles whose row or
        passages differ from what was written, passages written before checksums existed)."""
        bad: set[str] = set()
        checked = unchecked = 0
        for row in self.db.execute(
                f"SELECT id, title, text, date, source, url, author, path, hash FROM articles WHERE {self._visible()}"):
            article = Article(*row[:8])
            checked += 1
            if row[8] not in (article.content_hash(), article.legacy_hash(row[7])):
                bad.add(row[0])
        has_digests = "digest" in {r[1] for r in self.db.execute("PRAGMA table_info(chunks)")}
        for article_id, text, vector, digest in self.db.execute(
                f"SELECT article_id, text, vector, {'digest' if has_digests else 'NULL'} FROM chunks "
                f"WHERE {self._visible()}"):
            checked += 1
            if digest is None:
                unchecked += 1
            elif digest != chunk_digest(text, vector):
                bad.add(article_id)
        return checked, sorted(bad), unchecked

    def chunk_ids(self) -> set[int]:
        return {r[0] for r in self.db.execute(f"SELECT id FROM chunks WHERE {self._visible()}")}

    def chunks(self, ids: Iterable[int]) -> dict[int, StoredChunk]:
        return {row[0]: StoredChunk(*row) for row in self._in_query(
            f"SELECT id, article_id, ordinal, text FROM chunks WHERE {self._visible()} AND id IN ({{}})", list(ids))}

    def first_chunks(self, article_ids: Iterable[str]) -> dict[str, StoredChunk]:
        """Each article's first passage (ordinal 0 is its lead)."""
        return {row[1]: StoredChunk(*row) for row in self._in_query(
            f"SELECT id, article_id, ordinal, text FROM chunks WHERE {self._visible()} AND ordinal = 0 "
            "AND article_id IN ({})", list(article_ids))}

    def articles(self, ids: Iterable[str]) -> dict[str, StoredArticle]:
        return {row[0]: StoredArticle(*row) for row in self._in_query(
            f"SELECT id, title, date, source, url, path FROM articles WHERE {self._visible()} AND id IN ({{}})",
            list(ids))}

    def article_attributes(self, article_id: str, names: Iterable[str]) -> dict[str, str | None]:
        """Some stored attributes of one article, e.g. {"date": "2004-03-01"}; {} when absent."""
        names = [n for n in names if n in ("title", "date", "source", "url", "author", "path")]
        row = self.db.execute(f"SELECT {', '.join(names)} FROM articles WHERE id=? AND {self._visible()}",
                              (article_id,)).fetchone() if names else None
        return dict(zip(names, row)) if row else {}

    def article_texts(self, ids: Iterable[str], with_titles: bool = False) -> dict:
        """The full text of each article ({id: text}, or {id: (title, text)} `with_titles`)."""
        rows = self._in_query(
            f"SELECT id, title, text FROM articles WHERE {self._visible()} AND id IN ({{}})", list(ids))
        return {a: (title, text) if with_titles else text for a, title, text in rows}

    def sample_sentence_vectors(self, count: int) -> list:
        """The sentence vectors of up to `count` visible articles spread evenly over the table
        (the same ones for the same store): rowid point lookups, never a scan of the vectors."""
        import numpy as np

        if not self._has_sentences:
            return []
        low, high = self.db.execute("SELECT min(rowid), max(rowid) FROM sentences").fetchone()
        if low is None:
            return []
        rowids = sorted({int(r) for r in np.linspace(low, high, num=min(count, high - low + 1))})
        return [_sentence_rows(*row)[1] for row in self._in_query(
            f"SELECT offsets, scales, vectors FROM sentences WHERE {self._visible()} AND rowid IN ({{}})", rowids)]

    def sentence_vectors(self, article_ids: Iterable[str]) -> dict:
        """{article_id: (offsets, vectors)} for the articles that have stored sentences: int32
        (n, 2) start/end offsets into the article text, in text order, and float32 (n, dim)
        unit vectors (late-chunked from the passages at ingest; cosine ~0.999 to the float32
        ones after int8 storage), both read-only. Articles indexed before sentences were stored
        are absent. A read-only store keeps the rows it unpacked (`SentenceRowCache`)."""
        if not self._has_sentences:
            return {}
        wanted = list(dict.fromkeys(article_ids))
        cache = self._sentence_cache
        found = cache.get_many(wanted) if cache is not None else {}
        missing = [a for a in wanted if a not in found]
        rows = {article_id: _sentence_rows(offsets, scales, vectors) for article_id, offsets, scales, vectors in
                self._in_query(f"SELECT article_id, offsets, scales, vectors FROM sentences WHERE {self._visible()} "
                               "AND article_id IN ({})", missing)} if missing else {}
        if cache is not None:
            cache.put_many(rows)
        found.update(rows)
        return found

    @cached_property
    def _sentence_cache(self) -> SentenceRowCache | None:
        """Only a read-only store caches: the rows it sees at its generation never change."""
        return SentenceRowCache(SENTENCE_CACHE_BYTES) if self.readonly else None

    @cached_property
    def _has_sentences(self) -> bool:
        """Stores made before sentence vectors (opened read-only) have no such table."""
        return self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='sentences'").fetchone() is not None

    def article_fields(self) -> list[tuple]:
        """(id, date, source, url, author) of every visible article, for field filters."""
        return self.db.execute(f"SELECT id, date, source, url, author FROM articles WHERE {self._visible()}").fetchall()

    def chunk_ids_where(self, sources: list[str], since: str | None, until: str | None,
                        article_ids: Iterable[str] | None = None) -> list[int]:
        """Ids of the chunks whose article passes the filters (and is among `article_ids`)."""
        clauses, params = [self._visible("a"), self._visible("c")], []
        if article_ids is not None:
            clauses.append("a.id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(sorted(article_ids)))
        if sources:
            clauses.append(f"a.source COLLATE NOCASE IN ({','.join('?' * len(sources))})")
            params += sources
        if since:
            clauses.append("a.date >= ?")
            params.append(since)
        if until:
            clauses.append("a.date <= ?")
            params.append(until)
        sql = f"SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id WHERE {' AND '.join(clauses)}"
        return [r[0] for r in self.db.execute(sql, params)]

    def iter_chunks_for_rebuild(self, batch: int = 2048, added_at: int | None = None) -> Iterator[list[tuple]]:
        """Visible chunks with what both indexes need, in id order, a batch at a time:
        (id, article_id, text, vector bytes, title, source, date); only those added at
        generation `added_at` when given."""
        last = 0
        only = f" AND c.gen_added = {int(added_at)}" if added_at is not None else ""
        while True:
            rows = self.db.execute(
                f"SELECT c.id, c.article_id, c.text, c.vector, a.title, a.source, a.date FROM chunks c "
                f"JOIN articles a ON a.id = c.article_id AND {self._visible('a')} "
                f"WHERE {self._visible('c')}{only} AND c.id > ? ORDER BY c.id LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    def iter_articles_for_rebuild(self, batch: int = 512, added_at: int | None = None) -> Iterator[list[tuple]]:
        """Visible articles as (id, title, text, source, date), a batch at a time (only those
        added at generation `added_at` when given)."""
        last = ""
        only = f" AND gen_added = {int(added_at)}" if added_at is not None else ""
        while True:
            rows = self.db.execute(
                f"SELECT id, title, text, source, date FROM articles WHERE {self._visible()}{only} AND id > ? "
                "ORDER BY id LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    def removed_at(self, generation: int) -> tuple[list[int], list[str]]:
        """Chunk ids and article ids that generation `generation` removed (for the Milvus
        backend, which applies each committed generation's changes)."""
        chunks = [r[0] for r in self.db.execute("SELECT id FROM chunks WHERE gen_removed = ?", (generation,))]
        articles = [r[0] for r in self.db.execute(
            f"SELECT DISTINCT id FROM articles WHERE gen_removed = ? AND id NOT IN "
            f"(SELECT id FROM articles WHERE {self._visible()})", (generation,))]
        return chunks, articles

    def _in_query(self, sql: str, values: list) -> Iterator[tuple]:
        for start in range(0, len(values), 500):
            part = values[start:start + 500]
            yield from self.db.execute(sql.format(",".join("?" * len(part))), part)

    # --- near-duplicate signatures (index/dedup.py, search/stories/clusters.py) ---------------------

    def put_signature(self, article_id: str, signature: bytes, buckets: list[int], scheme: str) -> None:
        g = self.generation
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('dedup_scheme', ?)", (scheme,))
        row = self.db.execute("INSERT INTO signatures VALUES (NULL,?,?,?,NULL)", (article_id, signature, g)).lastrowid
        self.db.executemany("INSERT OR IGNORE INTO lsh_buckets VALUES (?,?)", [(b, row) for b in buckets])

    def dedup_scheme(self) -> str | None:
        """The signature scheme of this store, or None when it has no signatures (an old index)."""
        has = self.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='signatures'").fetchone()
        if not has:
            return None
        row = self.db.execute("SELECT value FROM meta WHERE key='dedup_scheme'").fetchone()
        return row[0] if row else None

    def drop_signatures(self) -> None:
        """Hide every signature from this generation on (before recomputing them all)."""
        self.db.execute(f"UPDATE signatures SET gen_removed=? WHERE {self._visible()}", (self.generation,))

    def articles_without_signature(self) -> Iterator[tuple[str, str, str]]:
        """(id, title, text) of visible articles that have no visible signature."""
        yield from self.db.execute(
            f"SELECT a.id, a.title, a.text FROM articles a WHERE {self._visible('a')} AND NOT EXISTS "
            f"(SELECT 1 FROM signatures s WHERE s.article_id = a.id AND {self._visible('s')})")

    def signatures(self, ids: Iterable[str]) -> dict[str, bytes]:
        return dict(self._in_query(
            f"SELECT article_id, signature FROM signatures WHERE {self._visible()} AND article_id IN ({{}})",
            list(ids)))

    def bucket_mates(self, ids: Iterable[str]) -> list[tuple[str, str]]:
        """(id, other) for each pair of visible articles sharing an LSH bucket, `id` among `ids`."""
        return list(self._in_query(
            f"SELECT DISTINCT sa.article_id, sb.article_id FROM signatures sa "
            f"JOIN lsh_buckets la ON la.signature_id = sa.id "
            f"JOIN lsh_buckets lb ON lb.bucket = la.bucket AND lb.signature_id != la.signature_id "
            f"JOIN signatures sb ON sb.id = lb.signature_id AND {self._visible('sb')} AND sb.article_id != sa.article_id "
            f"WHERE {self._visible('sa')} AND sa.article_id IN ({{}})", list(ids)))

    def article_text(self, article_id: str) -> tuple[str, str] | None:
        """(title, text) of a visible article, or None."""
        return self.db.execute(f"SELECT title, text FROM articles WHERE id=? AND {self._visible()}",
                               (article_id,)).fetchone()

    def chunk_ids_of(self, article_id: str) -> list[int]:
        """The ids of a visible article's chunks, in order."""
        return [r[0] for r in self.db.execute(
            f"SELECT id FROM chunks WHERE article_id=? AND {self._visible()} ORDER BY ordinal", (article_id,))]


def chunk_digest(text: str, vector: bytes | None) -> bytes:
    """The checksum of a passage row (text and vector), recorded when it is written."""
    h = hashlib.blake2b(text.encode("utf-8"), digest_size=16)
    h.update(b"\0" + (vector or b""))
    return h.digest()


def _open_readonly(path: Path) -> sqlite3.Connection:
    """A connection that never writes. A store in a read-only folder (a read-only mount,
    immutable files) is opened as immutable: no writer can change it there."""
    if not path.is_file():
        raise sqlite3.OperationalError(f"unable to open database file {path}: it is missing")
    try:
        db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError as exc:
        if "unable to open" not in str(exc) or _writable(path.parent):
            raise
    db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    return db


def _writable(folder: Path) -> bool:
    """Whether files can be created in `folder` (root ignores permission bits, so try it)."""
    import os
    import tempfile

    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".byline-probe-")
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


def _sentence_rows(offsets: bytes, scales: bytes, vectors: bytes):
    """A stored sentences row: int32 (n, 2) offsets and float32 (n, dim) vectors (int8 x scale),
    read-only, since a cached row is shared by every search that reads it."""
    import numpy as np

    bounds = np.frombuffer(offsets, dtype=np.int32).reshape(-1, 2)
    matrix = np.frombuffer(vectors, dtype=np.int8).reshape(len(bounds), -1).astype(np.float32)
    matrix *= np.frombuffer(scales, dtype=np.float32)[:, None]
    matrix.flags.writeable = False
    return bounds, matrix


# Unpacked sentence rows kept per open read-only store. A server's search reads the sentences of
# its best articles up to three times (sentence evidence, answers, the relevance floor), and
# popular articles come back across searches; at mpnet's 768 dimensions an article's rows are
# ~3 KB a sentence, so 64 MB keeps some 600 articles.
SENTENCE_CACHE_BYTES = 64 << 20


class SentenceRowCache:
    """A least-recently-used map of article id -> (offsets, vectors), bounded in bytes and safe
    to share between the threads of a server."""

    def __init__(self, budget: int):
        import threading
        from collections import OrderedDict

        self.budget = budget
        self.size = 0
        self.rows: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get_many(self, article_ids: list[str]) -> dict:
        out = {}
        with self.lock:
            for article_id in article_ids:
                row = self.rows.get(article_id)
                if row is not None:
                    self.rows.move_to_end(article_id)
                    out[article_id] = row
        return out

    def put_many(self, rows: dict) -> None:
        with self.lock:
            for article_id, row in rows.items():
                cost = row[0].nbytes + row[1].nbytes
                if cost > self.budget or article_id in self.rows:
                    continue
                self.rows[article_id] = row
                self.size += cost
            while self.size > self.budget:
                _, (bounds, matrix) = self.rows.popitem(last=False)
                self.size -= bounds.nbytes + matrix.nbytes
