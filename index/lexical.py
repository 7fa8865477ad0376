"""The Whoosh side of an index, analysed for BM25F over title and body, in two indexes:

- passages: one document per chunk (which passage of an article matches, for display);
- articles: one document per whole article (whole-document BM25, the stronger article ranking:
  a rare word in one passage still counts with the words of the article's other passages).

The schemas and analyzer live here so the writer and the searcher can never disagree on them.
Every index is opened through this module, which first makes Whoosh's pickle loads refuse
anything but Whoosh's own types (`index.safe_pickle`): opening an index never runs code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from whoosh import fields, index
from whoosh.analysis import STOP_WORDS, StemmingAnalyzer

from index import safe_pickle

safe_pickle.install()

# Whoosh's stop list drops "us", which news needs (the US); question words carry nothing.
STOPWORDS = frozenset(STOP_WORDS - {"us", "not", "may", "will"}) | {
    "who", "whom", "whose", "what", "which", "when", "where", "why", "how", "does", "did", "do",
    "was", "were", "been", "being", "has", "had", "its", "their", "there", "they", "he", "she",
    "his", "her", "about", "into", "than", "then", "so", "such", "any", "some", "i", "me", "my",
}


@lru_cache(maxsize=1)
def analyzer():
    """The analyzer of both fields and of query highlighting, shared so its stem cache is too."""
    return StemmingAnalyzer(stoplist=STOPWORDS, minsize=2, cachesize=50000)


def schema(title_boost: float = 1.0) -> fields.Schema:
    text = analyzer()
    return fields.Schema(
        chunk_id=fields.NUMERIC(numtype=int, bits=64, stored=True, unique=True, signed=False),
        article_id=fields.ID(stored=False),
        title=fields.TEXT(analyzer=text, field_boost=title_boost),
        body=fields.TEXT(analyzer=text),
        source=fields.ID(),
        date=fields.ID(),
    )


def article_schema(title_boost: float = 1.0) -> fields.Schema:
    text = analyzer()
    return fields.Schema(
        article_id=fields.ID(stored=True, unique=True),
        title=fields.TEXT(analyzer=text, field_boost=title_boost),
        body=fields.TEXT(analyzer=text),
        source=fields.ID(),
        date=fields.ID(),
    )


def open_or_create(path: Path, articles: bool = False):
    if index.exists_in(str(path)):
        return index.open_dir(str(path))
    path.mkdir(parents=True, exist_ok=True)
    return index.create_in(str(path), article_schema() if articles else schema())


def open_existing(path: Path):
    return index.open_dir(str(path))


def article_document(article_id: str, title: str, text: str, source: str | None, date: str | None) -> dict:
    """The Whoosh document for one whole article (the article index)."""
    doc = {"article_id": article_id, "title": title, "body": text}
    if source:
        doc["source"] = source.lower()
    if date:
        doc["date"] = date
    return doc


def chunk_document(chunk_id: int, article_id: str, title: str, text: str,
                   source: str | None, date: str | None) -> dict:
    """The Whoosh document for one chunk; source is lowercased so filters ignore case."""
    doc = {"chunk_id": chunk_id, "article_id": article_id, "title": title, "body": text}
    if source:
        doc["source"] = source.lower()
    if date:
        doc["date"] = date
    return doc
