"""`byline saved add`, `edit`, `rm`, `export` and `import`: write, change, remove and move the
definitions of saved searches, each checked against the index before it is stored.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from search.frontends.cli_common import IndexOpt, fail
from search.frontends.saved_common import (FusionOpt, KOpt, ModeOpt, NameArg, SavedFormatOpt, SinceOpt, SourceOpt,
                                           UntilOpt, _checked, _load, _note, _open, _missing_sources, _store)
from search.ranking.fusion import DEFAULT_FUSION

if TYPE_CHECKING:
    from search.retrieval.opened import OpenIndex
    from search.saved import SavedSearch, SavedStore


def _warn_unknown_sources(s: SavedSearch, ix: OpenIndex) -> None:
    known = {src.lower() for src, _ in ix.store.sources()}
    for src in _missing_sources(s, known):
        _note(f"byline: warning: no article in the index has source {src!r} yet; "
              f"running {s.name!r} will fail until one does")


def _save_definition(ix: OpenIndex, store: SavedStore, s: SavedSearch, *, replace_existing: bool,
                     must_exist: bool) -> None:
    """Validate `s` and store it; exits 2 with a clear message when that is not possible.

    A search replaced by `add --force` starts afresh (nothing seen); an edited one keeps its state.
    """
    from index.manifest import IndexProblem
    from search.retrieval.lexical import QuerySyntaxError
    from search.saved import SavedError

    try:
        s, _ = _checked(s, ix)
        with store.editing() as searches:
            if must_exist and s.name not in searches:
                raise SavedError(f"no saved search named {s.name!r}; `byline saved list` shows them")
            if s.name in searches and not replace_existing:
                raise SavedError(f"a saved search named {s.name!r} already exists; replace it with --force, "
                                 f"or change it with: byline saved edit {s.name}")
            if not must_exist:
                store.reset([s.name])
            searches[s.name] = s
    except QuerySyntaxError as exc:
        fail(f"bad query: {exc}")
    except (ValueError, IndexProblem) as exc:
        fail(str(exc))
    _warn_unknown_sources(s, ix)


def add(
    name: NameArg,
    query: Annotated[str, typer.Argument(help="Question or keywords, as for `byline search`.", show_default=False)],
    k: KOpt = None,
    mode: ModeOpt = None,
    source: SourceOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    fmt: SavedFormatOpt = None,
    fusion: FusionOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a saved search of that name (and forget what it had seen).")] = False,
    index: IndexOpt = None,
) -> None:
    """Save a search under a name, with the same options as `byline search`.

    The query and options are checked now, so a broken search is refused at once.
    Defaults: hybrid mode, -k 10, rrf fusion, no filters.

    [bold]Examples[/bold]

      byline saved add sanctions "sanctions on North Korea"

      byline saved add rates "central bank rate decisions" -s "Harbor Times" -k 5
    """
    from search.saved import SavedError, SavedSearch, check_name

    try:
        check_name(name)
    except SavedError as exc:
        fail(str(exc))
    store = _store(index)
    s = SavedSearch(name=name, query=query, mode=mode or "hybrid", k=k or 10, source=list(source or []),
                    since=since, until=until, fusion=fusion or DEFAULT_FUSION, format=fmt or None)
    _save_definition(_open(index), store, s, replace_existing=force, must_exist=False)
    _note(f"Saved {name!r}. Run it with: byline saved run {name}")


def edit(
    name: NameArg,
    query: Annotated[Optional[str], typer.Option("--query", help="A new query.", show_default=False)] = None,
    k: KOpt = None,
    mode: ModeOpt = None,
    source: Annotated[Optional[list[str]], typer.Option(
        "--source", "-s", help="Replace the sources (repeatable); --source '' removes the filter.", show_default=False)] = None,
    since: Annotated[Optional[str], typer.Option(help="New start date; --since '' removes it.", show_default=False)] = None,
    until: Annotated[Optional[str], typer.Option(help="New end date; --until '' removes it.", show_default=False)] = None,
    fmt: Annotated[Optional[str], typer.Option(
        "--format", "-o", help="New output format; --format '' goes back to the default.", show_default=False)] = None,
    fusion: FusionOpt = None,
    index: IndexOpt = None,
) -> None:
    """Change a saved search: any option, or the query. What it has seen is kept.

    [bold]Examples[/bold]

      byline saved edit rates --query "interest rate decision" -k 20

      byline saved edit rates --source "" --since 2024-01-01
    """
    store = _store(index)
    current = _load(store).get(name)
    if current is None:
        fail(f"no saved search named {name!r}; `byline saved list` shows them")
    if all(v is None for v in (query, k, mode, source, since, until, fmt, fusion)):
        fail("nothing to change; give the options to change, e.g. --query TEXT or -k 20")
    changes: dict = {"query": query, "k": k, "mode": mode, "fusion": fusion}
    changes = {key: value for key, value in changes.items() if value is not None}
    if source is not None:
        changes["source"] = [s for s in source if s.strip()]
    # An empty value clears an optional setting.
    for key, value in (("since", since), ("until", until), ("format", fmt)):
        if value is not None:
            changes[key] = value or None
    _save_definition(_open(index), store, replace(current, **changes), replace_existing=True, must_exist=True)
    _note(f"Updated {name!r}.")


def rm(
    names: Annotated[list[str], typer.Argument(help="Saved searches to remove.", show_default=False)],
    index: IndexOpt = None,
) -> None:
    """Remove saved searches and what they had seen.

    [bold]Example[/bold]

      byline saved rm rates
    """
    from search.saved import SavedError

    store = _store(index)
    try:
        store.remove(list(dict.fromkeys(names)))
    except SavedError as exc:
        fail(str(exc))
    _note(f"Removed {', '.join(map(repr, names))}.")


def export(
    names: Annotated[Optional[list[str]], typer.Argument(help="Only these saved searches (default: all).", show_default=False)] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-O", help="Write to FILE instead of standard output.", show_default=False)] = None,
    index: IndexOpt = None,
) -> None:
    """Print the saved searches' definitions as JSON (what `byline saved import` reads).

    [bold]Examples[/bold]

      byline saved export > my-searches.json

      byline saved export sanctions rates --output my-searches.json
    """
    from index.manifest import write_atomic
    from search.saved import dumps

    searches = _load(_store(index))
    unknown = [n for n in names or [] if n not in searches]
    if unknown:
        fail(f"no saved search named {', '.join(map(repr, unknown))}")
    chosen = [searches[n] for n in sorted(set(names))] if names else sorted(searches.values(), key=lambda s: s.name)
    text = dumps(chosen)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        write_atomic(output, text)
    except OSError as exc:
        fail(f"cannot write {output}: {exc}")
    _note(f"Exported {len(chosen)} saved searches to {output}.")


def import_(
    file: Annotated[Path, typer.Argument(help="A file written by `byline saved export`.", show_default=False)],
    force: Annotated[bool, typer.Option("--force", help="Replace saved searches that have the same names.")] = False,
    index: IndexOpt = None,
) -> None:
    """Add the saved searches of FILE to this index's; existing names are refused unless --force.

    Every search is checked first; if one is refused, none is imported.

    [bold]Example[/bold]

      byline saved import my-searches.json --index ~/news-index
    """
    from index.manifest import IndexProblem
    from search.retrieval.lexical import QuerySyntaxError
    from search.saved import SavedError, read_file

    store = _store(index)
    ix = _open(index)
    try:
        incoming = read_file(file)
    except SavedError as exc:
        fail(str(exc))
    checked = []
    for s in incoming.values():
        try:
            checked.append(_checked(s, ix)[0])
        except QuerySyntaxError as exc:
            fail(f"{file}: saved search {s.name}: bad query: {exc}")
        except (ValueError, IndexProblem) as exc:
            fail(f"{file}: saved search {s.name}: {exc}")
    try:
        with store.editing() as searches:
            clashes = sorted(s.name for s in checked if s.name in searches)
            if clashes and not force:
                raise SavedError(f"already saved: {', '.join(clashes)}; nothing imported "
                                 "(use --force to replace them)")
            store.reset(clashes)
            for s in checked:
                searches[s.name] = s
    except SavedError as exc:
        fail(str(exc))
    for s in checked:
        _warn_unknown_sources(s, ix)
    replaced = f" ({len(clashes)} replaced)" if clashes else ""
    _note(f"Imported {len(checked)} saved searches{replaced} from {file}.")
