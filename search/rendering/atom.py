"""An Atom feed (RFC 4287) of a saved search's results, so a feed reader can subscribe to it.

Each result is an entry: its id a stable URN made from the article id, its title the article's,
`updated` the article's date (else the feed's time), an alternate link when the article has an
http(s) url (a `javascript:` or `data:` url from an indexed file would run in the feed reader,
so it is left out, as the page does), the summary the answer sentence (else the best passage), and the passage as content.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from urllib.parse import quote

from index import controls
from search.ranking.ranker import Result

NS = "http://www.w3.org/2005/Atom"


def entry_id(article_id: str) -> str:
    return f"urn:byline:article:{quote(article_id, safe='')}"


def web_link(url: str) -> bool:
    """Whether `url` is an http(s) address (the only links a feed or page may carry)."""
    return url.strip()[:8].lower().startswith(("http://", "https://")) and url == url.strip()


def _stamp(day: str | None, fallback: str) -> str:
    if day and len(day) >= 10:
        try:
            return datetime.fromisoformat(day[:10]).replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
        except ValueError:
            pass
    return fallback


def feed(name: str, query: str, results: list[Result], self_url: str | None = None, now: datetime | None = None) -> str:
    """The Atom document (UTF-8 XML text) for saved search `name`."""
    name, query, results = controls.printable((name, query, results))  # XML 1.0 admits no control characters
    now_text = (now or datetime.now(timezone.utc)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    ET.register_namespace("", NS)
    root = ET.Element(f"{{{NS}}}feed")

    def add(parent, tag, text=None, **attrs):
        el = ET.SubElement(parent, f"{{{NS}}}{tag}", {k: v for k, v in attrs.items() if v is not None})
        if text is not None:
            el.text = text
        return el

    stamps = [_stamp(r.article.date, now_text) for r in results]
    add(root, "id", f"urn:byline:saved:{quote(name, safe='')}")
    add(root, "title", f"byline: {name}")
    add(root, "subtitle", query)
    add(root, "updated", max(stamps, default=now_text))
    author = add(root, "author")
    add(author, "name", "byline")
    add(root, "generator", "byline")
    if self_url:
        add(root, "link", rel="self", href=self_url, type="application/atom+xml")
    for r, stamp in zip(results, stamps):
        a = r.article
        entry = add(root, "entry")
        add(entry, "id", entry_id(a.id))
        add(entry, "title", a.title, type="text")
        add(entry, "updated", stamp)
        if a.url and web_link(a.url):
            add(entry, "link", rel="alternate", href=a.url)
        if a.source:
            source = add(entry, "source")
            add(source, "title", a.source)
        summary = r.answer.text if r.answer is not None else r.passage
        add(entry, "summary", " ".join(summary.split()), type="text")
        add(entry, "content", r.passage, type="text")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
