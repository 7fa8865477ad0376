"""`byline search` and `byline show`: query the index (through a running `byline serve` of it
when there is one) and print the results, the answer or an article in full.

Exit status, like grep: 0 when results were found, 1 when none, 2 on usage or index errors.
Heavy modules are imported inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from search.frontends import stories_cli
from search.frontends.cli_common import IndexOpt, ModelOpt, fail, index_dir, output_format, stdout_failed
from search.ranking.fusion import DEFAULT_FUSION


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

            with Engine(root, model) as engine:
                responses = engine.search_many(texts, request, answer_limit=1 if answer else None)
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
        with Engine(index_dir(index)) as engine:
            article = engine.get_article(article_id)
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
