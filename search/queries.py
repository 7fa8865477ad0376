"""Read a batch of queries: JSON Lines with `_id` and `text`, or one plain query a line."""

from __future__ import annotations

import json
from pathlib import Path


class QueryFileError(ValueError):
    """A queries file that cannot be read; the message names the file and line."""


def read_queries(path: Path) -> list[tuple[str, str]]:
    """(query id, text) pairs. Plain lines are numbered from 1; blank lines are ignored."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QueryFileError(f"cannot read queries file {path}: {exc}") from None
    out: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise QueryFileError(f"{path}:{number}: invalid JSON: {exc.msg}") from None
            qtext = record.get("text") or record.get("query")
            if not isinstance(qtext, str) or not qtext.strip():
                raise QueryFileError(f"{path}:{number}: no \"text\" in query record")
            qid = record.get("_id", record.get("id", number))
            out.append((_query_id(qid, path, number), qtext.strip()))
        else:
            out.append((str(number), line))
    if not out:
        raise QueryFileError(f"no queries in {path}")
    return out


def _query_id(value: object, path: Path, number: int) -> str:
    """A query id as written in TREC runs: a string, or an integer written in decimal; anything
    else (null, true, 1.5, a list) would be written as Python's repr of it, so it is refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise QueryFileError(f"{path}:{number}: query id {json.dumps(value)} is not a string or an integer")
    if not value.strip() or any(c.isspace() for c in value):
        raise QueryFileError(f"{path}:{number}: query id {json.dumps(value)} is empty or has spaces, "
                             "which TREC run files cannot hold")
    return value
