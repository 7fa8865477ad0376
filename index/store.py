"""The article store: article metadata and text, chunks and their vectors, in SQLite.

It is the source of truth of an index: the Whoosh and FAISS indexes can be rebuilt from it.
A chunk's integer id is the same in all three places and is never reused.

Rows are versioned by generation: a row is visible at generation g when
`gen_added <= g < gen_removed`. A writer prepares generation g+1 while readers keep seeing g;
the manifest names the committed generation, so a run killed half-way changes nothing visible.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
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
        if readonly:
            self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        else:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            # A passage row (text and a 1.5 KB vector) is ~2.3 KB: 4 KB pages hold one and waste
            # the rest, 16 KB pages hold seven (a new store only; existing ones keep their size).
            self.db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)

    def _visible(self, table: str = "") -> str:
        return _VISIBLE.format(t=f"{table}." if table else "", g=int(self.generation))

    def close(self) -> None:
        self.db.close()

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
        for table in ("articles", "chunks", "signatures"):
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
        self.db.executemany(
            "INSERT INTO chunks VALUES (?,?,?,?,?,?,NULL)",
            [(c.id, c.article_id, c.ordinal, c.text,
              c.vector.tobytes() if c.vector is not None else None, g) for c in chunks],
        )

    def remove_article(self, article_id: str) -> list[int]:
        """Hide an article and its chunks from this generation on; returns the chunk ids."""
        g = self.generation
        ids = [r[0] for r in self.db.execute(
            f"SELECT id FROM chunks WHERE article_id=? AND {self._visible()}", (article_id,))]
        for table, key in (("chunks", "article_id"), ("articles", "id"), ("signatures", "article_id")):
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
        self.db.executemany("UPDATE chunks SET vector=? WHERE id=?", [(v, cid) for cid, v in rows])

    def chunk_ids(self) -> set[int]:
        return {r[0] for r in self.db.execute(f"SELECT id FROM chunks WHERE {self._visible()}")}

    def chunks(self, ids: Iterable[int]) -> dict[int, StoredChunk]:
        return {row[0]: StoredChunk(*row) for row in self._in_query(
            f"SELECT id, article_id, ordinal, text FROM chunks WHERE {self._visible()} AND id IN ({{}})", list(ids))}

    def articles(self, ids: Iterable[str]) -> dict[str, StoredArticle]:
        return {row[0]: StoredArticle(*row) for row in self._in_query(
            f"SELECT id, title, date, source, url, path FROM articles WHERE {self._visible()} AND id IN ({{}})",
            list(ids))}

    def chunk_ids_where(self, sources: list[str], since: str | None, until: str | None) -> list[int]:
        """Ids of the chunks whose article passes the filters."""
        clauses, params = [self._visible("a"), self._visible("c")], []
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

    def iter_chunks_for_rebuild(self, batch: int = 2048) -> Iterator[list[tuple]]:
        """Visible chunks with what both indexes need, in id order, a batch at a time:
        (id, article_id, text, vector bytes, title, source, date)."""
        last = 0
        while True:
            rows = self.db.execute(
                f"SELECT c.id, c.article_id, c.text, c.vector, a.title, a.source, a.date FROM chunks c "
                f"JOIN articles a ON a.id = c.article_id AND {self._visible('a')} "
                f"WHERE {self._visible('c')} AND c.id > ? ORDER BY c.id LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    def _in_query(self, sql: str, values: list) -> Iterator[tuple]:
        for start in range(0, len(values), 500):
            part = values[start:start + 500]
            yield from self.db.execute(sql.format(",".join("?" * len(part))), part)

    # --- near-duplicate signatures (index/dedup.py, search/clusters.py) ---------------------

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
