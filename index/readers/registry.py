"""Files to articles: which files under the given paths are read, which format family reads each
(by extension), and the per-file guards around every reader: only regular files, reads bounded by
the caps in `limits`, and any exception a reader raises skips that file with its reason while the
run goes on. Every article leaves with valid UTF-8 ids and paths, control characters stripped and
its text cut to `limits.MAX_ARTICLE_CHARS`."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from index import controls
from index.documents import Article, Cut, Skipped
from index.readers import limits
from index.readers.decoding import UnreadableFile, decode, utf8_text
from index.readers.feeds import FEED_SUFFIXES, read_feed
from index.readers.html import _START_TAG, HTML_SUFFIXES, parse_html
from index.readers.limits import _too_large
from index.readers.records import RECORD_SUFFIXES, FieldMap, _read_records, _stream_jsonl
from index.readers.text import MARKDOWN_SUFFIXES, TEXT_SUFFIXES, parse_plain
from index.readers.tidy import _one_line

SUPPORTED_SUFFIXES = TEXT_SUFFIXES | MARKDOWN_SUFFIXES | HTML_SUFFIXES | RECORD_SUFFIXES | FEED_SUFFIXES


class NotRegularFile(UnreadableFile):
    """A FIFO, device, socket or folder where a file was expected: never read (a FIFO blocks
    forever, /dev/zero never ends)."""


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
                if len(item.text) > limits.MAX_ARTICLE_CHARS:
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
    head = article.text[:limits.MAX_ARTICLE_CHARS]
    for boundary in ("\n\n", ". ", " "):
        end = head.rfind(boundary)
        if end > limits.MAX_ARTICLE_CHARS // 2:
            head = head[:end + (1 if boundary == ". " else 0)]
            break
    article.text = head.rstrip()
    return Cut(article.path or article.id,
               f"article {article.id!r} cut to its first {len(article.text):,} of {whole:,} characters "
               f"(the limit is {limits.MAX_ARTICLE_CHARS:,}, about 250 passages); the rest is not indexed")


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
        if elements > limits.MAX_HTML_ELEMENTS:
            yield Skipped(str(path), f"too many HTML elements for one article ({elements:,}; the limit is "
                                     f"{limits.MAX_HTML_ELEMENTS:,})")
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


def _read_bounded(fh, path: Path, suffix: str, root: Path, fields: FieldMap):
    """The file's bytes, read up to its size limit whatever st_size says; or None once the
    file's items (a streamed JSON Lines feed, or a Skipped) have been yielded."""
    size = os.fstat(fh.fileno()).st_size
    limit, what = ((limits.MAX_RECORD_FILE_BYTES, "a .json or .csv file (use JSON Lines for bigger feeds)")
                   if suffix in RECORD_SUFFIXES else (limits.MAX_FEED_BYTES, "a feed file")
                   if suffix in FEED_SUFFIXES else (limits.MAX_ARTICLE_BYTES, "one article"))
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


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name
