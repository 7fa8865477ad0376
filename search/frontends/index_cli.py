"""`byline index`: add, sync and remove the articles of an index, with a progress bar while
reading and a summary (or JSON) at the end.

The writing itself is in `index.builder`; this module is the command line around it. Heavy modules
are imported inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from search.frontends.cli_common import IndexOpt, ModelOpt, fail, index_dir

index_app = typer.Typer(help="Add, update and remove the articles of an index.", no_args_is_help=True)


def _index_sources(paths: list[Path], index: Path | None, model: str | None, field: list[str] | None,
                   max_tokens: int, overlap: int, as_json: bool, quiet: bool, sync: bool,
                   backend: str | None = None, milvus_uri: str | None = None) -> None:
    """`index add` and `index sync`: read sources with a progress bar, then print a summary."""
    from index.builder import Backend, Progress, add_paths
    from index.chunker import ChunkingParams
    from index import controls
    from index.documents import Cut, UnreadFields
    from index.embedder import Embedder, ModelNotFound
    from index.layout import IndexPaths
    from index.manifest import IndexProblem
    from index.models import model_for_folder
    from index.readers import FieldMap

    if max_tokens < 32 or max_tokens > 512 or overlap < 0 or overlap > 5:
        fail("--max-tokens must be between 32 and 512 and --overlap between 0 and 5")
    root = index_dir(index)
    try:
        fields = FieldMap.parse(field or [])
        info = model_for_folder(root, model)
    except (ValueError, ModelNotFound) as exc:
        fail(str(exc))
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        fail(f"no such file or folder: {', '.join(missing)}")
    params = ChunkingParams(max_tokens=max_tokens, overlap_sentences=overlap)
    chosen = None  # an existing index keeps its backend; a new one is local unless told
    if backend not in (None, "local", "milvus") or (backend == "milvus") != (milvus_uri is not None):
        fail("--backend is local or milvus, and --backend milvus needs --milvus-uri (./archive.db or http://host:19530)")
    if backend is not None:
        from index.milvus_backend import normalise_uri

        try:
            chosen = Backend(backend, normalise_uri(milvus_uri) if milvus_uri else None)
        except IndexProblem as exc:
            fail(str(exc))

    import time

    from rich.console import Console
    from rich.markup import escape
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    err = Console(stderr=True, highlight=False)
    bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("files"),
              TextColumn("{task.fields[articles]} articles, {task.fields[chunks]} chunks{task.fields[rate]}"),
              TimeElapsedColumn(), TextColumn("elapsed,"), TimeRemainingColumn(), TextColumn("left"),
              console=err, transient=True,
              disable=quiet)
    task = bar.add_task("reading", total=None, articles=0, chunks=0, rate="")
    embedding_since: list[tuple[float, int]] = []  # (time, chunks) once the model is ready: the rate counts from then

    shown: set[int] = set()

    def show(skipped) -> None:
        shown.add(id(skipped))
        if not quiet:
            label = "cut" if isinstance(skipped, Cut) else "note" if isinstance(skipped, UnreadFields) else "skipped"
            where, reason = controls.shown(skipped.path), controls.shown(skipped.reason)
            err.print(f"[yellow]{label}[/yellow] {escape(where)}: {escape(reason)}", markup=True, highlight=False)

    def on_progress(p: Progress) -> None:
        if p.skipped:
            show(p.skipped)
        if p.stage == "indexing" and p.chunks and not embedding_since:
            embedding_since.append((time.perf_counter(), p.chunks))
        rate = ""
        if embedding_since and time.perf_counter() - embedding_since[0][0] > 1:
            since, before = embedding_since[0]
            rate = f" ({(p.chunks - before) / (time.perf_counter() - since):.0f}/s)"
        bar.update(task, description=p.stage, total=p.files_total, completed=p.files_done, articles=p.articles,
                   chunks=p.chunks, rate=rate)

    try:
        with bar:
            report = add_paths(IndexPaths(root), paths, Embedder(info), fields, params, on_progress, sync=sync,
                               backend=chosen)
    except (IndexProblem, OSError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted; the index is as it was before this run")
    for skipped in report.skipped:  # those the writer skipped itself, such as duplicate ids
        if id(skipped) not in shown:
            show(skipped)
    _summary(report, root, as_json)


def _summary(report, root: Path, as_json: bool) -> None:
    from index.documents import Cut, UnreadFields
    from index.field_memory import describe

    cut = [s for s in report.skipped if isinstance(s, Cut)]
    notes = [s for s in report.skipped if isinstance(s, UnreadFields)]
    skips = [s for s in report.skipped if not isinstance(s, (Cut, UnreadFields))]
    summary = {
        "index": str(root), "new": report.new, "changed": report.changed, "unchanged": report.unchanged,
        "removed": report.removed, "chunks": report.chunks,
        "skipped": [{"path": s.path, "reason": s.reason} for s in skips],
        "cut": [{"path": s.path, "reason": s.reason} for s in cut],
        "unread_fields": [{"path": s.path, "note": s.reason} for s in notes],
        "fields_remembered": report.fields_remembered,
        "kept": report.kept,
        "seconds": round(report.seconds, 2),
    }
    if report.interrupted_after_commit:
        summary["interrupted_after_commit"] = True
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    if report.interrupted_after_commit:
        typer.echo("byline: interrupted after the commit point: this run was committed", err=True)
    for path, mapping in report.fields_remembered.items():
        typer.echo(f"Read {path} with the field mappings given earlier: {describe(mapping)}", err=True)
    if report.kept:
        kept = ", ".join(f"{n} {attr}{'s' if n != 1 else ''}" for attr, n in sorted(report.kept.items()))
        typer.echo(f"Kept {kept} stored earlier that the sources no longer give", err=True)
    skipped = (f"; {len(skips)} skipped" if skips else "") + (f"; {len(cut)} cut short" if cut else "")
    removed = f", {report.removed} removed" if report.removed else ""
    typer.echo(
        f"Indexed {report.articles} articles ({report.new} new, {report.changed} changed, "
        f"{report.unchanged} unchanged{removed}) as {report.chunks} chunks in {report.seconds:.1f} s{skipped}.\n"
        f"Index: {root}", err=True)


FieldOpt = Annotated[Optional[list[str]], typer.Option(
    "--field", "-f", metavar="ATTR=NAME",
    help="Map a JSON/CSV field to an article attribute (id, title, text, date, source, url, author).")]
MaxTokensOpt = Annotated[int, typer.Option(help="Passage size in model tokens, title included (new indexes).")]
OverlapOpt = Annotated[int, typer.Option(help="Sentences shared by consecutive passages (new indexes).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or skipped-file lines.")]


def _sources_command(sync: bool, doc: str):
    """`index add` and `index sync` take the same options; only `sync` removes vanished files."""

    def command(
        paths: Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).", show_default=False)],
        index: IndexOpt = None,
        model: ModelOpt = None,
        field: FieldOpt = None,
        max_tokens: MaxTokensOpt = 200,
        overlap: OverlapOpt = 1,
        as_json: JsonOpt = False,
        quiet: QuietOpt = False,
        backend: Annotated[Optional[str], typer.Option(help="New indexes: local (Whoosh and FAISS files, the default) or milvus.", show_default=False)] = None,
        milvus_uri: Annotated[Optional[str], typer.Option(help="With --backend milvus: ./archive.db (milvus-lite) or http://host:19530 (a server; token from $BYLINE_MILVUS_TOKEN).", show_default=False)] = None,
    ) -> None:
        _index_sources(paths, index, model, field, max_tokens, overlap, as_json, quiet, sync=sync,
                       backend=backend, milvus_uri=milvus_uri)

    command.__doc__ = doc
    return command


index_app.command("add")(_sources_command(False, """Index articles from files and folders: .txt .md .html .json .jsonl .csv, and RSS/Atom feeds (.xml .rss .atom).

    Unchanged articles are skipped and changed ones re-indexed, so running it again on a
    growing folder is cheap. Unreadable files are listed and skipped; the rest go on.
    Each run is atomic: interrupted, the index stays as it was.

    [bold]Examples[/bold]

      byline index add ~/news

      byline index add feed.jsonl --field text=story --field date=pub_time

      byline index add downloads/harbor-wire.rss
    """))

index_app.command("sync")(_sources_command(True, """Make the index match folders: add new articles, update changed ones, and remove
    articles whose files under these folders are gone.

    [bold]Example[/bold]

      byline index sync ~/news
    """))


@index_app.command("rm")
def index_rm(
    names: Annotated[list[str], typer.Argument(help="Article ids or file paths.", show_default=False)],
    index: IndexOpt = None,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove articles by id (as shown in results) or by the file they were read from.

    [bold]Examples[/bold]

      byline index rm 2022-01-14-north-korea-talks.txt

      byline index rm ~/news/old/*.txt

    Exit status: 0 when all were removed, 1 when some were not in the index, 2 on errors.
    """
    from index.builder import remove_articles
    from index.embedder import Embedder, ModelNotFound
    from index.layout import IndexPaths
    from index.manifest import IndexProblem, load_manifest
    from index.models import model_for_index

    root = index_dir(index)
    try:
        manifest = load_manifest(IndexPaths(root))
        report, missing = remove_articles(IndexPaths(root), Embedder(model_for_index(manifest, model)), names)
    except (IndexProblem, ModelNotFound, OSError) as exc:
        fail(str(exc))
    for name in missing:
        typer.echo(f"byline: not in the index: {name}", err=True)
    if as_json:
        _summary(report, root, as_json)
    else:
        left = load_manifest(IndexPaths(root)).articles
        typer.echo(f"Removed {report.removed} article{'' if report.removed == 1 else 's'}; "
                   f"the index holds {left} article{'' if left == 1 else 's'}.\nIndex: {root}", err=True)
    raise typer.Exit(1 if missing else 0)
