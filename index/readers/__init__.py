"""Read articles from files: plain text, Markdown, HTML, JSON, JSONL, CSV, and RSS/Atom feeds.

`read_paths` walks files and folders and yields an `Article` for every article it can read and a
`Skipped` for every file or record it cannot, so one bad file never stops the rest. One module a
format family (`text`, `html`, `feeds`, `records`); `registry` picks the reader for each file and
guards it; `limits` holds the caps (lower one for a test with `monkeypatch.setattr(limits, ...)`:
the names re-exported here are copies); `decoding` and `tidy` are shared by the readers.
"""

from index.readers.decoding import UnreadableFile, decode, utf8_text
from index.readers.feeds import FEED_SUFFIXES, read_feed
from index.readers.html import HTML_SUFFIXES, parse_html
from index.readers.limits import (MAX_ARTICLE_BYTES, MAX_ARTICLE_CHARS, MAX_FEED_BYTES, MAX_HTML_ELEMENTS,
                                  MAX_RECORD_FILE_BYTES)
from index.readers.records import DEFAULT_FIELDS, RECORD_SUFFIXES, FieldMap, unread_fields_note
from index.readers.registry import SUPPORTED_SUFFIXES, NotRegularFile, discover, open_regular, read_file, read_paths
from index.readers.text import MARKDOWN_SUFFIXES, TEXT_SUFFIXES, parse_plain

__all__ = [
    "DEFAULT_FIELDS", "FEED_SUFFIXES", "HTML_SUFFIXES", "MARKDOWN_SUFFIXES", "MAX_ARTICLE_BYTES", "MAX_ARTICLE_CHARS",
    "MAX_FEED_BYTES", "MAX_HTML_ELEMENTS", "MAX_RECORD_FILE_BYTES", "RECORD_SUFFIXES", "SUPPORTED_SUFFIXES",
    "TEXT_SUFFIXES", "FieldMap", "NotRegularFile", "UnreadableFile", "decode", "discover", "open_regular",
    "parse_html", "parse_plain", "read_feed", "read_file", "read_paths", "unread_fields_note", "utf8_text",
]
