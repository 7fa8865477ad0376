"""What the `byline saved` commands share: their options, opening the saved searches and the
index (a missing one is a clear error, exit 2), and checking a saved search against the index.

Heavy modules are imported inside the functions, so `--help` stays fast.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from search.frontends.cli_common import fail, index_dir, output_format, search_options

if TYPE_CHECKING:
    from search.retrieval.opened import OpenIndex
    from search.ranking.ranker import SearchOptions
    from search.saved import SavedSearch, SavedStore


NameArg = Annotated[str, typer.Argument(help="The saved search's name: letters, digits, '-' and '_'.", show_default=False)]
KOpt = Annotated[Optional[int], typer.Option("-k", "--limit", help="Number of articles to return.", min=1, max=10000, show_default=False)]
ModeOpt = Annotated[Optional[str], typer.Option("--mode", "-m", help="hybrid, lexical (BM25, no model) or semantic.", show_default=False)]
SourceOpt = Annotated[Optional[list[str]], typer.Option("--source", "-s", help="Only articles from this source (repeatable, any case).", show_default=False)]
SinceOpt = Annotated[Optional[str], typer.Option(help="Only articles dated on or after this day (YYYY-MM-DD).", show_default=False)]
UntilOpt = Annotated[Optional[str], typer.Option(help="Only articles dated on or before this day (YYYY-MM-DD).", show_default=False)]
FusionOpt = Annotated[Optional[str], typer.Option(help="Hybrid fusion: rrf (reciprocal rank) or convex (normalised scores).", show_default=False)]
SavedFormatOpt = Annotated[Optional[str], typer.Option(
    "--format", "-o", help="Output format when run: table, json, jsonl, trec or ids (default: table on a terminal, json when piped).",
    show_default=False)]


def _note(message: str) -> None:
    typer.echo(message, err=True)


def _store(index: Path | None) -> SavedStore:
    """The saved searches of an existing index (a missing index is a clear error, exit 2)."""
    from index.layout import IndexPaths
    from index.manifest import IndexProblem, load_manifest
    from search.saved import SavedStore

    root = index_dir(index)
    try:
        load_manifest(IndexPaths(root))
    except IndexProblem as exc:
        fail(str(exc))
    return SavedStore(root)


def _open(index: Path | None, model: str | None = None) -> OpenIndex:
    from index.manifest import IndexProblem
    from search.retrieval.opened import OpenIndex

    try:
        return OpenIndex(index_dir(index), model)
    except IndexProblem as exc:
        fail(str(exc))


def _load(store: SavedStore) -> dict[str, SavedSearch]:
    from search.saved import SavedError

    try:
        return store.load()
    except SavedError as exc:
        fail(str(exc))


def _checked(s: SavedSearch, ix: OpenIndex) -> tuple[SavedSearch, SearchOptions]:
    """`s` with its filters normalised, and its search options; ValueError if it could never run."""
    from search.retrieval.lexical import parse_query
    from search.saved import check_name

    check_name(s.name)
    options = search_options(s.mode, s.k, s.source, s.since, s.until, s.fusion)
    if s.format is not None:
        output_format(s.format)
    if s.mode != "semantic":
        parse_query(s.query, ix.lexical.schema)
    elif not s.query.strip():
        raise ValueError("the query is empty")
    f = options.filters
    return replace(s, source=list(f.sources), since=f.since, until=f.until), options


def _missing_sources(s: SavedSearch, known: set[str]) -> list[str]:
    return [src for src in s.source if src.strip() and src.strip().lower() not in known]
