"""Records (.json .jsonl .ndjson .csv): which record fields hold which article attribute
(`FieldMap`, with the user's `--field` mappings), a JSON, JSON Lines or CSV file's records as
articles (a bad record skipped on its own), JSON Lines streamed a line at a time, and the note
naming the fields a file has that are not read."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from index.dates import parse_date
from index.documents import Article, Skipped, UnreadFields
from index.readers import limits
from index.readers.decoding import _looks_binary
from index.readers.limits import _too_large
from index.readers.tidy import _one_line, _opt_str

RECORD_SUFFIXES = {".json", ".jsonl", ".ndjson", ".csv"}

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
    limit = limits.MAX_ARTICLE_BYTES
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
            limit = limits.MAX_ARTICLE_BYTES
            yield number, Skipped("", _too_large(f"over {limit // 2**20} MB", limit, "one record"))
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
