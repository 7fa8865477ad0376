"""Read articles from files: plain text, Markdown, HTML, JSON, JSONL, CSV, and RSS/Atom feeds.

`read_paths` walks files and folders and yields an `Article` for every article it can read and a
`Skipped` for every file or record it cannot, so one bad file never stops the rest.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from index import controls
from index.dates import parse_date
from index.documents import Article, Cut, Skipped, UnreadFields

TEXT_SUFFIXES = {".txt", ".text"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
RECORD_SUFFIXES = {".json", ".jsonl", ".ndjson", ".csv"}
FEED_SUFFIXES = {".xml", ".rss", ".atom"}  # RSS 0.9x/1.0/2.0 and Atom, read with feedparser
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | MARKDOWN_SUFFIXES | HTML_SUFFIXES | RECORD_SUFFIXES | FEED_SUFFIXES
MAX_FEED_BYTES = 256 * 1024 * 1024  # a feed file is parsed whole
# One article is never this long; a bigger .txt/.md/.html file is a log or a dump, not news.
# The limit also bounds each JSON Lines record.
MAX_ARTICLE_BYTES = 10 * 1024 * 1024
# Caps measured with scripts/research/measure_inputs.py (docs/performance.md): html.parser takes ~55 us and
# ~1.2 KB per element (50,000: 2.6 s, 83 MB; the 900,000 <p> of a 8.6 MB page: 43 s, 1 GB); an
# article's text is embedded at ~68 passages/s, ~750 characters a passage, so 200,000 characters
# (8x the longest BBC article) take ~4 s where a 9.9 MB text file took 10,500 passages.
MAX_HTML_ELEMENTS = 50_000
MAX_ARTICLE_CHARS = 200_000
_START_TAG = re.compile(r"<[A-Za-z]")
# A .json or .csv file is read whole before its records are parsed; bigger feeds belong in JSON
# Lines, which is read a line at a time.
MAX_RECORD_FILE_BYTES = 1024 * 1024 * 1024

# Field names tried, in order, for each article attribute of a JSON/JSONL/CSV record.
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("_id", "id", "doc_id", "docid", "guid"),
    "title": ("title", "headline"),
    "text": ("text", "body", "content", "article", "story"),
    "date": ("date", "published", "published_at", "pubdate", "datetime", "timestamp"),
    "source": ("source", "publisher", "outlet", "site"),
    "url": ("url", "link"),
    "author": ("author", "byline", "authors"),
}


class UnreadableFile(Exception):
    """A file that cannot be read as text; the message says why."""


class NotRegularFile(UnreadableFile):
    """A FIFO, device, socket or folder where a file was expected: never read (a FIFO blocks
    forever, /dev/zero never ends)."""


@dataclass
class FieldMap:
    """Which record fields hold which article attribute; user mappings are tried first."""

    overrides: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, specs: Iterable[str]) -> FieldMap:
        """Build from `attr=field` strings such as `text=story_body`."""
        overrides = {}
        for spec in specs:
            attr, sep, name = spec.partition("=")
            attr, name = attr.strip().lower(), name.strip()
            if not sep or not name or attr not in DEFAULT_FIELDS:
                known = ", ".join(DEFAULT_FIELDS)
                raise ValueError(f"bad field mapping {spec!r}: use ATTR=FIELD with ATTR one of {known}")
            overrides[attr] = name
        return cls(overrides)

    def read_names(self) -> set[str]:
        """The (lower-case) record fields this map reads."""
        return {n.lower() for names in DEFAULT_FIELDS.values() for n in names} | {
            n.lower() for n in self.overrides.values()}

    def get(self, record: dict, attr: str) -> object:
        names = ((self.overrides[attr],) if attr in self.overrides else ()) + DEFAULT_FIELDS[attr]
        lowered = {k.lower(): v for k, v in record.items() if isinstance(k, str)}
        for name in names:
            value = lowered.get(name.lower())
            if value not in (None, ""):
                return value
        return None


def read_paths(paths: Iterable[Path], fields: FieldMap | None = None) -> Iterator[Article | Skipped]:
    """Yield the articles (and skipped items) of every file under `paths`."""
    fields = fields or FieldMap()
    for root, path in discover(paths):
        yield from read_file(path, root, fields)


def discover(paths: Iterable[Path]) -> Iterator[tuple[Path, Path]]:
    """Yield (root, file) for each file under `paths`, recursively, in a stable order.

    Hidden files and folders are ignored; symlinked folders are followed once, so loops end.
    """
    seen_dirs: set[str] = set()
    for given in paths:
        given = Path(given)
        if not given.is_dir():
            if not given.exists():
                raise FileNotFoundError(f"no such file or folder: {given}")
            # A file, or a FIFO or device given by name: read_file says why the latter is skipped.
            yield given.parent, given
            continue
        unreadable: list[OSError] = []
        for dirpath, dirnames, filenames in os.walk(given, followlinks=True, onerror=unreadable.append):
            yield from ((given, Path(e.filename)) for e in _drain(unreadable))  # read_file says why
            real = os.path.realpath(dirpath)
            if real in seen_dirs:
                dirnames[:] = []
                continue
            seen_dirs.add(real)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if not name.startswith("."):
                    yield given, Path(dirpath) / name
        yield from ((given, Path(e.filename)) for e in _drain(unreadable))


def _drain(errors: list[OSError]) -> list[OSError]:
    """The folders os.walk could not list so far (taken out of `errors`)."""
    taken = [e for e in errors if e.filename]
    errors.clear()
    return taken


def read_file(path: Path, root: Path, fields: FieldMap) -> Iterator[Article | Skipped]:
    """Yield the articles of one file, or a single `Skipped` saying why it cannot be read.

    Ids and paths are made valid UTF-8: a file name with other bytes (b"caf\\xe9.txt") gets
    them written as escapes ("caf\\xe9.txt"), so it can be stored, printed and searched."""
    path_text = utf8_text(str(path))
    try:
        for item in _read_file(path, root, fields):
            if isinstance(item, Article):
                item.id, item.path = utf8_text(item.id), item.path and utf8_text(item.path)
                if not item.id_from_path:  # a path-made id stays the file's name (escaped on output)
                    item.id = controls.strip(item.id)
                had_text, had_title = bool(item.text.strip()), bool(item.title.strip())
                for attr in ("title", "text", "source", "url", "author"):  # JSON may hold lone surrogates
                    value = getattr(item, attr)
                    if value:
                        value = controls.strip(utf8_text(value))
                        setattr(item, attr, value if value.strip() or attr in ("title", "text") else None)
                if had_text and not item.text.strip():
                    yield Skipped(item.path or path_text, "no article text (only control characters)")
                    continue
                if had_title and not item.title.strip():
                    item.title = _one_line(item.text)[:80]
                if len(item.text) > MAX_ARTICLE_CHARS:
                    yield _cut(item)
            else:
                item.path = utf8_text(item.path)
            yield item
    except (KeyboardInterrupt, SystemExit, MemoryError, GeneratorExit):
        raise
    except Exception as exc:  # a parser's own failure (RecursionError on deep JSON, ...): skip the file
        yield Skipped(path_text, f"cannot be read ({type(exc).__name__}: {_first_line(exc)}); "
                                 "the rest of the run goes on")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else "no detail"




def _cut(article: Article) -> Cut:
    """Keep the first MAX_ARTICLE_CHARS characters of the article's text, ending at a paragraph
    (else a sentence, else a word) boundary."""
    whole = len(article.text)
    head = article.text[:MAX_ARTICLE_CHARS]
    for boundary in ("\n\n", ". ", " "):
        end = head.rfind(boundary)
        if end > MAX_ARTICLE_CHARS // 2:
            head = head[:end + (1 if boundary == ". " else 0)]
            break
    article.text = head.rstrip()
    return Cut(article.path or article.id,
               f"article {article.id!r} cut to its first {len(article.text):,} of {whole:,} characters "
               f"(the limit is {MAX_ARTICLE_CHARS:,}, about 250 passages); the rest is not indexed")


def utf8_text(text: str) -> str:
    """`text` if it encodes as UTF-8; else a file name's undecodable bytes as \\xNN escapes (and
    any other lone surrogate as "?")."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def _read_file(path: Path, root: Path, fields: FieldMap) -> Iterator[Article | Skipped]:
    suffix = path.suffix.lower()
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        yield Skipped(str(path), f"cannot read: {exc.strerror or exc}")
        return
    if stat.S_ISDIR(mode):  # a folder os.walk could not list (read_paths takes folders apart)
        try:
            os.scandir(path).close()
            reason = "a folder given where a file was expected"
        except OSError as exc:
            reason = f"cannot read folder: {exc.strerror or exc}; nothing under it was indexed"
        yield Skipped(str(path), reason)
        return
    if not stat.S_ISREG(mode):
        yield Skipped(str(path), f"not a regular file ({_file_kind(mode)}); only files are read")
        return
    if path.stem.upper() in ("README", "LICENSE", "CHANGELOG"):
        yield Skipped(str(path), "a folder's README or LICENSE, not an article")
        return
    if suffix not in SUPPORTED_SUFFIXES:
        yield Skipped(str(path), f"unsupported file type {suffix or '(none)'}")
        return
    try:
        fh = open_regular(path)
    except UnreadableFile as exc:
        yield Skipped(str(path), str(exc))
        return
    except OSError as exc:
        yield Skipped(str(path), f"cannot read: {exc.strerror or exc}")
        return
    with fh:
        try:
            raw = yield from _read_bounded(fh, path, suffix, root, fields)
        except OSError as exc:
            yield Skipped(str(path), f"cannot read: {exc.strerror or exc}")
            return
    if raw is None:
        return
    if suffix in FEED_SUFFIXES:  # feedparser reads the bytes itself (the XML declares its encoding)
        yield from read_feed(raw, path, _relative(path, root))
        return
    try:
        text = decode(raw)
    except UnreadableFile as exc:
        yield Skipped(str(path), str(exc))
        return
    rel = _relative(path, root)
    if suffix in RECORD_SUFFIXES:
        yield from _read_records(text, suffix, path, rel, fields)
        return
    if suffix in HTML_SUFFIXES:
        elements = len(_START_TAG.findall(text))
        if elements > MAX_HTML_ELEMENTS:
            yield Skipped(str(path), f"too many HTML elements for one article ({elements:,}; the limit is "
                                     f"{MAX_HTML_ELEMENTS:,})")
            return
        article = parse_html(text, rel)
    else:
        article = parse_plain(text, rel, markdown=suffix in MARKDOWN_SUFFIXES)
    if article is None:
        yield Skipped(str(path), "no article text found")
    else:
        article.path = os.path.abspath(path)
        article.id_from_path = True
        yield article


