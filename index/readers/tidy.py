"""Small tidy-ups of the strings the format readers extract: a value on one line, an optional value
as a string or None, and whether two strings are the same text (a headline repeated as the first
paragraph)."""

from __future__ import annotations

import re


def _same_text(a: str, b: str) -> bool:
    norm = lambda s: re.sub(r"\W+", " ", s).strip().lower()  # noqa: E731
    return norm(a) == norm(b)


def _one_line(value: object) -> str:
    return re.sub(r"\s+", " ", str(value)).strip()


def _opt_str(value: object) -> str | None:
    return _one_line(value) if value not in (None, "") else None
