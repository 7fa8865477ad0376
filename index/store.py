"""The article store: article metadata and text, chunks and their vectors, in SQLite.

It is the source of truth of an index: the Whoosh and FAISS indexes can be rebuilt from it.
A chunk's integer id is the same in all three places.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from index.documents import Article, Chunk

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL, date TEXT, source TEXT,
    url TEXT, author TEXT, path TEXT, hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, article_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
    text TEXT NOT NULL, vector BLOB
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS articles_date ON articles(date);
"""


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
    """One SQLite database per index; writes happen inside explicit transactions."""

    def __init__(self, path: Path, readonly: bool = False):
        self.path = path
        if readonly:
            self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        else:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)

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

    def reserve_chunk_ids(self, count: int) -> int:
        """Reserve `count` fresh chunk ids and return the first; committed at once, so ids
        handed to the other indexes are never reused even if this run dies."""
        own_txn = not self.db.in_transaction
        if own_txn:
            self.begin()
        row = self.db.execute("SELECT value FROM meta WHERE key='next_chunk_id'").fetchone()
        first = int(row[0]) if row else 1
        top = self.db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM chunks").fetchone()[0]
        first = max(first, top)
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('next_chunk_id', ?)", (str(first + count),))
        if own_txn:
            self.commit()
        return first

    def put_article(self, article: Article, chunks: list[Chunk], content_hash: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO articles VALUES (?,?,?,?,?,?,?,?,?)",
            (article.id, article.title, article.text, article.date, article.source, article.url,
             article.author, article.path, content_hash),
        )
        self.db.executemany(
            "INSERT INTO chunks VALUES (?,?,?,?,?)",
            [(c.id, c.article_id, c.ordinal, c.text, c.vector.tobytes() if c.vector is not None else None)
             for c in chunks],
        )

    def delete_article(self, article_id: str) -> list[int]:
        """Delete an article and its chunks; returns the deleted chunk ids."""
        ids = [r[0] for r in self.db.execute("SELECT id FROM chunks WHERE article_id=?", (article_id,))]
        self.db.execute("DELETE FROM chunks WHERE article_id=?", (article_id,))
        self.db.execute("DELETE FROM articles WHERE id=?", (article_id,))
        return ids

    # --- reading ---------------------------------------------------------------------------

    def article_hashes(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT id, hash FROM articles"))

    def counts(self) -> tuple[int, int]:
        articles = self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        chunks = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return articles, chunks

    def sources(self) -> list[tuple[str, int]]:
        return list(self.db.execute(
            "SELECT source, COUNT(*) FROM articles WHERE source IS NOT NULL GROUP BY source ORDER BY 2 DESC"))

    def date_range(self) -> tuple[str | None, str | None]:
        return tuple(self.db.execute("SELECT MIN(date), MAX(date) FROM articles").fetchone())

    def chunks(self, ids: Iterable[int]) -> dict[int, StoredChunk]:
        return {row[0]: StoredChunk(*row) for row in self._in_query(
            "SELECT id, article_id, ordinal, text FROM chunks WHERE id IN ({})", list(ids))}

    def articles(self, ids: Iterable[str]) -> dict[str, StoredArticle]:
        return {row[0]: StoredArticle(*row) for row in self._in_query(
            "SELECT id, title, date, source, url, path FROM articles WHERE id IN ({})", list(ids))}

    def chunk_ids_where(self, sources: list[str], since: str | None, until: str | None) -> list[int]:
        """Ids of the chunks whose article passes the filters."""
        clauses, params = [], []
        if sources:
            clauses.append(f"a.source COLLATE NOCASE IN ({','.join('?' * len(sources))})")
            params += sources
        if since:
            clauses.append("a.date >= ?")
            params.append(since)
        if until:
            clauses.append("a.date <= ?")
            params.append(until)
        where = " AND ".join(clauses) or "1"
        sql = f"SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id WHERE {where}"
        return [r[0] for r in self.db.execute(sql, params)]

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[list[int], list[bytes]]]:
        """All chunk ids and vectors, in id order, a batch at a time (for rebuilding FAISS)."""
        last = 0
        while True:
            rows = self.db.execute(
                "SELECT id, vector FROM chunks WHERE id > ? ORDER BY id LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            yield [r[0] for r in rows], [r[1] for r in rows]
            last = rows[-1][0]

    def _in_query(self, sql: str, values: list) -> Iterator[tuple]:
        for start in range(0, len(values), 500):
            part = values[start:start + 500]
            yield from self.db.execute(sql.format(",".join("?" * len(part))), part)
