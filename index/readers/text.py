"""Plain text and Markdown articles (.txt .text .md .markdown): the title on the first line, then
optional `Date:`/`Source:`/`URL:`/`Author:` lines (or front matter in Markdown), then the body."""

from __future__ import annotations

import re

from index.dates import parse_date
from index.documents import Article
from index.readers.tidy import _same_text

TEXT_SUFFIXES = {".txt", ".text"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}

_HEADER_RE = re.compile(r"^(date|published|source|url|link|author|by)\s*:\s*(.+)$", re.IGNORECASE)
_HEADER_ATTR = {"date": "date", "published": "date", "source": "source", "url": "url",
                "link": "url", "author": "author", "by": "author"}


def parse_plain(text: str, article_id: str, markdown: bool = False) -> Article | None:
    """Parse a text or Markdown article: title on the first non-empty line, then optional
    `Date:`/`Source:`/`URL:`/`Author:` lines (or YAML-style front matter), then the body."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    meta: dict[str, str] = {}
    if markdown and text.lstrip().startswith("---\n"):
        text, meta = _front_matter(text.lstrip())
    lines = text.split("\n")
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i == len(lines):
        return None
    title = meta.pop("title", None)
    if title is None:
        title = _strip_markdown(lines[i]) if markdown else lines[i].strip()
        i += 1
    while i < len(lines):
        m = _HEADER_RE.match(lines[i].strip())
        if not m:
            break
        meta.setdefault(_HEADER_ATTR[m[1].lower()], m[2].strip())
        i += 1
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", "\n".join(lines[i:]))]
    if markdown:
        paragraphs = [_strip_markdown(p) for p in paragraphs]
    paragraphs = [re.sub(r"[ \t]*\n[ \t]*", " ", p) for p in paragraphs if p]
    # Some sources repeat the headline as the first paragraph; results should not show it twice.
    while paragraphs and _same_text(paragraphs[0], title):
        paragraphs.pop(0)
    body = "\n\n".join(paragraphs)
    if not body and not title:
        return None
    return Article(
        id=article_id,
        title=title,
        text=body,
        date=parse_date(meta.get("date")),
        source=meta.get("source"),
        url=meta.get("url"),
        author=meta.get("author"),
    )


def _front_matter(text: str) -> tuple[str, dict[str, str]]:
    end = text.find("\n---", 4)
    if end < 0:
        return text, {}
    meta = {}
    for line in text[4:end].split("\n"):
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if sep and key in ("title", *_HEADER_ATTR):
            meta[_HEADER_ATTR.get(key, key)] = value.strip().strip("'\"")
    return text[end + 4:].lstrip("-").lstrip("\n"), meta


def _strip_markdown(text: str) -> str:
    text = re.sub(r"^\s{0,3}#{1,6}\s*", "", text, flags=re.MULTILINE)
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__|\*|_|`)(\S(?:.*?\S)?)\1", r"\2", text)
    text = re.sub(r"^\s{0,3}(>|[-*+]\s|\d+\.\s)\s*", "", text, flags=re.MULTILINE)
    return text.strip()
