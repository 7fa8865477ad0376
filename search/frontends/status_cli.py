"""`byline status` and `byline doctor`: what an index holds and how it was built, and whether
every file of it is sound (with --repair to rebuild the indexes from the article store).

Heavy modules are imported inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from search.frontends.cli_common import IndexOpt, ModelOpt, fail, index_dir


def doctor(
    index: IndexOpt = None,
    model: ModelOpt = None,
    repair: Annotated[bool, typer.Option("--repair", help="Rebuild the Whoosh and FAISS indexes from the article store (and a lost manifest).")] = False,
    force: Annotated[bool, typer.Option("--force", help="With --repair: rebuild even when nothing was found.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Check an index: every file of it must be as written, and the manifest, the article
    store and both indexes must agree.

    --repair rebuilds the lexical and vector indexes from the stored articles (recreating a
    lost manifest.json from the store first); --repair --force rebuilds them even when the
    check found nothing.

    [bold]Examples[/bold]

      byline doctor

      byline doctor --repair

      byline doctor --repair --force

    Exit status: 0 when the index is healthy (or was repaired), 2 when it is not.
    """
    from index import doctor as checkup
    from index.embedder import Embedder, ModelNotFound
    from index.layout import IndexPaths
    from index.manifest import IndexProblem
    from index.models import model_for_folder

    if force and not repair:
        fail("--force goes with --repair: byline doctor --repair --force")
    paths = IndexPaths(index_dir(index))
    result = checkup.check(paths)
    repaired = False
    if repair and (force or not result.healthy) and result.repairable:
        try:
            notes = checkup.repair(paths, Embedder(model_for_folder(paths.root, model)))
        except (IndexProblem, ModelNotFound, OSError) as exc:
            fail(f"repair failed: {exc}")
        except KeyboardInterrupt:
            fail("interrupted; the index is as it was before this repair")
        repaired = True
        before, result = result, checkup.check(paths)
        result.notes[:0] = notes + [f"repaired: {'; '.join(before.problems) or 'rebuilt on request (--force)'}"]
    if as_json:
        typer.echo(json.dumps({"index": str(paths.root), "healthy": result.healthy, "repaired": repaired,
                               "problems": result.problems, "notes": result.notes}, indent=2))
    else:
        from index.controls import printable

        result = printable(result)  # paths and ids of the index, shown harmlessly
        for note in result.notes:
            typer.echo(f"note: {note}")
        for problem in result.problems:
            typer.echo(f"problem: {problem}")
        if result.healthy:
            typer.echo(f"{paths.root}: healthy")
        elif result.repairable and not repair:
            typer.echo("run `byline doctor --repair` to rebuild the indexes from the article store")
    raise typer.Exit(0 if result.healthy else 2)


def status(
    index: IndexOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show what an index holds and how it was built.

    [bold]Example[/bold]

      byline status --index ./news-index
    """
    from index.manifest import IndexProblem
    from search.engine import Engine

    try:
        with Engine(index_dir(index)) as engine:
            info = engine.status()
    except IndexProblem as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    from index.controls import printable

    info = printable(info)  # sources and the model's name come from the index

    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for key in ("index", "articles", "chunks", "model", "model_source", "dimension", "vector_index", "format_version", "updated"):
        table.add_row(key.replace("_", " "), str(info[key]))
    table.add_row("chunking", f"{info['chunking']['max_tokens']} tokens, {info['chunking']['overlap_sentences']} sentence overlap")
    table.add_row("dates", f"{info['first_date'] or '-'} to {info['last_date'] or '-'}")
    table.add_row("sources", ", ".join(f"{s} ({n})" for s, n in info["sources"].items()) or "-")
    table.add_row("size", f"{info['bytes'] / 1e6:.1f} MB")
    from rich.markup import escape

    from index.field_memory import describe

    for path, mapping in info["field_mappings"].items():
        table.add_row("fields", escape(f"{path}: {describe(mapping)}"))
    Console().print(table)
