"""File bytes and file names to text: UTF-8 (BOM allowed), UTF-16 with its byte-order mark, else
Windows-1252; binary and empty files refused with `UnreadableFile`; and any string made valid UTF-8
for storing and printing (`utf8_text`)."""

from __future__ import annotations


class UnreadableFile(Exception):
    """A file that cannot be read as text; the message says why."""


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
