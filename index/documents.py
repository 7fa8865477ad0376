"""Plain data types passed between the stages of indexing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass
class Article:
    """One news article as read from a source, before chunking."""

    id: str
    title: str
    text: str
    date: str | None = None  # ISO 8601 date (YYYY-MM-DD)
    source: str | None = None
    url: str | None = None
    author: str | None = None
    path: str | None = None
    # True when `id` was made from the file's path (no record id): the writer may then lengthen
    # it to tell apart two files with the same name in different folders.
    id_from_path: bool = field(default=False, compare=False, repr=False)

    def content_hash(self) -> str:
        """A fingerprint of everything indexed, to tell changed articles from unchanged ones.
        The path is not part of it: the same article read from another place is unchanged."""
        return _fingerprint((self.title, self.text, self.date, self.source, self.url, self.author))

    def legacy_hash(self, path: str | None) -> str:
        """The fingerprint of indexes written before the path left it (path included)."""
        return _fingerprint((self.title, self.text, self.date, self.source, self.url, self.author, path))


def _fingerprint(parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update((part or "").encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


@dataclass
class Skipped:
    """A file (or a record in a file) that could not be read, and why."""

    path: str
    reason: str


@dataclass
class Cut(Skipped):
    """An article indexed only in part, because it is too long; `reason` says what was kept.
    A kind of Skipped, so it reaches the report by the same way."""


@dataclass
class UnreadFields(Skipped):
    """Record fields of a file that no article attribute reads (reported once per file, so a
    date under an unusual name is not lost unnoticed); the articles themselves are indexed."""


@dataclass
class Chunk:
    """A passage of an article: the unit both indexes store."""

    article_id: str
    ordinal: int
    text: str
    title: str = ""
    id: int | None = None  # assigned by the article store
    vector: object = field(default=None, repr=False)  # numpy float32 row once embedded
    # The passage's sentences: (start, end) in the article text, (start, end) in `text`.
    sentences: list[tuple[int, int, int, int]] = field(default_factory=list, repr=False, compare=False)

    def embedding_text(self) -> str:
        """The text given to the embedding model: the title travels with every chunk."""
        return f"{self.title}\n{self.text}" if self.title else self.text

    @property
    def text_offset(self) -> int:
        """Where `text` starts in `embedding_text()`."""
        return len(self.title) + 1 if self.title else 0