def open_regular(path: Path):
    """`path` opened for reading in binary, if it is a regular file (after following links).

    Opened without blocking and checked on the open descriptor, so a FIFO put in its place after
    a check cannot hang the run."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"not a regular file ({_file_kind(mode)}); only files are read")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))
    return next((name for test, name in kinds if test(mode)), "not a file")


def _too_large(size_text: str, limit: int, what: str) -> str:
    return f"too large for {what} ({size_text}; the limit is {limit // 2**20} MB)"


def _read_bounded(fh, path: Path, suffix: str, root: Path, fields: FieldMap):
    """The file's bytes, read up to its size limit whatever st_size says; or None once the
    file's items (a streamed JSON Lines feed, or a Skipped) have been yielded."""
    size = os.fstat(fh.fileno()).st_size
    limit, what = ((MAX_RECORD_FILE_BYTES, "a .json or .csv file (use JSON Lines for bigger feeds)")
                   if suffix in RECORD_SUFFIXES else (MAX_FEED_BYTES, "a feed file")
                   if suffix in FEED_SUFFIXES else (MAX_ARTICLE_BYTES, "one article"))
    if size > limit and suffix != ".jsonl":
        yield Skipped(str(path), _too_large(f"{size / 2**20:.1f} MB", limit, what))
        return None
    if suffix == ".jsonl" and fh.read(2) not in (b"\xff\xfe", b"\xfe\xff"):
        fh.seek(0)
        yield from _stream_jsonl(fh, path, _relative(path, root), fields)
        return None
    fh.seek(0)
    raw = fh.read(limit + 1)
    if len(raw) > limit:  # it grew while being read, or st_size does not tell
        yield Skipped(str(path), _too_large(f"over {limit // 2**20} MB", limit, what))
        return None
    return raw


