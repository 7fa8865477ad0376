"""RSS and Atom feeds (.xml .rss .atom), read with feedparser: each entry an article. Only a file's
bytes are parsed; nothing is fetched."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

from index.dates import parse_date
from index.documents import Article, Skipped
from index.readers.html import _html_text
from index.readers.tidy import _one_line, _opt_str

FEED_SUFFIXES = {".xml", ".rss", ".atom"}  # RSS 0.9x/1.0/2.0 and Atom, read with feedparser


def read_feed(raw: bytes, path: Path, rel: str) -> Iterator[Article | Skipped]:
    """The entries of an RSS or Atom feed as articles: id from the guid (else the link), title,
    date, source from the feed's title, url, author, and the text of the entry's content (else
    its summary) with the HTML stripped. Only these bytes are parsed: feedparser is given a stream
    of them, never a URL or a file name, and external entities are off, so it fetches nothing."""
    import feedparser

    # A stream, not bytes: feedparser opens bytes as a file name when such a file exists.
    parsed = feedparser.parse(io.BytesIO(raw), resolve_relative_uris=False, sanitize_html=True)
    if not parsed.get("version") and not parsed.entries:
        reason = f" ({parsed.get('bozo_exception')})" if parsed.get("bozo") else ""
        yield Skipped(str(path), f"not an RSS or Atom feed{reason}")
        return
    source = _one_line(parsed.feed.get("title", "")) or None
    count = 0
    for number, entry in enumerate(parsed.entries, start=1):
        where = f"{path}:entry {number}"
        html = (entry.get("content") or [{}])[0].get("value") or entry.get("summary") or ""
        text = _html_text(html)
        title = _one_line(_html_text(entry.get("title", "")))
        if not text:
            if not title:
                yield Skipped(where, "feed entry has no title or text")
                continue
            text = title
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        day = f"{stamp.tm_year:04d}-{stamp.tm_mon:02d}-{stamp.tm_mday:02d}" if stamp else parse_date(
            entry.get("published") or entry.get("updated"))
        entry_id = entry.get("id") or entry.get("link")
        count += 1
        yield Article(
            id=str(entry_id) if entry_id else f"{rel}#{number}",
            title=title or text[:80],
            text=text,
            date=day,
            source=source,
            url=_opt_str(entry.get("link")),
            author=_opt_str(entry.get("author")),
            path=os.path.abspath(path),
            id_from_path=not entry_id,
        )
    if count == 0:
        yield Skipped(str(path), "no entries in feed")
