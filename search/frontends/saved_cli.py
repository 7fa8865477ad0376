"""`byline saved`: name the searches you follow, run them from scripts and cron, see what is new.

The storage (definitions, seen-state, locking) is in `search.saved`; this module is the command
line around it. Heavy modules are imported inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from index import controls
from search.frontends.cli_common import IndexOpt, ModelOpt, error, fail, index_dir, output_format, search_options
from search.ranking.fusion import DEFAULT_FUSION

if TYPE_CHECKING:
    from search.retrieval.opened import OpenIndex
    from search.ranking.ranker import SearchOptions
    from search.saved import SavedSearch, SavedStore

saved_app = typer.Typer(
    help="Save the searches you follow and run them from scripts or cron; --new shows only what is new.\n\n"
    "Saved searches live in the index folder (saved/searches.json).\n\n"
    "[bold]Examples[/bold]\n\n"
    "  byline saved add sanctions \"sanctions on North Korea\"\n\n"
    "  byline saved run sanctions --new || exit 0",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

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


@saved_app.command("add")
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


@saved_app.command("edit")
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


@saved_app.command("list")
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


@saved_app.command("show")
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


@saved_app.command("rm")
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


@saved_app.command("export")
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


@saved_app.command("import")
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


@saved_app.command("run")
def run(
    ctx: typer.Context,
    names: Annotated[Optional[list[str]], typer.Argument(help="Saved searches to run.", show_default=False)] = None,
    run_all: Annotated[bool, typer.Option("--all", "-a", help="Run every saved search.")] = False,
    new: Annotated[bool, typer.Option("--new", help="Only articles not reported by an earlier --new run; exit 1 if there are none.")] = False,
    mark_seen: Annotated[bool, typer.Option("--mark-seen", help="Record the current results as seen, print nothing.")] = False,
    include_copies: Annotated[bool, typer.Option("--include-copies", help="With --new, also report copies (near-duplicates) of articles already reported.")] = False,
    reset: Annotated[bool, typer.Option("--reset", help="Forget what was seen (first, when given with --new or --mark-seen).")] = False,
    fmt: Annotated[Optional[str], typer.Option(
        "--format", "-o", help="table, json, jsonl, trec, ids, or atom (an Atom feed of one search, for feed "
        "readers) (default: the searches' own format, else table on a terminal, json when piped).",
        show_default=False)] = None,
    index: IndexOpt = None,
    model: ModelOpt = None,
) -> None:
    """Run saved searches; JSON and JSONL results carry each search's "name".

    With --new, only the articles this search has not reported before are shown (nor copies of
    them, unless --include-copies), and they are recorded once the output has been written. A search that fails (its query no longer parses,
    or it names a source the index lacks) is reported on stderr and the others still run.

    [bold]Examples[/bold]

      byline saved run sanctions

      byline saved run sanctions --new || exit 0

      byline saved run --all --new --format jsonl >> ~/news-alerts.jsonl

      byline saved run sanctions --format atom > ~/feeds/sanctions.atom

    Exit status: 0 with results, 1 with none (with --new: nothing new), 2 if a search failed.
    """
    from index.manifest import IndexProblem
    from search.rendering import output
    from search.engine import BadRequest, Engine
    from search.retrieval.lexical import QuerySyntaxError

    if run_all == bool(names):
        fail("give the NAMEs of saved searches, or --all (not both)")
    if new and mark_seen:
        fail("--new prints the new articles and records them; --mark-seen records without printing: "
             "choose one")
    store = _store(index)
    searches = _load(store)
    if run_all:
        chosen = sorted(searches.values(), key=lambda s: s.name)
        if not chosen:
            _note("No saved searches yet. Add one with: byline saved add NAME QUERY")
            raise typer.Exit(1)
    else:
        wanted = list(dict.fromkeys(names))
        unknown = [n for n in wanted if n not in searches]
        if unknown:
            fail(f"no saved search named {', '.join(map(repr, unknown))}; `byline saved list` shows them")
        chosen = [searches[n] for n in wanted]
    if fmt == "atom":
        if len(chosen) != 1:
            fail("--format atom writes the feed of one saved search: give one NAME")
    elif fmt is not None:
        try:
            output_format(fmt)
        except ValueError as exc:
            fail(str(exc))

    from search.saved import SavedError

    if new or mark_seen or reset:
        try:
            store.check_writable()  # before searching: a read-only index fails now, not after printing
            if new or mark_seen:  # held until the command ends (its context closes it, on errors too)
                ctx.with_resource(store.holding())
        except SavedError as exc:
            fail(str(exc))
    if reset:
        store.reset(s.name for s in chosen)
        _note(f"Forgot what {', '.join(repr(s.name) for s in chosen)} had seen.")
        if not (new or mark_seen):
            raise typer.Exit(0)

    try:
        engine = Engine(index_dir(index), model)
    except IndexProblem as exc:
        fail(str(exc))
    ix = engine.index
    known_sources = {src.lower() for src, _ in ix.store.sources()}
    failed = False
    ready = []  # (search, options, articles already seen)
    for s in chosen:
        try:
            _, options = _checked(s, ix)
            missing = _missing_sources(s, known_sources)
            if missing:
                have = ", ".join(sorted(src for src, _ in ix.store.sources())[:10]) or "none"
                raise ValueError(f"source {missing[0]!r} is not in the index (sources: {have})")
            seen = store.state(s.name).seen if (new or mark_seen) else None
        except QuerySyntaxError as exc:
            error(f"saved search {s.name}: bad query: {exc}")
            failed = True
            continue
        except (ValueError, IndexProblem) as exc:  # SavedError is a ValueError
            error(f"saved search {s.name}: {exc}")
            failed = True
            continue
        ready.append((s, options, seen))

    answers, reported = [], {}
    for s, options, seen in ready:
        try:
            results = engine.saved_results(s, seen if new else None, include_copies).results
        except (BadRequest, ValueError, IndexProblem) as exc:
            error(f"saved search {s.name}: {exc}")
            failed = True
            continue
        answers.append(output.Answer(s.name, s.query, results, extra={"name": s.name}))
        reported[s.name] = [r.article.id for r in results]

    if mark_seen:
        store.mark_seen(reported)
        for name, ids in reported.items():
            _note(f"{name}: {len(ids)} articles marked as seen")
        raise typer.Exit(2 if failed else 0)

    if answers:
        formats = {s.format for s, _, _ in ready}
        fmt = fmt if fmt == "atom" else output_format(fmt or (formats.pop() if len(formats) == 1 else None))
        modes = {s.mode for s, _, _ in ready}
        tag = f"byline-{modes.pop()}" if len(modes) == 1 else "byline-saved"
        try:
            if fmt == "atom":
                from search.rendering import atom

                [a] = answers
                sys.stdout.write(atom.feed(a.query_id, a.query, a.results))
            else:
                output.write(answers, fmt, sys.stdout, tag=tag, batch=run_all or len(chosen) > 1)
            # Record only what really reached stdout: a failed write or flush raises before that.
            sys.stdout.flush()
        except BrokenPipeError:
            raise  # the reader went away (e.g. `| head`): main() exits quietly, like search
        except OSError as exc:
            _discard_stdout()
            fail(f"cannot write the results ({exc.strerror or exc}); nothing was marked as seen")
        if new:
            try:
                store.mark_seen({name: ids for name, ids in reported.items() if ids})
            except SavedError as exc:
                fail(f"{exc}; nothing was marked as seen")
    raise typer.Exit(2 if failed else 0 if any(a.results for a in answers) else 1)


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so the unwritten rest does not fail again when Python exits."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (e.g. under a test runner)
        pass


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