def decode(raw: bytes) -> str:
    """Decode file bytes as UTF-8 (BOM allowed), else Windows-1252; refuse empty and binary files."""
    text = _decode(raw) if raw.strip() else ""
    if not text.strip():
        raise UnreadableFile("empty file")
    return text


def _decode(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise UnreadableFile("not valid UTF-16 despite its byte-order mark") from None
    if _looks_binary(raw[:8192]):
        raise UnreadableFile("binary file, not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        # Legacy news archives are mostly Latin-1/Windows-1252; accept them when every byte maps.
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        raise UnreadableFile(
            f"not UTF-8 (bad byte at offset {utf8_error.start}) and not Windows-1252 either"
        ) from None


def _looks_binary(head: bytes) -> bool:
    """A NUL byte, or more than 10% control characters, in the first bytes of a file."""
    return b"\0" in head or _control_ratio(head) > 0.1


def _control_ratio(data: bytes) -> float:
    if not data:
        return 0.0
    count = sum(1 for b in data if b < 32 and b not in (9, 10, 12, 13))
    return count / len(data)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


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


def _same_text(a: str, b: str) -> bool:
    norm = lambda s: re.sub(r"\W+", " ", s).strip().lower()  # noqa: E731
    return norm(a) == norm(b)


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


def _read_records(text: str, suffix: str, path: Path, rel: str, fields: FieldMap) -> Iterator[Article | Skipped]:
    if suffix == ".csv":
        records = _csv_records(text)
    elif suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Skipped(str(path), f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
            return
        except RecursionError:
            yield Skipped(str(path), _TOO_DEEP)
            return
        if isinstance(data, dict):
            lists = [v for v in data.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
            data = lists[0] if len(lists) == 1 and FieldMap().get(data, "text") is None else [data]
        if not isinstance(data, list):
            yield Skipped(str(path), "JSON is neither an article object nor a list of them")
            return
        records = ((i + 1, r) for i, r in enumerate(data))
    else:
        records = _jsonl_records(text)
    yield from _articles(records, suffix, path, rel, fields)


def _articles(records: Iterable[tuple[int, object]], suffix: str, path: Path, rel: str,
              fields: FieldMap) -> Iterator[Article | Skipped]:
    """Articles from (line or record number, parsed record) pairs; a bad record is skipped."""
    count = 0
    read, unread = fields.read_names(), {}
    for number, record in records:
        if isinstance(record, dict) and len(unread) < 20:
            unread.update((k, None) for k in record if isinstance(k, str) and k.lower() not in read)
        where = f"{path}:{number}"
        if isinstance(record, Skipped):
            yield Skipped(where, record.reason)
            continue
        if not isinstance(record, dict):
            yield Skipped(where, "record is not an object")
            continue
        body = fields.get(record, "text")
        title = fields.get(record, "title")
        if not body or not str(body).strip():
            yield Skipped(where, "record has no text field (text/body/content; map one with --field text=NAME)")
            continue
        record_id = fields.get(record, "id")
        author = fields.get(record, "author")
        if isinstance(author, list):
            author = ", ".join(map(str, author))
        count += 1
        yield Article(
            id=str(record_id) if record_id is not None else f"{rel}#{number}",
            title=_one_line(title) if title else _one_line(str(body))[:80],
            text=str(body or "").strip(),
            date=parse_date(fields.get(record, "date")),
            source=_opt_str(fields.get(record, "source")),
            url=_opt_str(fields.get(record, "url")),
            author=_opt_str(author),
            path=os.path.abspath(path),
            id_from_path=record_id is None,
        )
    if unread:
        yield UnreadFields(str(path), unread_fields_note(list(unread)))
    if count == 0 and suffix != ".jsonl":
        yield Skipped(str(path), "no articles in file")


_ATTRIBUTE_HINTS = (("date", ("date", "time", "publish", "pub", "day")), ("title", ("head", "title")),
                    ("text", ("body", "text", "content", "story")), ("author", ("author", "writer")),
                    ("url", ("url", "link", "href")), ("source", ("source", "feed", "outlet", "paper")),
                    ("id", ("id", "key", "uuid")))


def unread_fields_note(names: list[str]) -> str:
    """"field pub_time is not read; map it with --field date=pub_time" (the attribute guessed
    from the name, else ATTR)."""
    def guess(name: str) -> str:
        low = name.lower()
        return next((attr for attr, hints in _ATTRIBUTE_HINTS if any(h in low for h in hints)), "ATTR")

    first = names[0]
    if len(names) == 1:
        return f"field {first} is not read; map it with --field {guess(first)}={first}"
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    example = next((n for n in names if guess(n) != "ATTR"), first)
    return f"fields {shown} are not read; map one with --field ATTR=NAME (e.g. --field {guess(example)}={example})"


_UTF8_BOM = b"\xef\xbb\xbf"


def _stream_jsonl(fh, path: Path, rel: str, fields: FieldMap) -> Iterator[Article | Skipped]:
    """A JSON Lines feed read line by line, so a feed of any size takes the memory of one record.
    Each line is UTF-8, else Windows-1252; binary and empty files are refused as in `decode`."""
    if _looks_binary(fh.read(8192).removeprefix(_UTF8_BOM)):
        yield Skipped(str(path), "binary file, not text")
        return
    fh.seek(0)
    records = _jsonl_lines(fh)
    first = next(records, None)
    if first is None:  # nothing but blank lines
        yield Skipped(str(path), "empty file")
        return
    yield from _articles(itertools.chain([first], records), ".jsonl", path, rel, fields)


def _bounded_lines(fh) -> Iterator[bytes | None]:
    """The file's lines; None for a line longer than MAX_ARTICLE_BYTES, which is skipped unread."""
    limit = MAX_ARTICLE_BYTES
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while (rest := fh.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            yield None
            continue
        yield line


def _jsonl_lines(fh) -> Iterator[tuple[int, object]]:
    for number, raw in enumerate(_bounded_lines(fh), start=1):
        if raw is None:
            yield number, Skipped("", _too_large(f"over {MAX_ARTICLE_BYTES // 2**20} MB", MAX_ARTICLE_BYTES,
                                                 "one record"))
            continue
        if number == 1:
            raw = raw.removeprefix(_UTF8_BOM)
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            try:
                line = raw.decode("cp1252")
            except UnicodeDecodeError:
                yield number, Skipped("", "not UTF-8 and not Windows-1252 either")
                continue
        yield number, _json_line(line)


def _jsonl_records(text: str) -> Iterator[tuple[int, object]]:
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield number, _json_line(line)


def _json_line(line: str) -> object:
    """One JSON Lines record, or a Skipped saying why it is not valid JSON."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        return Skipped("", f"invalid JSON: {exc.msg} (column {exc.colno})")
    except RecursionError:
        return Skipped("", _TOO_DEEP)


_TOO_DEEP = "JSON nested too deeply to be an article (arrays or objects inside each other thousands of times)"


def _csv_records(text: str) -> Iterator[tuple[int, object]]:
    csv.field_size_limit(1 << 30)
    reader = csv.DictReader(io.StringIO(text))
    try:
        for row in reader:
            yield reader.line_num, {k.strip(): v for k, v in row.items() if k}
    except csv.Error as exc:
        yield reader.line_num, Skipped("", f"invalid CSV: {exc}")


def _one_line(value: object) -> str:
    return re.sub(r"\s+", " ", str(value)).strip()


def _opt_str(value: object) -> str | None:
    return _one_line(value) if value not in (None, "") else None
