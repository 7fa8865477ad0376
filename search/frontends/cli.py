"""The `byline` command line: index articles, search them, inspect the index.

Exit status, like grep: 0 when results were found, 1 when none, 2 on usage or index errors.
Heavy modules are imported inside the commands that need them, so `--help` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from search.frontends import stories_cli
from search.frontends.cli_common import IndexOpt, ModelOpt, fail, index_dir, output_format, quiet_stdout, stdout_failed
from search.frontends.cli_group import BylineGroup, print_version
from search.ranking.fusion import DEFAULT_FUSION

app = typer.Typer(
    cls=BylineGroup,
    name="byline",
    help="Hybrid full-text and semantic search for news articles.\n\n"
    "Index a folder once, then ask questions in your own words or with exact keywords:\n\n"
    "  byline index add ~/news\n\n"
    "  byline search \"who proposed talks without preconditions\"",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
)


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=print_version, is_eager=True,
                                          help="Print byline's version and exit.")] = False,
) -> None:
    pass

index_app = typer.Typer(help="Add, update and remove the articles of an index.", no_args_is_help=True)
app.add_typer(index_app, name="index")

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


@app.command()
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


@app.command()
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
        info = Engine(index_dir(index)).status()
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


@app.command()
def search(
    query: Annotated[Optional[str], typer.Argument(help="Question or keywords; Whoosh syntax works: title:korea, \"exact phrase\", AND/OR/NOT.", show_default=False)] = None,
    k: Annotated[int, typer.Option("-k", "--limit", metavar="N", help="Number of articles to return (up to 10000).", min=1, max=10000)] = 10,
    mode: Annotated[str, typer.Option("--mode", "-m", help="hybrid, lexical (BM25, no model) or semantic.")] = "hybrid",
    source: Annotated[Optional[list[str]], typer.Option("--source", "-s", help="Only articles from this source (repeatable, any case).")] = None,
    since: stories_cli.SinceOpt = None,
    until: stories_cli.UntilOpt = None,
    fmt: Annotated[Optional[str], typer.Option("--format", "-o", help="table, json, jsonl, trec or ids (default: table on a terminal, json when piped).", show_default=False)] = None,
    queries: Annotated[Optional[Path], typer.Option("--queries", "-Q", metavar="FILE", help="Run every query in FILE: JSONL {\"_id\", \"text\"} or one query a line.")] = None,
    fusion: Annotated[str, typer.Option(help="Hybrid fusion: rrf (reciprocal rank) or convex (normalised scores).")] = DEFAULT_FUSION,
    collapse: stories_cli.CollapseOpt = True,
    sort: stories_cli.SortOpt = "relevance",
    recent: stories_cli.RecentOpt = False,
    half_life: stories_cli.HalfLifeOpt = 30.0,
    all_results: Annotated[bool, typer.Option("--all", "--no-floor", help="Also list the results with no evidence for the query (neither its words nor its meaning), which hybrid and semantic search leave out.")] = False,
    answer: Annotated[bool, typer.Option("--answer", "-a", help="Print only the answer of the top result: its sentence, with the article's title, date and source.")] = False,
    no_server: Annotated[bool, typer.Option("--no-server", help="Do not use a running `byline serve` for this index; open it here.")] = False,
    index: IndexOpt = None,
    model: ModelOpt = None,
) -> None:
    """Search the index; the best articles come first, each with the sentence that answers
    the query (when one does) and its best passage.

    Copies of one story (near-duplicates) are shown once, with "+N copies"; -k counts stories.

    When `byline serve` runs for the same index, the search is sent to it (its index and model
    are already loaded, so the answer comes in milliseconds); --no-server opens the index here.

    [bold]Examples[/bold]

      byline search "who proposed talks without preconditions"

      byline search -a "who proposed talks without preconditions"

      byline search '"no preconditions" AND sanctions' --mode lexical

      byline search "rate decision" -s "Harbor Times" --since 2023-01-01 -o jsonl

      byline search --queries questions.jsonl --format trec > run.txt

      byline search "rail strike" --sort date

      byline search "interest rates" --recent --half-life 90

    Exit status: 0 with results, 1 with none (with --answer: no answer), 2 on errors.
    """
    from index.manifest import IndexProblem
    from search.rendering import output
    from search.engine import BadRequest, SearchRequest
    from search.queries import QueryFileError, read_queries

    if (query is None) == (queries is None):
        fail("give a QUERY or --queries FILE (not both)")
    try:
        fmt = output_format(fmt)
        request = SearchRequest(query or "", k, mode, tuple(source or ()), since, until, fusion, collapse, sort,
                                recent, half_life, floor=not all_results)
        batch = read_queries(queries) if queries else [("1", query)]
        texts = [text for _, text in batch]
        root = index_dir(index)
        results = None if no_server or model else _through_server(root, request, texts, answer)
        if results is None:
            from search.engine import Engine

            responses = Engine(root, model).search_many(texts, request, answer_limit=1 if answer else None)
            results = [(r.results, r.extra) for r in responses]
    except (BadRequest, ValueError, QueryFileError, IndexProblem) as exc:
        fail(str(exc))
    answers = [output.Answer(qid, text, res, extra or None) for (qid, text), (res, extra) in zip(batch, results)]
    try:
        if answer:
            complete = output.write_answer_lines(answers, sys.stdout, batch=queries is not None)
        else:
            output.write(answers, fmt, sys.stdout, tag=f"byline-{mode}", batch=queries is not None)
        sys.stdout.flush()
    except BrokenPipeError:
        raise  # the reader went away (e.g. `| head`): main() exits quietly
    except OSError as exc:
        stdout_failed(exc)
    if answer:
        raise typer.Exit(0 if complete else 1)
    raise typer.Exit(0 if any(a.results for a in answers) else 1)


@app.command()
def show(
    article_id: Annotated[str, typer.Argument(metavar="ID", help="An article id, as shown in results.", show_default=False)],
    fmt: Annotated[Optional[str], typer.Option("--format", "-o", help="table or json (default: table on a terminal, json when piped).", show_default=False)] = None,
    index: IndexOpt = None,
) -> None:
    """Print an article in full: its title, date, source, address and whole text.

    [bold]Examples[/bold]

      byline show 2022-01-14-north-korea-talks.txt

      byline show 2022-01-14-north-korea-talks.txt -o json | jq -r .text

    Exit status: 0 when shown, 2 when the index has no such article.
    """
    from index.manifest import IndexProblem
    from search.engine import Engine, NotFound
    from search.rendering import output

    try:
        fmt = output_format(fmt)
        if fmt not in ("table", "json"):
            raise ValueError(f"unknown --format {fmt!r}; choose table or json")
        article = Engine(index_dir(index)).get_article(article_id)
    except (ValueError, NotFound, IndexProblem) as exc:
        fail(str(exc).strip("'\""))
    output.write_article(article, fmt, sys.stdout)


def _through_server(root: Path, request, texts: list[str], answer: bool):
    """The results from a running `byline serve` of this index, or None to search here."""
    from dataclasses import asdict

    from search.frontends import discovery
    from search.rendering import output
    from search.rendering.output import result_from_dict

    info = discovery.find(root)
    if info is None:
        return None
    body = {**asdict(request), "source": list(request.source), "queries": texts,
            "answer_limit": 1 if answer else None, "wire": True}
    try:
        reply = discovery.post(info, "/search", body)
    except discovery.ServerError as exc:
        if exc.status in (400, 404):
            fail(str(exc))
        return None  # a server in trouble (or another program on the port): search here
    except (OSError, ValueError):
        return None
    return [([result_from_dict(d) for d in one["results"]], output.spelling_of(one)) for one in reply["responses"]]


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on; the default serves this machine only.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8765,
    token: Annotated[Optional[str], typer.Option(envvar="BYLINE_TOKEN", help="Require `Authorization: Bearer TOKEN` on every API call (the page: open /#token=TOKEN).", show_default=False)] = None,
    allow_index: Annotated[bool, typer.Option("--allow-index", help="Add the write endpoint POST /index (the server is read-only without it); needs --token.")] = False,
    index: IndexOpt = None,
    model: ModelOpt = None,
) -> None:
    """Serve the index over HTTP: a search page at / and a JSON API (/search, /answer, /similar,
    /articles/ID, /saved, /saved/NAME/run, /saved/NAME.atom, /status; /openapi.json describes it).

    The index is opened and the model loaded once; a newly committed generation (byline index
    add) is picked up without a restart. While it runs, `byline search` on the same index asks it
    (use --no-server to skip).

    [bold]Examples[/bold]

      byline serve

      byline serve --port 9000 --token "$(openssl rand -hex 16)"

      curl 'http://127.0.0.1:8765/search?q=rail+strike&k=3'
    """
    from index.manifest import IndexProblem
    from search.frontends import http

    if host not in ("127.0.0.1", "localhost", "::1") and token is None:
        typer.echo(f"byline: warning: serving on {host} without --token: anyone who can reach it can search", err=True)
    try:
        http.serve(index_dir(index), model, host, port, token, allow_index)
    except (IndexProblem, http.UnsafeOptions) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


@app.command("mcp")
def mcp_command(
    http: Annotated[Optional[int], typer.Option("--http", metavar="PORT", help="Serve streamable HTTP on 127.0.0.1:PORT (at /mcp) instead of stdio.", show_default=False)] = None,
    allow_index: Annotated[bool, typer.Option("--allow-index", help="Also expose the index_add tool (the server is read-only without it).")] = False,
    index: IndexOpt = None,
    model: ModelOpt = None,
) -> None:
    """Serve the index to AI assistants over the Model Context Protocol (stdio by default).

    Tools: search, answer, get_article, similar, saved_list, saved_run, status (and index_add with
    --allow-index). Add it to an MCP client's configuration, e.g.:

      {"mcpServers": {"byline": {"command": "byline",
                                 "args": ["mcp", "--index", "/home/me/news-index"]}}}

    [bold]Examples[/bold]

      byline mcp --index ~/news-index

      byline mcp --http 8765
    """
    from index.manifest import IndexProblem
    from search.frontends import mcp_server

    if http is not None and not 0 < http < 65536:
        fail("--http takes a port number between 1 and 65535")
    if http is not None and allow_index:
        # MCP over HTTP has no token here: any local process could index files through it.
        fail("--allow-index is for stdio only: over --http any local process could reach index_add; "
             "run `byline mcp --allow-index` from the assistant's configuration instead")
    try:
        mcp_server.run(index_dir(index), model, allow_index, http)
    except IndexProblem as exc:
        fail(str(exc))


app.command()(stories_cli.similar)
app.command()(stories_cli.timeline)

from search.frontends.saved_cli import saved_app  # noqa: E402  (registered after the core commands)
app.add_typer(saved_app, name="saved")


def main() -> None:
    try:
        app()
    except BrokenPipeError:  # outside a command (see BylineGroup): a closed pipe is not an error either
        quiet_stdout()
        sys.exit(0)
