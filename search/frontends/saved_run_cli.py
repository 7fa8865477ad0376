"""`byline saved run`: run saved searches, show only what is new (--new) or record it as seen
(--mark-seen), and write the results in any output format or as an Atom feed.

Exit status: 0 with results, 1 with none (with --new: nothing new), 2 if a search failed.
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from search.frontends.cli_common import IndexOpt, ModelOpt, error, fail, index_dir, output_format
from search.frontends.saved_common import _checked, _load, _missing_sources, _note, _store


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
        engine = ctx.with_resource(Engine(index_dir(index), model))  # closed when the command ends
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
