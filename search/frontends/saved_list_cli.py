"""`byline saved list` and `byline saved show`: the saved searches as a table, text or JSON, each
with what it has seen and the `byline search` command that runs the same search.
"""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Annotated

import typer

from index import controls
from search.frontends.cli_common import IndexOpt, fail
from search.frontends.saved_common import NameArg, _load, _note, _store
from search.ranking.fusion import DEFAULT_FUSION

if TYPE_CHECKING:
    from search.saved import SavedSearch, SavedStore


def list_(
    fmt: Annotated[str, typer.Option("--format", "-o", help="table or json.")] = "table",
    index: IndexOpt = None,
) -> None:
    """List the saved searches, with how many articles each has already reported.

    [bold]Examples[/bold]

      byline saved list

      byline saved list --format json | jq -r '.[].name'
    """
    if fmt not in ("table", "json"):
        fail(f"unknown --format {fmt!r}; choose table or json")
    store = _store(index)
    rows = [_describe(store, s) for s in sorted(_load(store).values(), key=lambda s: s.name)]
    if fmt == "json":
        typer.echo(controls.json_text(json.dumps(rows, indent=2, ensure_ascii=False)))
        return
    rows = controls.printable(rows)  # the definitions file comes with the index folder
    if not rows:
        _note("No saved searches yet. Add one with: byline saved add NAME QUERY")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(expand=True)
    table.add_column("name", no_wrap=True)
    table.add_column("query", ratio=2, min_width=16, overflow="fold")
    table.add_column("mode", no_wrap=True)
    table.add_column("k", justify="right", no_wrap=True)
    table.add_column("filters", ratio=1, overflow="fold")
    table.add_column("format", no_wrap=True)
    table.add_column("seen", justify="right", no_wrap=True)
    for row in rows:
        table.add_row(row["name"], row["query"], row["mode"], str(row["k"]), _filters_text(row),
                      row["format"] or "-", "?" if row["seen"] is None else str(row["seen"]))
    Console(highlight=False, soft_wrap=False).print(table)


def show(
    name: NameArg,
    fmt: Annotated[str, typer.Option("--format", "-o", help="text or json.")] = "text",
    index: IndexOpt = None,
) -> None:
    """Show one saved search, the equivalent `byline search` command and what it has seen.

    [bold]Example[/bold]

      byline saved show rates
    """
    if fmt not in ("text", "json"):
        fail(f"unknown --format {fmt!r}; choose text or json")
    store = _store(index)
    s = _load(store).get(name)
    if s is None:
        fail(f"no saved search named {name!r}; `byline saved list` shows them")
    row = _describe(store, s)
    if fmt == "json":
        typer.echo(controls.json_text(json.dumps(row, indent=2, ensure_ascii=False)))
        return
    seen = "unreadable state file" if row["seen"] is None else f"{row['seen']} articles"
    if row["seen_updated"]:
        seen += f" (last updated {row['seen_updated']})"
    lines = [
        ("name", s.name), ("query", s.query), ("mode", s.mode), ("k", str(s.k)),
        ("filters", _filters_text(row)), ("fusion", s.fusion),
        ("format", s.format or "default (table on a terminal, json when piped)"),
        ("seen", seen), ("command", row["command"]),
    ]
    for key, value in lines:
        typer.echo(f"{key:<8} {controls.shown(value)}")


def _describe(store: SavedStore, s: SavedSearch) -> dict:
    """A saved search as shown by list/show: its definition, seen count and search command."""
    from search.saved import SavedError

    try:
        state = store.state(s.name)
        seen, updated = len(state.seen), state.updated
    except SavedError:
        seen, updated = None, None
    return {"name": s.name, **s.to_json(), "seen": seen, "seen_updated": updated, "command": _command(s)}


def _command(s: SavedSearch) -> str:
    """The `byline search` command that runs the same search."""
    parts = ["byline", "search", s.query]
    if s.mode != "hybrid":
        parts += ["--mode", s.mode]
    if s.k != 10:
        parts += ["-k", str(s.k)]
    for src in s.source:
        parts += ["--source", src]
    if s.since:
        parts += ["--since", s.since]
    if s.until:
        parts += ["--until", s.until]
    if s.fusion != DEFAULT_FUSION:
        parts += ["--fusion", s.fusion]
    if s.format:
        parts += ["--format", s.format]
    return shlex.join(parts)


def _filters_text(row: dict) -> str:
    parts = [f"source: {', '.join(row['source'])}"] if row["source"] else []
    if row["since"] or row["until"]:
        parts.append(f"{row['since'] or '…'} to {row['until'] or '…'}")
    return "; ".join(parts) or "-"
