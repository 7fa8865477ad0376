"""HTML news pages (.html .htm): the headline, main text and metadata of a page, and the text of an
HTML fragment (a feed entry's content). Parsed with BeautifulSoup's html.parser, imported lazily."""

from __future__ import annotations

import re

from index.dates import parse_date
from index.documents import Article
from index.readers.tidy import _same_text

HTML_SUFFIXES = {".html", ".htm"}
_START_TAG = re.compile(r"<[A-Za-z]")

_DATE_META = ("article:published_time", "og:published_time", "datepublished", "date", "pubdate",
              "publishdate", "dc.date", "dc.date.issued", "dcterms.created", "sailthru.date")
_DROP_TAGS = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form",
              "iframe", "svg", "button", "template")


def parse_html(html: str, article_id: str) -> Article | None:
    """Extract the main text, headline and metadata of an HTML news page."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    meta = {}
    for tag in soup.find_all("meta"):
        key = (tag.get("property") or tag.get("name") or tag.get("itemprop") or "").strip().lower()
        if key and tag.get("content") and key not in meta:
            meta[key] = tag["content"].strip()
    time_tag = soup.find("time", attrs={"datetime": True})
    date = next((parse_date(meta[k]) for k in _DATE_META if k in meta and parse_date(meta[k])), None)
    if date is None and time_tag is not None:
        date = parse_date(time_tag["datetime"])
    canonical = soup.find("link", rel="canonical")
    url = meta.get("og:url") or (canonical.get("href") if canonical else None)

    for tag in soup(_DROP_TAGS):
        tag.decompose()
    h1 = soup.find("h1")
    title_tag = soup.find("title")
    title = (h1.get_text(" ", strip=True) if h1 else "") or meta.get("og:title") or (
        title_tag.get_text(" ", strip=True) if title_tag else "")
    container = soup.find("article") or soup.find("main") or soup.body or soup
    if h1 is not None:
        h1.decompose()
    blocks = container.find_all(["p", "li", "blockquote", "h2", "h3", "pre"])
    if blocks:
        paragraphs = [b.get_text(" ", strip=True) for b in blocks if not b.find(["p", "li"])]
    else:
        paragraphs = [line.strip() for line in container.get_text("\n").split("\n")]
    paragraphs = [re.sub(r"\s+", " ", p) for p in paragraphs if p.strip()]
    while paragraphs and _same_text(paragraphs[0], title):
        paragraphs.pop(0)
    body = "\n\n".join(paragraphs)
    if not body:
        return None
    return Article(
        id=article_id,
        title=title or body[:80],
        text=body,
        date=date,
        source=meta.get("og:site_name"),
        url=url,
        author=meta.get("author") or meta.get("article:author"),
    )


def _html_text(html: str) -> str:
    """The text of an HTML fragment (a feed entry's content), paragraphs kept apart."""
    if "<" not in html and "&" not in html:
        return html.strip()
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(_DROP_TAGS):
        tag.decompose()
    blocks = soup.find_all(["p", "li", "blockquote", "h2", "h3", "pre"])
    if blocks:
        paragraphs = [b.get_text(" ", strip=True) for b in blocks if not b.find(["p", "li"])]
    else:
        paragraphs = soup.get_text("\n").split("\n")
    return "\n\n".join(re.sub(r"\s+", " ", p).strip() for p in paragraphs if p.strip())
